"""The STRICT gate over a cluster's objects (mesh_cluster.strict_gate), through the real Cluster
class on a stand-in client: what it reads, what it refuses to assume."""

import json

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import Cluster, ClusterError
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import rewrite_setting, strict_gate

from .standin_client import ApiError, Client, store


def namespace(name, injected=True):
    return {"metadata": {"name": name, "labels": {"istio-injection": "enabled"} if injected else {}}}


def pod(name, ns, probe_host=None, owner=None, sidecar=True, rewritten=None):
    # As Istio's injector leaves it: with the rewrite on, the probe points at the agent, any host kept.
    rewritten = sidecar if rewritten is None else rewritten
    probe = {"httpGet": {"path": "/app-health/app/readyz", "port": 15020} if rewritten else
             {"path": "/ready", "port": 8080}}
    if probe_host:
        probe["httpGet"]["host"] = probe_host
    metadata = {"name": name, "namespace": ns, "annotations": {"sidecar.istio.io/status": "{}"} if sidecar else {}}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"kind": "Pod", "metadata": metadata, "status": {"phase": "Running"},
            "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 8080}], "readinessProbe": probe}]}}


def deployment(name, ns, probe_host=None):
    template = pod(name, ns, probe_host, sidecar=False)
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": template["spec"]}}}


