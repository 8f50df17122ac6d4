"""Mesh membership logic: injection labels, coverage, restart plan, the STRICT gate."""

import json

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import mesh
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError


def namespace(name, **labels):
    return {"metadata": {"name": name, "labels": labels}}


def pod(name, ns, injected=False, labels=None, annotations=None, owner=None, host_network=False, phase="Running"):
    metadata = {"name": name, "namespace": ns, "labels": dict(labels or {}), "annotations": dict(annotations or {})}
    if injected:
        metadata["annotations"][mesh.SIDECAR_STATUS] = "{}"
    if owner:
        kind, owner_name = owner.split("/")
        metadata["ownerReferences"] = [{"kind": kind, "name": owner_name, "controller": True}]
    return {"metadata": metadata, "spec": {"hostNetwork": host_network}, "status": {"phase": phase}}


@pytest.mark.parametrize("labels,revision,patch", [
    ({}, None, {"istio-injection": "enabled"}),
    ({"istio-injection": "enabled"}, None, None),
    # Already on a revision and none asked for: left alone (moving it would change the injector).
    ({"istio.io/rev": "1-29"}, None, None),
    ({"istio.io/rev": "1-29"}, "default", {"istio-injection": "enabled", "istio.io/rev": None}),
    ({"istio-injection": "enabled"}, "1-30", {"istio.io/rev": "1-30", "istio-injection": None}),
    ({"istio.io/rev": "1-30"}, "1-30", None),
    ({}, "default", {"istio-injection": "enabled"}),
])
def test_namespace_label_patch_is_revision_aware_and_idempotent(labels, revision, patch):
    assert mesh.namespace_label_patch(namespace("shop", **labels), revision) == patch


def test_disabling_removes_both_labels():
    assert mesh.namespace_label_patch(namespace("shop", **{"istio-injection": "enabled"}), enabled=False) == {
        "istio-injection": None}
    assert mesh.namespace_label_patch(namespace("shop"), enabled=False) is None


def test_first_labelling_records_the_labels_before_and_restoring_puts_them_back():
    before = namespace("shop", team="a", **{"istio-injection": "disabled"})
    labelled = dict(before, metadata=mesh.labelled_metadata(before, "1-30"))
    assert labelled["metadata"]["labels"] == {"team": "a", "istio.io/rev": "1-30"}
    assert json.loads(labelled["metadata"]["annotations"][mesh.LABELS_BEFORE]) == {
        "istio-injection": "disabled", "istio.io/rev": None}
    # A later move (another revision) keeps the first record.
    moved = dict(labelled, metadata=mesh.labelled_metadata(labelled, "1-31"))
    assert moved["metadata"]["annotations"] == labelled["metadata"]["annotations"]
    restored = mesh.labelled_metadata(moved, state="restored")
    assert restored["labels"] == {"team": "a", "istio-injection": "disabled"}
    assert mesh.LABELS_BEFORE not in restored["annotations"]
    assert mesh.labelled_metadata(dict(moved, metadata=restored), state="restored") is None


def test_namespaces_without_a_record_or_already_labelled_are_not_touched():
    assert mesh.labelled_metadata(namespace("shop", **{"istio-injection": "enabled"})) is None
    assert mesh.labelled_metadata(namespace("shop", **{"istio-injection": "enabled"}), state="restored") is None


def test_a_record_that_is_not_ours_fails_naming_the_namespace():
    broken = {"metadata": {"name": "shop", "labels": {}, "annotations": {mesh.LABELS_BEFORE: "{oops"}}}
    with pytest.raises(InputError, match=r"Namespace shop: metadata.annotations\[adoptmesh.istio/injection-labels-before\]: is not the JSON"):
        mesh.labelled_metadata(broken, state="restored")


def test_select_namespaces_refuses_system_ones_and_reports_missing():
    chosen, refused, missing = mesh.select_namespaces(
        [namespace("shop"), namespace("kube-system"), namespace("istio-ingress")],
        ["shop", "kube-system", "ghost"], ["istio-ingress"], protected=["istio-ingress"])
    assert [n["metadata"]["name"] for n in chosen] == ["shop"]
    assert [r["namespace"] for r in refused] == ["kube-system", "istio-ingress"]
    assert missing == ["ghost"]


