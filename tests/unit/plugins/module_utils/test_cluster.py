"""cluster.py: errors that name the cluster and tell NotFound apart, apply's `changed`, the record
of what was written. The client here is a stand-in with the dynamic client's call shapes; the
real API server's answers are covered by the integration tier."""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import cluster as cluster_module
from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import Cluster, ClusterError, differs

from .standin_client import ApiError, Client


def policy(mode, rv="1"):
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "shop", "resourceVersion": rv, "uid": "u1"},
            "spec": {"mtls": {"mode": mode}}}


def test_a_kind_that_is_not_served_is_not_found_and_named():
    cluster = Cluster(Client({}), name="prod-eu-1")
    with pytest.raises(ClusterError) as caught:
        cluster.list("security.istio.io/v1", "PeerAuthentication")
    assert caught.value.not_found
    assert "cluster prod-eu-1" in str(caught.value) and "PeerAuthentication" in str(caught.value)
    assert cluster.list("security.istio.io/v1", "PeerAuthentication", missing_ok=True) == []


@pytest.mark.parametrize("error", [ApiError(403, "destinationrules is forbidden: User \"ro\" cannot list"),
                                   ApiError(500, "etcdserver: request timed out"),
                                   TimeoutError("Read timed out. (read timeout=2)")])
def test_a_failed_list_is_an_error_never_an_empty_list_even_with_missing_ok(error):
    cluster = Cluster(Client({"DestinationRule": error}), name="prod-eu-1")
    with pytest.raises(ClusterError) as caught:
        cluster.list("networking.istio.io/v1", "DestinationRule", missing_ok=True)
    message = str(caught.value)
    assert not caught.value.not_found
    assert message.startswith("cluster prod-eu-1: cannot list networking.istio.io/v1 DestinationRule in the cluster")
    assert ("forbidden" in message) or ("timed out" in message)


class StaleDiscoveryClient(Client):
    """Discovery cached while a kind was served; the API server has removed it since."""

    def __init__(self, kinds, removed):
        super(StaleDiscoveryClient, self).__init__(dict(kinds, **dict((k, ApiError(404, "404 page not found"))
                                                                      for k in removed)))
        self.removed = removed
        self.invalidated = 0

    def invalidate_cache(self):
        self.invalidated += 1
        for kind in self.removed:
            self.kinds.pop(kind, None)


def test_a_kind_removed_since_discovery_was_cached_is_asked_again_and_reads_as_not_served():
    client = StaleDiscoveryClient({}, ["PeerAuthentication"])
    cluster = Cluster(client, name="prod-eu-1")
    assert cluster.list("security.istio.io/v1", "PeerAuthentication", missing_ok=True) == []
    assert client.invalidated == 1
    with pytest.raises(ClusterError, match="cluster prod-eu-1: the API server does not serve security.istio.io/v1 "
                       "PeerAuthentication") as caught:
        Cluster(StaleDiscoveryClient({}, ["PeerAuthentication"]), name="prod-eu-1").list(
            "security.istio.io/v1", "PeerAuthentication")
    assert caught.value.not_found


def test_a_kind_that_still_answers_404_after_discovery_is_asked_again_is_not_asked_a_third_time():
    client = Client({"PeerAuthentication": ApiError(404, "404 page not found")})
    client.invalidated = 0

    def invalidate_cache():
        client.invalidated += 1
    client.invalidate_cache = invalidate_cache
    with pytest.raises(ClusterError, match="cannot list security.istio.io/v1 PeerAuthentication in the cluster: "
                       "404 page not found"):
        Cluster(client, name="c").list("security.istio.io/v1", "PeerAuthentication")
    assert client.invalidated == 1


def test_get_is_none_only_for_not_found():
    cluster = Cluster(Client({"ConfigMap": {}}), name="c")
    assert cluster.get("v1", "ConfigMap", "x", "ns") is None
    denied = Cluster(Client({"ConfigMap": ApiError(403, "forbidden")}), name="c")
    with pytest.raises(ClusterError, match="cluster c: cannot read ConfigMap ns/x: forbidden"):
        denied.get("v1", "ConfigMap", "x", "ns")


def test_apply_always_sends_and_tells_change_from_the_answer():
    client = Client({"PeerAuthentication": {("shop", "default"): policy("STRICT")}})
    cluster = Cluster(client, name="c")
    desired = dict(policy("STRICT"))
    desired["metadata"] = {"name": "default", "namespace": "shop"}
    changed, before, after = cluster.apply(desired)
    assert not changed and len(client.applied) == 1, "the apply is sent even when nothing differs"
    assert cluster.written == []
    changed, before, after = cluster.apply(dict(desired, spec={"mtls": {"mode": "PERMISSIVE"}}))
    assert changed and after["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert cluster.written == ["PeerAuthentication shop/default"]


def test_apply_with_the_listed_object_reads_nothing_and_check_mode_is_a_dry_run():
    client = Client({"PeerAuthentication": {}})
    cluster = Cluster(client, name="c", dry_run=True)
    reads = []
    cluster.get = lambda *args: reads.append(args)
    changed, before, after = cluster.apply(policy("STRICT"), live=None, live_known=True)
    assert changed and before is None and reads == []
    assert client.applied[0][1]["dry_run"] == "All"


def test_a_dropped_field_counts_as_a_change():
    live = dict(policy("STRICT"), spec={"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8080": {"mode": "DISABLE"}}})
    assert differs(live, policy("STRICT", rv="7"))
    assert not differs(policy("STRICT", rv="1"), policy("STRICT", rv="9"))
    assert differs(None, policy("STRICT"))


def test_reasons_read_the_api_message_and_say_when_nothing_answered():
    assert cluster_module._reason(ApiError(403, "forbidden")) == "forbidden"
    text = cluster_module._reason(TimeoutError("HTTPSConnectionPool: Read timed out. (read timeout=2.0)"))
    assert text.startswith("no answer within the request timeout") and "read timeout=2.0" in text