def injector(rewrite=True):
    return {"metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
            "data": {"values": json.dumps({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": rewrite}})}}


def cluster_of(namespaces, pods=(), deployments=(), rules=(), policies=(), configmaps=(injector(),), **overrides):
    kinds = {"Namespace": store(*namespaces), "Pod": store(*pods), "Service": {}, "Job": {}, "CronJob": {},
             "Deployment": store(*deployments), "StatefulSet": {}, "DaemonSet": {}, "ReplicaSet": {},
             "PeerAuthentication": store(*policies), "DestinationRule": store(*rules), "ConfigMap": store(*configmaps)}
    kinds.update(overrides)
    return Cluster(Client(kinds), name="test")


def decisions_by_name(decisions):
    return dict((d["namespace"], d) for d in decisions)


def test_mesh_wide_strict_names_an_unlisted_injected_namespace_with_a_breaking_probe():
    cluster = cluster_of([namespace("shop"), namespace("legacy")],
                         pods=[pod("web", "shop"), pod("old", "legacy", probe_host="db.example")])
    status, decisions, blockers, dummy = strict_gate(cluster, ["shop"], mesh_wide=True)
    by_name = decisions_by_name(decisions)
    assert by_name["shop"]["strict"] and by_name["shop"]["listed"]
    assert not by_name["legacy"]["strict"] and not by_name["legacy"]["listed"]
    assert [b["namespace"] for b in blockers] == ["legacy"]
    assert "httpGet.host" in blockers[0]["reasons"][0]


def test_a_bare_pod_with_a_breaking_probe_keeps_its_namespace_out():
    cluster = cluster_of([namespace("shop")], pods=[pod("web", "shop"), pod("debug", "shop", probe_host="x")],
                         deployments=[deployment("web", "shop")])
    dummy, decisions, dummy_blockers, dummy_policies = strict_gate(cluster, ["shop"])
    assert not decisions[0]["strict"]
    assert any("shop/Pod/debug" in reason for reason in decisions[0]["reasons"])


def test_a_pod_older_than_its_fixed_template_still_counts():
    cluster = cluster_of([namespace("shop")], deployments=[deployment("web", "shop")],
                         pods=[pod("web-1", "shop", probe_host="x", owner=("ReplicaSet", "web-abc"))])
    decision = strict_gate(cluster, ["shop"])[1][0]
    assert not decision["strict"] and "shop/Pod/web-1" in decision["reasons"][0]


def test_a_denied_destination_rule_list_keeps_every_namespace_out_and_names_the_read():
    cluster = cluster_of([namespace("shop")], pods=[pod("web", "shop")],
                         DestinationRule=ApiError(403, 'destinationrules.networking.istio.io is forbidden'))
    decision = strict_gate(cluster, ["shop"])[1][0]
    assert not decision["strict"]
    assert decision["reasons"][0].startswith("could not verify: cluster test: cannot list networking.istio.io/v1 "
                                             "DestinationRule")
    assert "forbidden" in decision["reasons"][0]


def test_destination_rules_not_served_mean_none():
    cluster = cluster_of([namespace("shop")], pods=[pod("web", "shop")])
    del cluster.client.kinds["DestinationRule"]
    assert strict_gate(cluster, ["shop"])[1][0]["strict"]


def test_a_star_local_rule_keeps_every_namespace_it_covers_out():
    rule = {"metadata": {"name": "mtls-off", "namespace": "istio-system"},
            "spec": {"host": "*.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
    cluster = cluster_of([namespace("shop"), namespace("payments")],
                         pods=[pod("web", "shop"), pod("api", "payments")], rules=[rule])
    decisions = strict_gate(cluster, ["shop", "payments"])[1]
    assert [d["strict"] for d in decisions] == [False, False]
    assert all("istio-system/mtls-off" in d["reasons"][0] for d in decisions)


def test_the_rewrite_setting_is_read_from_the_installed_injector():
    off = cluster_of([namespace("shop")], pods=[pod("web", "shop", rewritten=False)],
                     configmaps=[injector(rewrite=False)])
    decision = strict_gate(off, ["shop"])[1][0]
    assert not decision["strict"] and "rewrite is disabled" in decision["reasons"][0]
    assert rewrite_setting(off, "istio-system") == (False, None)


def test_no_injector_configuration_means_could_not_verify():
    cluster = cluster_of([namespace("shop")], pods=[pod("web", "shop")], configmaps=[])
    decision = strict_gate(cluster, ["shop"])[1][0]
    assert not decision["strict"]
    assert decision["reasons"] == ["could not verify: the probe rewrite setting of Istio: ConfigMap "
                                   "istio-system/istio-sidecar-injector not found"]
    # Said explicitly, the setting is used as given.
    assert strict_gate(cluster, ["shop"], rewrite_default=True)[1][0]["strict"]


def test_a_failing_pod_list_fails_the_gate_outright():
    cluster = cluster_of([namespace("shop")], Pod=ApiError(403, "pods is forbidden"))
    with pytest.raises(ClusterError, match="cannot list v1 Pod in the cluster: pods is forbidden"):
        strict_gate(cluster, ["shop"])


def test_an_unknown_namespace_is_an_error():
    with pytest.raises(ClusterError, match="namespace.s. not found: ghost"):
        strict_gate(cluster_of([namespace("shop")]), ["ghost"])


def test_mesh_wide_strict_waits_for_pods_outside_the_mesh_unless_their_namespace_does_not_call_it():
    cluster = cluster_of([namespace("shop"), namespace("batch", injected=False), namespace("empty", injected=False)],
                         pods=[pod("web", "shop")] + [pod("job-{0}".format(n), "batch", sidecar=False) for n in range(7)])
    dummy, decisions, blockers, dummy_policies = strict_gate(cluster, ["shop"], mesh_wide=True)
    assert decisions_by_name(decisions)["shop"]["strict"]
    assert [b["namespace"] for b in blockers] == ["batch"]
    assert len(blockers[0]["unmeshed_pods"]) == 7
    assert "7 running pod(s) without a sidecar (job-0, job-1" in blockers[0]["reasons"][0]
    assert "and 2 more" in blockers[0]["reasons"][0]
    assert strict_gate(cluster, ["shop"], mesh_wide=True, not_calling_mesh=["batch"])[2] == []
    # Per namespace STRICT does not wait for them: only the mesh-wide policy reaches every namespace.
    assert strict_gate(cluster, ["shop"])[2] == []


def test_an_uninjected_pod_in_a_meshed_namespace_with_its_own_permissive_policy_still_holds_mesh_wide_strict():
    permissive = {"kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "shop"},
                  "spec": {"mtls": {"mode": "PERMISSIVE"}}}
    cluster = cluster_of([namespace("shop")], pods=[pod("web", "shop"), pod("old", "shop", sidecar=False)],
                         policies=[permissive])
    blockers = strict_gate(cluster, [], mesh_wide=True)[2]
    assert [(b["namespace"], b.get("unmeshed_pods")) for b in blockers] == [("shop", ["old"])]