@pytest.mark.parametrize("the_pod,ns,expected", [
    (pod("a", "shop", injected=True), namespace("shop", **{"istio-injection": "enabled"}), (True, None)),
    (pod("a", "shop", host_network=True), namespace("shop", **{"istio-injection": "enabled"}),
     (False, "hostNetwork pods are never injected")),
    (pod("a", "shop", labels={"sidecar.istio.io/inject": "false"}), namespace("shop", **{"istio-injection": "enabled"}),
     (False, "the pod opts out (sidecar.istio.io/inject: false)")),
    (pod("a", "shop"), namespace("shop"), (False, "its namespace is not labelled for injection")),
    (pod("a", "shop"), namespace("shop", **{"istio-injection": "disabled"}), (False, "its namespace is not labelled for injection")),
    (pod("a", "shop"), namespace("shop", **{"istio.io/rev": "1-30"}),
     (False, "created before injection was enabled: restart its workload")),
])
def test_why_a_pod_has_no_sidecar(the_pod, ns, expected):
    assert mesh.pod_sidecar(the_pod, ns) == expected


def test_coverage_and_restart_plan():
    namespaces = [namespace("shop", **{"istio-injection": "enabled"}), namespace("batch")]
    pods = [
        pod("web-abc-1", "shop", injected=True, labels={"pod-template-hash": "abc"}, owner="ReplicaSet/web-abc"),
        pod("api-def-1", "shop", labels={"pod-template-hash": "def"}, owner="ReplicaSet/api-def"),
        pod("db-0", "shop", owner="StatefulSet/db"),
        pod("job-1", "shop", owner="Job/report", phase="Succeeded"),
        pod("loose", "shop"),
        pod("x", "batch", owner="Job/x"),
    ]
    report = mesh.coverage(namespaces, pods)
    assert report["shop"]["pods"] == 4 and report["shop"]["with_sidecar"] == 1 and report["shop"]["coverage"] == 25.0
    assert [p["owner"] for p in report["shop"]["without_sidecar"]] == ["Deployment/api", "StatefulSet/db", None]
    assert mesh.workloads_to_restart(report) == {"shop": ["Deployment/api", "StatefulSet/db"]}


def rollout(kind="Deployment", generation=2, observed=2, replicas=2, conditions=(), **status):
    return {"kind": kind, "metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": dict(status, observedGeneration=observed, conditions=list(conditions))}


DEADLINE = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "api-7c" has timed out progressing.'}


@pytest.mark.parametrize("workload,complete,failure", [
    (rollout(observed=1, updatedReplicas=2, availableReplicas=2, replicas=2), False, None),  # not seen yet
    (rollout(updatedReplicas=1, availableReplicas=2, replicas=3), False, None),
    (rollout(updatedReplicas=2, availableReplicas=2, replicas=3), False, None),  # old pod still terminating
    (rollout(updatedReplicas=2, availableReplicas=2, replicas=2), True, None),
    (rollout(updatedReplicas=1, availableReplicas=2, replicas=3, conditions=[DEADLINE]), False, "timed out"),
    (rollout("StatefulSet", updatedReplicas=2, readyReplicas=2, currentRevision="a", updateRevision="b"), False, None),
    (rollout("StatefulSet", updatedReplicas=2, readyReplicas=2, currentRevision="b", updateRevision="b"), True, None),
    (rollout("DaemonSet", desiredNumberScheduled=2, updatedNumberScheduled=2, numberAvailable=1), False, None),
    (rollout("DaemonSet", desiredNumberScheduled=2, updatedNumberScheduled=2, numberAvailable=2), True, None),
])
def test_rollout_state_judges_as_kubectl_rollout_status(workload, complete, failure):
    done, reason = mesh.rollout_state(workload)
    assert done is complete
    assert (reason is None) if failure is None else (failure in reason and "progress deadline" in reason)


