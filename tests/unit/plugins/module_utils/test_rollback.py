"""Which PeerAuthentications a rollback deletes, sets back to PERMISSIVE, or leaves alone."""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import rollback


def policy(namespace, mode, managers, ours=True):
    labels = {"app.kubernetes.io/managed-by": "adoptmesh.istio"} if ours else {}
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": namespace, "labels": labels,
                         "managedFields": [{"manager": m, "operation": "Apply"} for m in managers]},
            "spec": {"mtls": {"mode": mode}}}


def test_only_policies_the_collection_alone_wrote_are_deleted():
    steps = rollback.peer_authentication_steps([
        policy("shop", "STRICT", ["adoptmesh-istio"]),
        policy("pay", "STRICT", ["kubectl-client-side-apply", "adoptmesh-istio"]),
        policy("ops", "PERMISSIVE", ["kubectl", "adoptmesh-istio"]),
        policy("user", "STRICT", ["kubectl"], ours=False),
    ], "adoptmesh-istio")
    assert [(p["metadata"]["namespace"], action) for p, action, reason in steps] == [
        ("shop", "delete"), ("pay", "permissive"), ("ops", "keep")]
    assert "kubectl-client-side-apply" in steps[1][2]


def test_the_permissive_apply_carries_the_mode_alone():
    applied = rollback.permissive_policy(policy("pay", "STRICT", ["kubectl"]))
    assert applied["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert "labels" not in applied["metadata"]


def test_scope_selectors_need_both_labels():
    assert rollback.scope_selector("gateways") == "app.kubernetes.io/managed-by=adoptmesh.istio,adoptmesh.istio/gateway"
    assert rollback.scope_selector("egress") == "app.kubernetes.io/managed-by=adoptmesh.istio,adoptmesh.istio/egress"


def test_helm_ownership_marks_objects_once_and_never_takes_another_release_s():
    from ansible_collections.adoptmesh.istio.plugins.module_utils import helm_ownership as own

    istioctl_made = {"kind": "ConfigMap", "metadata": {"name": "istio", "labels": {"app": "istiod"},
                                                       "annotations": {"other": "kept"}}}
    metadata = own.ownership_metadata(istioctl_made, "istiod", "istio-system")
    assert metadata["labels"] == {"app": "istiod", "app.kubernetes.io/managed-by": "Helm"}
    assert metadata["annotations"] == {"other": "kept", "meta.helm.sh/release-name": "istiod",
                                       "meta.helm.sh/release-namespace": "istio-system"}
    assert own.ownership_metadata({"kind": "ConfigMap", "metadata": metadata}, "istiod", "istio-system") is None
    other = {"kind": "ConfigMap", "metadata": {"name": "istio", "annotations": {
        "meta.helm.sh/release-name": "mesh", "meta.helm.sh/release-namespace": "ops"}}}
    with pytest.raises(own.OwnedElsewhere, match="ConfigMap istio belongs to Helm release ops/mesh"):
        own.ownership_metadata(other, "istiod", "istio-system")


def test_outbound_ranges_are_set_once_and_only_ours_are_taken_away():
    from ansible_collections.adoptmesh.istio.plugins.module_utils import egress

    def workload(**annotations):
        return {"spec": {"template": {"metadata": {"annotations": annotations}}}}

    patch = egress.outbound_ranges_patch(workload(), "10.96.0.0/16")
    annotations = patch["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {egress.INCLUDE_OUTBOUND_ANNOTATION: "10.96.0.0/16", egress.OUTBOUND_MARKER: "true"}
    assert egress.outbound_ranges_patch(workload(**annotations), "10.96.0.0/16") is None
    assert egress.outbound_ranges_patch(workload(**annotations), "10.96.0.0/12")["spec"]["template"]["metadata"][
        "annotations"][egress.INCLUDE_OUTBOUND_ANNOTATION] == "10.96.0.0/12"
    assert egress.outbound_ranges_patch(workload(**annotations), None)["spec"]["template"]["metadata"][
        "annotations"] == {egress.INCLUDE_OUTBOUND_ANNOTATION: None, egress.OUTBOUND_MARKER: None}
    owners = workload(**{egress.INCLUDE_OUTBOUND_ANNOTATION: "10.0.0.0/8"})
    assert egress.outbound_ranges_patch(owners, "10.96.0.0/16") is False
    assert egress.outbound_ranges_patch(owners, None) is None
