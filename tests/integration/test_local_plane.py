"""The local control plane is a real Kubernetes API: these are the behaviours mocks hide."""

import json
import os
import time

from conftest import plane_module, start_plane


def wait_for(check, timeout=60, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("timed out after {0}s waiting for {1}".format(timeout, what))


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}}}
data: {{mode: {mode}}}
"""


def test_server_side_apply_conflict_is_reported(kubectl, namespace):
    kubectl.run("apply", "--server-side", "--field-manager=team-a", "-f", "-",
                input=CONFIGMAP.format(ns=namespace, mode="a"))
    result = kubectl.run("apply", "--server-side", "--field-manager=team-b", "-f", "-",
                         input=CONFIGMAP.format(ns=namespace, mode="b"), check=False)
    assert result.returncode != 0
    assert "conflict" in result.stderr.lower() and "team-a" in result.stderr
    kubectl.run("apply", "--server-side", "--force-conflicts", "--field-manager=team-b", "-f", "-",
                input=CONFIGMAP.format(ns=namespace, mode="b"))
    assert kubectl.json("-n", namespace, "get", "configmap", "settings")["data"]["mode"] == "b"


CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.adoptmesh.io}
spec:
  group: test.adoptmesh.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
"""


def test_crd_schema_rejects_a_bad_object(kubectl, namespace):
    kubectl.run("apply", "-f", "-", input=CRD)
    kubectl.run("wait", "--for=condition=Established", "crd/widgets.test.adoptmesh.io", "--timeout=30s")
    good = "apiVersion: test.adoptmesh.io/v1\nkind: Widget\nmetadata: {name: ok, namespace: %s}\nspec: {size: 3}\n"
    kubectl.run("apply", "-f", "-", input=good % namespace)
    bad = "apiVersion: test.adoptmesh.io/v1\nkind: Widget\nmetadata: {name: bad, namespace: %s}\nspec: {size: zero}\n"
    result = kubectl.run("apply", "-f", "-", input=bad % namespace, check=False)
    assert result.returncode != 0
    assert "spec.size" in result.stderr and "Invalid value" in result.stderr