def test_peer_authentication_modes_namespace_and_mesh_wide():
    items = [
        {"metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "PERMISSIVE"}}},
        {"metadata": {"name": "default", "namespace": "shop"}, "spec": {"mtls": {"mode": "STRICT"}}},
        {"metadata": {"name": "probe-ports", "namespace": "shop"},
         "spec": {"selector": {"matchLabels": {"a": "b"}}, "mtls": {"mode": "DISABLE"}}},
    ]
    assert mesh.peer_authentication_modes(items) == {None: "PERMISSIVE", "shop": "STRICT"}


@pytest.mark.parametrize("host,mode,rule_namespace,hit", [
    ("web.shop.svc.cluster.local", "DISABLE", "other", True),
    ("web.shop.svc.cluster.local", "ISTIO_MUTUAL", "other", False),
    ("web", "SIMPLE", "shop", True),
    ("*.shop.svc.cluster.local", "DISABLE", "other", True),
    ("web.payments.svc.cluster.local", "DISABLE", "other", False),
    ("*", "DISABLE", "other", True),
    # The classic "mTLS off mesh-wide" rules: Istio's wildcard matching covers every namespace.
    ("*.local", "DISABLE", "istio-system", True),
    ("*.svc.cluster.local", "DISABLE", "istio-system", True),
    ("*.cluster.local", "SIMPLE", "istio-system", True),
    ("*.shop.svc.cluster.local", "DISABLE", "other", True),
    ("*.payments.svc.cluster.local", "DISABLE", "other", False),
    ("*.hop.svc.cluster.local", "DISABLE", "other", False),
    ("*.example.com", "DISABLE", "other", False),
    # A short name is a Service of the rule's namespace; a dotted name is taken as is.
    ("web", "DISABLE", "other", False),
    ("web.shop", "DISABLE", "other", False),
    ("web.shop.svc.cluster.local", "MUTUAL", "other", True),
])
def test_destination_rules_that_break_strict(host, mode, rule_namespace, hit):
    rule = {"metadata": {"name": "r", "namespace": rule_namespace},
            "spec": {"host": host, "trafficPolicy": {"tls": {"mode": mode}}}}
    assert bool(mesh.tls_disabling_rules([rule], "shop")) is hit


def test_strict_decision_lists_every_reason_and_force_overrides():
    entry = {"injection": True, "without_sidecar": [{"pod": "p", "reason": "opted out"}]}
    probes = [{"probe": "readinessProbe", "workload": "shop/Deployment/web", "container": "web", "reason": "host set"}]
    decision = mesh.strict_decision("shop", entry, probes, ["shop/r"])
    assert not decision["strict"] and len(decision["reasons"]) == 3
    forced = mesh.strict_decision("shop", entry, probes, [], force=True)
    assert forced["strict"] and forced["forced"]
    clean = mesh.strict_decision("shop", {"injection": True, "without_sidecar": []}, [], [])
    assert clean == {"namespace": "shop", "strict": True, "forced": False, "reasons": []}


@pytest.mark.parametrize("port,declared", [
    ({"name": "http", "port": 80}, True), ({"name": "grpc-api", "port": 9090}, True), ({"name": "tcp-db", "port": 1}, True),
    ({"name": "web", "port": 80}, False), ({"port": 9000}, False), ({"name": "db", "appProtocol": "mysql", "port": 3306}, True),
    ({"name": "x", "appProtocol": "kubernetes.io/h2c", "port": 1}, True), ({"name": "httpx", "port": 1}, False),
])
def test_service_ports_without_a_protocol(port, declared):
    service = {"metadata": {"name": "s", "namespace": "shop"}, "spec": {"ports": [port]}}
    assert (mesh.services_without_protocol([service]) == []) is declared


def test_jobs_that_may_not_finish_once_meshed():
    namespaces = [namespace("batch", **{"istio-injection": "enabled"}), namespace("plain")]
    jobs = [
        {"kind": "Job", "metadata": {"name": "report", "namespace": "batch"}, "spec": {"template": {}}},
        {"kind": "Job", "metadata": {"name": "optout", "namespace": "batch"},
         "spec": {"template": {"metadata": {"labels": {"sidecar.istio.io/inject": "false"}}}}},
        {"kind": "CronJob", "metadata": {"name": "nightly", "namespace": "batch"},
         "spec": {"jobTemplate": {"spec": {"template": {}}}}},
        {"kind": "Job", "metadata": {"name": "nightly-1", "namespace": "batch",
                                     "ownerReferences": [{"kind": "CronJob", "name": "nightly"}]}, "spec": {}},
        {"kind": "Job", "metadata": {"name": "elsewhere", "namespace": "plain"}, "spec": {"template": {}}},
    ]
    assert mesh.jobs_that_may_not_finish(jobs, namespaces) == ["batch/CronJob/nightly", "batch/Job/report"]


def test_jobs_in_namespaces_about_to_be_meshed_are_reported_before_labelling():
    job = {"kind": "Job", "metadata": {"name": "report", "namespace": "plain"}, "spec": {"template": {}}}
    assert mesh.jobs_that_may_not_finish([job], [namespace("plain")]) == []
    assert mesh.jobs_that_may_not_finish([job], [namespace("plain")], to_be_meshed=["plain"]) == ["plain/Job/report"]


def test_subset_and_port_level_tls_count_too():
    rule = {"metadata": {"name": "r", "namespace": "shop"},
            "spec": {"host": "web", "subsets": [{"name": "v1", "trafficPolicy": {"portLevelSettings": [
                {"port": {"number": 80}, "tls": {"mode": "DISABLE"}}]}}]}}
    assert mesh.tls_disabling_rules([rule], "shop") == ["shop/r"]


def test_unverified_reads_keep_a_namespace_out():
    decision = mesh.strict_decision("shop", {"injection": True, "without_sidecar": []}, [], [],
                                    unverified=["cannot list DestinationRules: forbidden"])
    assert not decision["strict"]
    assert decision["reasons"] == ["could not verify: cannot list DestinationRules: forbidden"]


def _entry(injection=True, with_sidecar=1, mode=None):
    return {"injection": injection, "with_sidecar": with_sidecar, "without_sidecar": [], "mtls_mode": mode}


def test_mesh_wide_strict_waits_for_every_meshed_namespace_that_would_inherit_it():
    report = {"shop": _entry(), "legacy": _entry(), "own-permissive": _entry(), "plain": _entry(False, 0),
              "strict-already": _entry()}
    modes = {"own-permissive": "PERMISSIVE", "strict-already": "STRICT"}
    decisions = [{"namespace": "shop", "strict": True, "reasons": []},
                 {"namespace": "legacy", "strict": False, "reasons": ["probe would fail"]},
                 {"namespace": "own-permissive", "strict": False, "reasons": ["x"]}]
    blockers = mesh.mesh_wide_blockers(report, modes, decisions)
    assert blockers == [{"namespace": "legacy", "reasons": ["probe would fail"]}]
    # A meshed namespace nobody evaluated blocks too.
    assert mesh.mesh_wide_blockers({"other": _entry()}, {}, []) == [{"namespace": "other", "reasons": ["not checked"]}]
    assert mesh.mesh_wide_blockers(report, modes, decisions[:1] + [dict(decisions[1], strict=True)]) == []


def test_ingress_gateway_pods_are_not_meshed_workloads():
    """An ingress gateway's proxy (Istio's gateway template) is not governed by PeerAuthentication:
    a gateway namespace must neither count as meshed nor block mesh-wide STRICT."""
    gateway = pod("gw-1", "istio-ingress", injected=True, annotations={"inject.istio.io/templates": "gateway"})
    router = pod("gw-2", "istio-ingress", injected=True)
    router["spec"] = {"containers": [{"name": "istio-proxy", "args": ["proxy", "router", "--domain", "x"]}]}
    report = mesh.coverage([namespace("istio-ingress")], [gateway, router])
    assert report["istio-ingress"]["pods"] == 0 and report["istio-ingress"]["with_sidecar"] == 0
    assert mesh.mesh_wide_blockers(report, {}, []) == []
    assert not mesh.is_gateway_proxy(pod("web-1", "shop", injected=True))


def webhook(revision, tag=None):
    labels = {"istio.io/rev": revision}
    if tag:
        labels["istio.io/tag"] = tag
    return {"metadata": {"name": "w", "labels": labels}}


def injected(name, ns, revision, owner):
    return pod(name, ns, annotations={mesh.SIDECAR_STATUS: "{}", "istio.io/rev": revision}, owner=owner,
               labels={"pod-template-hash": "5d4f8c"})


def test_tags_resolve_to_their_revision_and_default_to_the_default_tag():
    names = mesh.revision_tags([webhook("1-30"), webhook("1-31"), webhook("1-31", "canary"),
                                webhook("1-30", "default"), {"metadata": {"labels": {}}}])
    assert names == {"1-30": "1-30", "1-31": "1-31", "canary": "1-31", "default": "1-30"}
    assert mesh.serving_revision(namespace("a", **{"istio-injection": "enabled"}), names) == "1-30"
    assert mesh.serving_revision(namespace("a", **{"istio.io/rev": "canary"}), names) == "1-31"
    # istio-injection wins over istio.io/rev, and "disabled" means no injection at all.
    assert mesh.serving_revision(namespace("a", **{"istio-injection": "disabled", "istio.io/rev": "1-31"}), names) is None
    assert mesh.serving_revision(namespace("a"), names) is None


def test_sidecar_revision_reads_the_injector_annotation_then_the_status():
    assert mesh.sidecar_revision(injected("p", "a", "1-31", "ReplicaSet/web-1")) == "1-31"
    assert mesh.sidecar_revision(pod("p", "a", annotations={mesh.SIDECAR_STATUS: '{"revision": "1-30"}'})) == "1-30"
    assert mesh.sidecar_revision(pod("p", "a", injected=True)) == "default"
    assert mesh.sidecar_revision(pod("p", "a")) is None


def test_stale_sidecars_are_those_of_another_revision_or_an_unlabelled_namespace():
    names = {"1-30": "1-30", "1-31": "1-31", "canary": "1-31"}
    namespaces = [namespace("moved", **{"istio.io/rev": "canary"}), namespace("home", **{"istio.io/rev": "1-30"}),
                  namespace("left")]
    pods = [injected("a-1", "moved", "1-30", "ReplicaSet/api-5d4f8c"),
            injected("b-1", "moved", "1-31", "ReplicaSet/ok-5d4f8c"),
            injected("c-1", "home", "1-30", "ReplicaSet/web-5d4f8c"), injected("d-1", "left", "1-30", "StatefulSet/db"),
            pod("e-1", "left", owner="ReplicaSet/plain-5d4f8c"),
            dict(injected("f-1", "left", "1-30", "ReplicaSet/opt-5d4f8c"),
                 metadata=dict(injected("f-1", "left", "1-30", "ReplicaSet/opt-5d4f8c")["metadata"],
                               labels={"sidecar.istio.io/inject": "true", "pod-template-hash": "5d4f8c"}))]
    assert mesh.stale_sidecars(namespaces, pods, names) == {"left": ["StatefulSet/db"], "moved": ["Deployment/api"]}


def test_coverage_counts_sidecars_per_revision():
    report = mesh.coverage([namespace("a", **{"istio.io/rev": "1-31"})],
                           [injected("p1", "a", "1-30", None), injected("p2", "a", "1-31", None),
                            injected("p3", "a", "1-31", None)])
    assert report["a"]["revisions"] == {"1-30": 1, "1-31": 2}


def test_a_revision_is_in_use_through_pods_namespaces_or_tags():
    names = {"default": "default", "1-31": "1-31", "canary": "1-31"}
    namespaces = [namespace("shop", **{"istio.io/rev": "canary"}), namespace("pay", **{"istio-injection": "enabled"}),
                  namespace("off")]
    pods = [injected("a", "shop", "default", None), injected("b", "shop", "1-31", None),
            dict(injected("c", "off", "default", None), status={"phase": "Succeeded"})]
    assert mesh.revision_users("default", namespaces, pods, names) == {"pods": ["shop/a"], "namespaces": ["pay"],
                                                                       "tags": []}
    assert mesh.revision_users("1-31", namespaces, pods, names) == {"pods": ["shop/b"], "namespaces": ["shop"],
                                                                    "tags": ["canary"]}
    assert mesh.revision_users("1-30", namespaces, pods, names) == {"pods": [], "namespaces": [], "tags": []}
