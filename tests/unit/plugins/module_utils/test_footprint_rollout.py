"""footprint.py (what mesh is already on a cluster) and rollout.py's pure parts."""

import datetime

from ansible_collections.adoptmesh.istio.plugins.module_utils import footprint, rollout


def obj(name, namespace=None, labels=None, annotations=None, **extra):
    metadata = {"name": name, "labels": labels or {}, "annotations": annotations or {}}
    if namespace:
        metadata["namespace"] = namespace
    return dict(extra, metadata=metadata)


HELM = {"meta.helm.sh/release-name": "istiod"}


def test_an_istioctl_install_and_another_mesh_are_named():
    crds = [obj("peerauthentications.security.istio.io", labels={"operator.istio.io/component": "Base"}),
            obj("certificates.cert-manager.io")]
    webhooks = [obj("istio-sidecar-injector", labels={"operator.istio.io/component": "Pilot"},
                    webhooks=[{"name": "rev.namespace.sidecar-injector.istio.io"}]),
                obj("linkerd-proxy-injector-webhook-config", webhooks=[{"name": "linkerd-proxy-injector.linkerd.io"}]),
                obj("cert-manager-webhook")]
    istiod = obj("istiod", "istio-system", labels={"app": "istiod", "operator.istio.io/component": "Pilot",
                                                   "install.operator.istio.io/owning-resource": "installed-state"},
                 spec={"template": {"spec": {"containers": [{"image": "docker.io/istio/pilot:1.29.2"}]}}})
    found = footprint.footprint(crds, webhooks, [istiod], "1.30.3")
    assert found["istio_crds"] == ["peerauthentications.security.istio.io"]
    assert found["istiods"][0]["installed_by"] == "istioctl or the Istio operator"
    assert found["istiods"][0]["version"] == "1.29.2"
    assert found["foreign"] == ["Deployment istio-system/istiod (installed by istioctl or the Istio operator)",
                                "MutatingWebhookConfiguration istio-sidecar-injector",
                                "1 Istio CRD(s) such as peerauthentications.security.istio.io"]
    assert found["other_meshes"] == [{"mesh": "linkerd", "webhook": "linkerd-proxy-injector-webhook-config"}]
    assert found["skew"] == ["istiod 1.29.2 runs, 1.30.3 was asked for: an upgrade"]


def test_a_helm_install_is_not_foreign_and_its_chart_names_the_version():
    istiod = obj("istiod", "istio-system", labels={"helm.sh/chart": "istiod-1.30.4-dev.9739e10eb9d7",
                                                   "operator.istio.io/component": "Pilot"}, annotations=HELM)
    hook = obj("istio-sidecar-injector", annotations=HELM)
    crd = obj("gateways.networking.istio.io", labels={"app.kubernetes.io/managed-by": "Helm"}, annotations=HELM)
    found = footprint.footprint([crd], [hook], [istiod], "1.30.4-dev.9739e10eb9d7")
    assert found["foreign"] == [] and found["skew"] == []
    assert found["istiods"][0]["helm_release"] == "istiod"


def test_version_skew_sentences():
    assert footprint.version_skew("1.28.1", "1.30.3").startswith("istiod 1.28.1 runs, 1.30.3 was asked for: 2 minor")
    assert footprint.version_skew("1.30.3", "1.29.0").endswith("a downgrade")
    assert footprint.version_skew("1.30.3", "1.30.3") is None
    assert footprint.version_skew(None, "1.30.3") is None


def test_batches_and_the_restart_patch():
    assert rollout.split_batches(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]
    patch = rollout.restart_patch(datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc))
    assert patch == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-26T12:00:00Z"}}}}}


def test_the_injection_check_pod_is_a_clean_copy():
    pod = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u", "resourceVersion": "5",
                        "labels": {"app": "web"}, "annotations": {"sidecar.istio.io/status": "{}", "a": "b"}},
           "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "web"}]}, "status": {"phase": "Running"}}
    check = rollout._check_pod(pod)
    assert check["metadata"] == {"generateName": "adoptmesh-injection-check-", "namespace": "shop",
                                 "labels": {"app": "web"}, "annotations": {"a": "b"}}
    assert "nodeName" not in check["spec"] and "status" not in check
    assert pod["spec"]["nodeName"] == "kwok-node-0"  # the input is not changed


def test_charts_rendered_by_istioctl_carry_helm_labels_but_no_release():
    # What `istioctl manifest generate` / `istioctl install` write: the charts' own labels only.
    rendered = obj("istiod", "istio-system", labels={"app.kubernetes.io/managed-by": "Helm",
                                                     "helm.sh/chart": "istiod-1.0.0",
                                                     "operator.istio.io/component": "Pilot"},
                   spec={"template": {"spec": {"containers": [{"image": "gcr.io/istio-testing/pilot:1.31-dev"}]}}})
    assert footprint.installer(rendered) == ("istioctl or the Istio operator", None)
    assert footprint.istiod_version(rendered) == "1.31-dev"


def test_restart_candidates_are_sampled_from_pods_without_a_sidecar():
    def pod(name, injected):
        annotations = {"sidecar.istio.io/status": "{}"} if injected else {}
        return {"metadata": {"name": name, "namespace": "shop", "labels": {"pod-template-hash": "abc"},
                             "annotations": annotations,
                             "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": True}]},
                "status": {"phase": "Running"}}
    report = {"shop": {"injection": True, "without_sidecar": [
        {"pod": "web-2", "owner": "Deployment/web", "reason": "created before injection was enabled: restart"}]}}
    candidates = rollout.restart_candidates(report, [pod("web-1", True), pod("web-2", False)])
    assert list(candidates) == ["shop/Deployment/web"]
    assert candidates["shop/Deployment/web"]["metadata"]["name"] == "web-2"


def test_revision_tags_the_upgrade_playbook_applied_are_not_foreign():
    ours = obj("istio-revision-tag-canary", labels={"istio.io/rev": "1-31", "istio.io/tag": "canary",
                                                    "adoptmesh.istio/revision-tag": "canary"})
    unknown = obj("istio-revision-tag-default", labels={"istio.io/rev": "default", "istio.io/tag": "default"})
    found = footprint.footprint([], [ours, unknown], [])
    assert found["foreign"] == ["MutatingWebhookConfiguration istio-revision-tag-default"]
    assert [w["tag"] for w in found["istio_webhooks"]] == ["canary", "default"]
