"""connection.py, sync.py and reporting.py: credentials hidden and nothing else, timeouts on every
request, writes in an order that never opens more than before, diffs and warnings."""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import connection, reporting, sync
from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import Cluster, ClusterError

from .standin_client import ApiError, Client, store


def test_only_the_credentials_of_a_dict_kubeconfig_are_hidden():
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "local",
                  "clusters": [{"name": "local", "cluster": {"server": "https://127.0.0.1:6443"}}],
                  "users": [{"name": "admin", "user": {"token": "s3cr3t-token", "client-key-data": "S0VZ"}},
                            {"name": "exec", "user": {"auth-provider": {"config": {"refresh-token": "r3fresh"}}}}]}
    assert sorted(connection._credentials(kubeconfig)) == ["S0VZ", "r3fresh", "s3cr3t-token"]


def test_the_spec_keeps_kubeconfig_visible_and_adds_the_timeout():
    spec = connection.cluster_spec({"namespaces": {"type": "list"}})
    assert spec["kubeconfig"]["no_log"] is False
    assert spec["api_key"].get("no_log") is True
    assert spec["request_timeout"] == {"type": "float", "default": 30.0}


def test_timeouts_connect_is_capped():
    assert connection.request_timeouts(30) == (10.0, 30)
    assert connection.request_timeouts(2) == (2, 2)


def _recording_rest_client(rest, seen):
    class Pool:
        connection_pool_kw = {}

    def fake(self, method, url, headers=None, body=None, post_params=None, _request_timeout=None):
        seen.append(_request_timeout)

    client = rest.RESTClientObject.__new__(rest.RESTClientObject)
    client.pool_manager = Pool()
    return client, fake, Pool


def test_while_connecting_every_request_gets_the_default_timeout_and_the_client_class_is_left_as_it_was():
    rest = pytest.importorskip("kubernetes.client.rest")
    seen = []
    client, fake, pool = _recording_rest_client(rest, seen)
    original = rest.RESTClientObject.request
    try:
        rest.RESTClientObject.request = fake
        with connection._timeouts_while_connecting((5, 5)):
            client.request("GET", "https://x/version")
            client.request("GET", "https://x/version", _request_timeout=(1, 1))
        client.request("GET", "https://x/apis")  # after connecting, the class is not patched
        assert rest.RESTClientObject.request is fake
    finally:
        rest.RESTClientObject.request = original
    assert seen == [(5, 5), (1, 1), None]
    assert pool.connection_pool_kw["retries"].read == 0


def test_one_clients_later_requests_get_the_default_and_no_other_client_does():
    rest = pytest.importorskip("kubernetes.client.rest")
    seen = []
    ours, fake, _pool = _recording_rest_client(rest, seen)
    other, _fake, _other_pool = _recording_rest_client(rest, seen)
    original = rest.RESTClientObject.request
    try:
        rest.RESTClientObject.request = fake
        connection._timeouts_for(type("Dynamic", (), {"client": type("Api", (), {"rest_client": ours})()})(), (7, 7))
        ours.request("GET", "https://x/apis/networking.istio.io/v1")
        other.request("GET", "https://x/apis/networking.istio.io/v1")
    finally:
        rest.RESTClientObject.request = original
    assert seen == [(7, 7), None]


def test_the_cluster_sends_its_timeout_with_every_request():
    client = Client({"Gateway": store({"metadata": {"name": "g", "namespace": "gw"}})})
    cluster = Cluster(client, name="c", request_timeout=(3, 9))
    cluster.list("networking.istio.io/v1", "Gateway", ["gw"])
    cluster.get("networking.istio.io/v1", "Gateway", "g", "gw")
    cluster.exists("networking.istio.io/v1", "Gateway", "g", "gw")
    cluster.apply({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "gw"}},
                  None, live_known=True)
    assert client.timeouts == [(3, 9)] * 4


def test_policies_are_written_before_the_routes_they_guard():
    kinds = ["VirtualService", "Gateway", "AuthorizationPolicy", "ConfigMap", "DestinationRule", "HTTPRoute"]
    ordered = sync.in_write_order([{"kind": k} for k in kinds])
    assert [r["kind"] for r in ordered] == ["AuthorizationPolicy", "DestinationRule", "Gateway", "VirtualService",
                                            "HTTPRoute", "ConfigMap"]


def test_a_failed_write_says_what_was_written_and_what_was_not():
    client = Client({"AuthorizationPolicy": {}, "Gateway": ApiError(403, "denied by policy")})
    cluster = Cluster(client, name="c")
    resources = [{"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "gw"}},
                 {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                  "metadata": {"name": "p", "namespace": "gw"}, "spec": {}}]
    with pytest.raises(sync.PartialWrite) as caught:
        sync.apply_in_order(cluster, resources)
    assert caught.value.written == ["AuthorizationPolicy gw/p"]
    assert caught.value.not_written == ["Gateway gw/g"]
    assert "denied by policy" in str(caught.value) and isinstance(caught.value, ClusterError)


def test_diff_entries_and_capped_warnings():
    entry = reporting.diff_entry(None, {"kind": "Gateway", "metadata": {"name": "g", "namespace": "gw"}})
    assert entry["before"] == "" and "name: g" in entry["after"] and entry["after_header"] == "Gateway gw/g (after)"
    findings = [{"severity": "error", "code": "c", "message": "m", "ingress": "ns/i{0}".format(n), "host": "h"}
                for n in range(reporting.WARNING_LIMIT + 3)]
    findings.append({"severity": "info", "code": "i", "message": "quiet", "ingress": "ns/x"})
    lines = reporting.finding_warnings(findings, "ingress")
    assert len(lines) == reporting.WARNING_LIMIT + 1
    assert lines[0] == "ingress ns/i0 (host h) [error/c]: m"
    assert lines[-1].startswith("... and 3 more findings")


@pytest.mark.parametrize("params,environ,expected", [
    ({"kubeconfig": "/k/a"}, {}, ("/k/a", "the kubeconfig option (adoptmesh_kubeconfig in the playbooks)")),
    ({"kubeconfig": "/k/a"}, {"K8S_AUTH_KUBECONFIG": "/k/a"}, ("/k/a", "the K8S_AUTH_KUBECONFIG environment variable")),
    ({}, {"KUBECONFIG": "/k/b:/k/c"}, ("/k/b", "the KUBECONFIG environment variable")),
    ({"host": "https://10.0.0.1"}, {"KUBECONFIG": "/k/b"}, (None, None)),
    ({"kubeconfig": {"clusters": []}}, {}, (None, None)),
])
def test_the_kubeconfig_read_is_named_with_where_it_came_from(params, environ, expected):
    assert connection.kubeconfig_source(params, environ) == expected


def test_without_any_kubeconfig_the_default_file_is_named():
    path, source = connection.kubeconfig_source({}, {})
    assert path.endswith("/.kube/config") and source.startswith("the default")