def test_rbac_denies_a_restricted_user(plane, kubectl, namespace):
    restricted = plane.user_kubeconfig("restricted-viewer")
    kubectl.run("-n", namespace, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl.run("-n", namespace, "create", "rolebinding", "pod-reader", "--role=pod-reader", "--user=restricted-viewer")
    allowed = kubectl.run("-n", namespace, "get", "pods", kubeconfig=restricted)
    assert allowed.returncode == 0
    denied = kubectl.run("-n", namespace, "get", "secrets", kubeconfig=restricted, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    denied = kubectl.run("-n", "kube-system", "get", "pods", kubeconfig=restricted, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_deployment_becomes_available_with_ready_pods_on_kwok_nodes(kubectl, namespace):
    kubectl.run("-n", namespace, "create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=3")
    kubectl.run("-n", namespace, "rollout", "status", "deployment/web", "--timeout=60s")
    deployment = kubectl.json("-n", namespace, "get", "deployment", "web")
    assert deployment["status"]["availableReplicas"] == 3
    pods = kubectl.json("-n", namespace, "get", "pods", "-l", "app=web")["items"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["status"]["phase"] == "Running"
        assert {"type": "Ready", "status": "True"}.items() <= next(
            c for c in pod["status"]["conditions"] if c["type"] == "Ready").items()


def test_nodes_report_the_pinned_kubernetes_version(kubectl):
    version = json.loads(kubectl.run("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.36.3"
    assert version["clientVersion"]["gitVersion"] == "v1.36.3"
    nodes = kubectl.json("get", "nodes")["items"]
    assert len(nodes) >= 2


def test_helm_installs_istio_base_from_the_loopback_repository_and_creates_the_crds(istio, kubectl, helm):
    crds = {item["metadata"]["name"] for item in kubectl.json("get", "crd")["items"]}
    for name in ("virtualservices.networking.istio.io", "gateways.networking.istio.io",
                 "destinationrules.networking.istio.io", "peerauthentications.security.istio.io",
                 "serviceentries.networking.istio.io", "authorizationpolicies.security.istio.io"):
        assert name in crds
    releases = json.loads(helm.run("list", "-n", "istio-system", "-o", "json").stdout)
    assert {(r["name"], r["chart"]) for r in releases} >= {("istio-base", "base-" + istio)}


def test_sidecar_injection_is_served_by_the_real_istiod(istio, kubectl, namespace):
    kubectl.run("label", "namespace", namespace, "istio-injection=enabled")

    def injected_pod():
        # The runner starts pilot-discovery within a second or two of the chart's Service.
        result = kubectl.run("-n", namespace, "run", "probe-" + str(int(time.time() * 1000) % 100000),
                             "--image=registry.invalid/app:1", "--restart=Never", check=False)
        return result.returncode == 0 and result.stdout.split()[0]

    created = wait_for(injected_pod, timeout=60, what="the injection webhook to answer")
    pod = kubectl.json("-n", namespace, "get", created)
    names = [c["name"] for c in pod["spec"]["containers"]] + [c["name"] for c in pod["spec"].get("initContainers", [])]
    assert "istio-proxy" in names
    assert "sidecar.istio.io/status" in pod["metadata"]["annotations"]
    assert pod["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"


def test_istio_validation_webhook_rejects_an_invalid_virtualservice(istio, kubectl, namespace):
    bad = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad, namespace: %s}\n"
           "spec: {hosts: [web], http: [{route: [{destination: {host: ''}}]}]}\n") % namespace

    def rejected():
        result = kubectl.run("apply", "--dry-run=server", "-f", "-", input=bad, check=False)
        return result.returncode != 0 and "validation.istio.io" in result.stderr

    wait_for(rejected, timeout=60, what="istiod's validation webhook")


GOOD_VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web.example.com]
  gateways: [istio-ingress/public]
  http:
  - match: [{uri: {prefix: /api/}}]
    route: [{destination: {host: api.shop.svc.cluster.local, port: {number: 8080}}}]
"""

BAD_VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web.example.com]
  http:
  - route: [{destination: {host: api.shop.svc.cluster.local}}]
    retries: {attempts: -1}
"""


def test_istioctl_validate_accepts_a_good_virtualservice_and_rejects_a_bad_one(istioctl, tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD_VS)
    bad.write_text(BAD_VS)
    assert istioctl.run("validate", "-f", good).returncode == 0
    result = istioctl.run("validate", "-f", bad, check=False)
    assert result.returncode != 0
    assert "attempts" in (result.stdout + result.stderr).lower()


def test_webhook_calls_to_services_without_a_local_backend_stay_on_the_machine(plane, kubectl, namespace):
    webhook = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: %(ns)s-nowhere}
webhooks:
- name: nowhere.test.adoptmesh.io
  clientConfig: {service: {name: nowhere, namespace: %(ns)s, port: 443}}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %(ns)s}}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
""" % {"ns": namespace}
    kubectl.run("-n", namespace, "create", "service", "clusterip", "nowhere", "--tcp=443:8443")
    kubectl.run("apply", "-f", "-", input=webhook)
    try:
        def refused():
            attempt = kubectl.run("-n", namespace, "create", "configmap", "c1", check=False)
            return attempt if attempt.returncode != 0 else None

        result = wait_for(refused, timeout=30, what="the webhook to be in force")
        assert "403" in result.stderr
        cluster_ip = kubectl.json("-n", namespace, "get", "service", "nowhere")["spec"]["clusterIP"]
        with open(os.path.join(plane.log_dir, "egress.log")) as log:
            assert "refused: 'CONNECT {0}:443".format(cluster_ip) in log.read()
    finally:
        kubectl.run("delete", "validatingwebhookconfiguration", namespace + "-nowhere")


def test_two_more_planes_run_beside_the_first_and_stop_without_leftovers(plane, kubectl):
    others = [start_plane("pytest-{0}-fleet-{1}".format(os.getpid(), index)) for index in range(2)]
    try:
        servers = {plane.server} | {other.server for other in others}
        assert len(servers) == 3
        for other in others:
            other.api("POST", "/api/v1/namespaces", {"metadata": {"name": "only-in-" + other.name}})
        names = {item["metadata"]["name"] for item in kubectl.json("get", "namespaces")["items"]}
        assert not any(name.startswith("only-in-") for name in names)
    finally:
        pids = [pid for other in others for pid in other.pids.values()]
        for other in others:
            other.stop()
    assert not any(plane_module._alive(pid) for pid in pids)
    assert all(not os.path.exists(other.run_dir) for other in others)


def test_pods_are_ready_again_after_the_api_server_was_down_longer_than_a_node_lease():
    """A cluster whose API comes back is a cluster again: the node controller must not judge the
    nodes by the leases that went stale meanwhile, as kwok never marks running pods ready again
    (seen in CI as a fleet re-run that failed on the cluster brought back)."""
    other = start_plane("pytest-{0}-outage".format(os.getpid()))
    try:
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                               "template": {"metadata": {"labels": {"app": "web"}},
                                            "spec": {"containers": [{"name": "web", "image": "registry.invalid/web"}]}}}}
        other.api("POST", "/apis/apps/v1/namespaces/default/deployments", deployment)

        def ready_pods():
            pods = other.api("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")["items"]
            return [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in p["status"].get("conditions", []))]

        wait_for(lambda: len(ready_pods()) == 2, timeout=120, what="two ready pods")
        other.stop_apiserver()
        time.sleep(70)  # beyond the 40 s node lease and the node controller's grace period
        other.start_apiserver()
        time.sleep(20)  # the node controller's monitor runs every 5 s: time to flip them, if it would
        assert len(ready_pods()) == 2
    finally:
        other.stop()
