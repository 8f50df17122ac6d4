"""playbooks/adopt-istio.yml end to end, each on a control plane of its own."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import BIN, ISTIO_CHART_VERSIONS, REPO, Tool, recap_changed, start_plane

ESTATE = os.path.join(REPO, "tools", "demo", "estate.yaml")
NAMESPACES = ["shop", "payments", "legacy", "batch"]
ISTIOD_OWN_CONFIGMAPS = ("istio-leader", "istio-namespace-controller-election", "istio-ip-autoallocate",
                         "istio-gateway-status-leader", "istio-gateway-deployment-leader", "istio-status-leader")


def run_playbook(args, directory, expect_failure=False, playbook="adopt-istio.yml"):
    """ansible-playbook playbooks/<playbook> with args, as a user's plain shell would run it (the
    built helm by path, none on PATH). Returns the output; asserts the exit status."""
    command = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), os.path.join(REPO, "playbooks", playbook)]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               HELM_CONFIG_HOME=str(directory / "helm"), HELM_CACHE_HOME=str(directory / "helm-cache"),
               HELM_DATA_HOME=str(directory / "helm-data"),
               PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if os.path.abspath(p) != BIN))
    process = subprocess.run(command + list(args), capture_output=True, text=True, env=env, check=False, timeout=1200)
    output = process.stdout + process.stderr
    assert (process.returncode != 0) is expect_failure, output
    return output


class Adoption:
    """ansible-playbook playbooks/adopt-istio.yml against one plane, with an inventory for it."""

    def __init__(self, plane, directory):
        self.plane = plane
        self.directory = directory
        self.kubectl = Tool("kubectl", plane)

    def inventory(self, **overrides):
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "adoptmesh_kubeconfig": self.plane.kubeconfig,
                # Istio's charts from the plane's OCI registry, as from oci://ghcr.io/istio/release/charts.
                "adoptmesh_chart_source": self.plane.charts_oci, "adoptmesh_chart_plain_http": True,
                "adoptmesh_istio_version": ISTIO_CHART_VERSIONS[0], "adoptmesh_namespaces": NAMESPACES,
                "adoptmesh_report_dir": str(self.directory / "reports"),
                # As inventories/local does: the built helm by path, none on PATH (a user's plain shell).
                "adoptmesh_helm_binary": os.path.join(BIN, "helm")}
        host.update(overrides)
        path = self.directory / "inventory.yml"
        path.write_text(yaml.safe_dump({"clusters": {"hosts": {"cluster-a": host}}, "canary": {"hosts": {}}}))
        return str(path)

    def run(self, *args, expect_failure=False, playbook="adopt-istio.yml", **overrides):
        return run_playbook(["-i", self.inventory(**overrides)] + list(args), self.directory,
                            expect_failure=expect_failure, playbook=playbook)

    def report_markdown(self):
        with open(self.directory / "reports" / "cluster-a.md") as handle:
            return handle.read()

    def report(self):
        with open(self.directory / "reports" / "cluster-a.json") as handle:
            return json.load(handle)

    def seed(self):
        self.kubectl.run("apply", "-f", ESTATE)
        self.kubectl.run("wait", "--for=condition=Available", "deployment", "--all", "-A", "--timeout=120s")
        self.kubectl.run("wait", "--for=condition=Complete", "job", "--all", "-A", "--timeout=120s")

    def new_pod(self, namespace):
        """A new pod of the namespace as the API server would admit it, Istio's injector included
        (a server-side dry run: nothing is stored). Returns (the pod, None) or (None, the refusal)."""
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "probe-", "namespace": namespace},
               "spec": {"containers": [{"name": "app", "image": "example.test/app:1"}]}}
        result = self.kubectl.run("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pod),
                                  check=False)
        if result.returncode != 0:
            return None, result.stderr.strip()
        return json.loads(result.stdout), None

    def mesh_wide_mode(self):
        return self.kubectl.json("-n", "istio-system", "get", "peerauthentication", "default")["spec"]["mtls"]["mode"]

    def resource_versions(self, extra_kinds=""):
        # Everything the adoption writes. Pods are left out: kwok keeps updating their status (a
        # Job's pod completes on its own), and the adoption never writes pods itself. So are the
        # ConfigMaps a running istiod renews on its own (leader election, address allocation).
        kinds = ("namespaces,deployments,statefulsets,daemonsets,jobs,services,configmaps,secrets,serviceaccounts,"
                 "customresourcedefinitions,mutatingwebhookconfigurations,validatingwebhookconfigurations" + extra_kinds)
        items = self.kubectl.json("get", kinds, "-A")["items"]
        return dict(("{0}/{1}/{2}".format(i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]),
                     i["metadata"]["resourceVersion"]) for i in items
                    if not (i["kind"] == "ConfigMap" and i["metadata"]["name"] in ISTIOD_OWN_CONFIGMAPS))


@pytest.fixture(scope="module")
def adopted_plane():
    plane = start_plane("pytest-adopt-{0}".format(os.getpid()))
    yield plane
    plane.stop(remove=not os.environ.get("KEEP_PLANES"))


@pytest.fixture
def adoption(adopted_plane, tmp_path_factory):
    return Adoption(adopted_plane, tmp_path_factory.mktemp("adoption"))


def test_stages_one_by_one_from_an_empty_cluster_then_the_whole_playbook_changes_nothing(adoption):
    adoption.seed()
    output = adoption.run("-e", "adoption_stage=preflight")
    assert recap_changed(output) == 0
    assert "declare no protocol" in output and "batch/Job/nightly-report will get a sidecar" in output
    assert adoption.kubectl.run("get", "crd", "peerauthentications.security.istio.io", check=False).returncode != 0

    adoption.run("-e", "adoption_stage=install")
    crds = [i["metadata"]["name"] for i in adoption.kubectl.json("get", "crd")["items"]]
    assert "peerauthentications.security.istio.io" in crds
    mesh_wide = adoption.kubectl.json("-n", "istio-system", "get", "peerauthentication", "default")
    assert mesh_wide["spec"]["mtls"]["mode"] == "PERMISSIVE"

    adoption.run("-e", "adoption_stage=inject")
    report = adoption.report()
    for name in ("shop", "payments", "legacy"):
        entry = report["namespaces"][name]
        assert entry["injection"] and entry["pods"] > 0 and entry["with_sidecar"] == entry["pods"], (name, entry)
    assert {"service": "shop/cart", "port": 9000, "name": ""} in report["services_without_protocol"]
    assert report["jobs_that_may_not_finish"] == ["batch/Job/nightly-report"]
    labels = adoption.kubectl.json("get", "namespace", "shop")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"

    ingresses_before = adoption.kubectl.json("get", "ingresses", "-A")["items"]
    # With a generated ingress-nginx access log of the estate, replayed in the ingress stage (as `make demo` does).
    log = str(adoption.directory / "access.log.gz")
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "access_logs.py"), "--ingresses", ESTATE,
                    "--lines", "20000", "--output", log], check=True, capture_output=True, timeout=120)
    output = adoption.run("-e", "adoption_stage=strict", "-e", json.dumps({"ingress_gateway_replay_logs": [log]}))
    # The ingress stage ran on the way: every sample Ingress translated and applied beside the
    # Ingresses, which are untouched; the report has the summary per gateway.
    gateway = adoption.report()["ingress"]["istio-ingressgateway"]
    assert gateway["summary"]["ingresses"] == 5 and gateway["summary"]["error"] == 0
    # admin, cart-api and catalog serve plain HTTP only, where ingress-nginx also answered HTTPS;
    # admin's configuration-snippet (more_set_headers) became a response header.
    assert sorted(f["code"] for f in gateway["findings"]) == ["https-default-certificate"] * 3
    assert gateway["annotations"]["configuration-snippet"] == {"ingresses": 1, "translated": 1, "warning": 0,
                                                               "error": 0, "decision": "translated"}
    services = adoption.kubectl.json("-n", "istio-ingress", "get", "virtualservices")["items"]
    assert sorted(v["spec"]["hosts"][0] for v in services) == [
        "admin.example.test", "api.example.test", "catalog.example.test", "shop.example.test"]
    assert adoption.kubectl.json("get", "ingresses", "-A")["items"] == ingresses_before
    replay = gateway["replay"]
    assert replay["totals"]["compared"] > 18000 and replay["totals"]["mismatched"] == 0, replay["mismatches"]
    assert replay["totals"]["ambiguous"] == 0 and replay["findings"] == []
    with open(adoption.directory / "reports" / "cluster-a.md") as handle:
        markdown = handle.read()
    assert "5 Ingresses translated into 5 objects" in markdown
    assert "| `configuration-snippet` | 1 | 1 | 0 | 0 | translated |" in markdown
    assert "Access log replay: 20000 lines" in markdown and ", 0 would go elsewhere" in markdown
    decisions = dict((d["namespace"], d) for d in adoption.report()["strict"])
    assert decisions["shop"]["strict"] and decisions["payments"]["strict"]
    assert not decisions["legacy"]["strict"]  # its probe calls another host
    assert "httpGet.host" in decisions["legacy"]["reasons"][0]
    assert adoption.kubectl.json("-n", "shop", "get", "peerauthentication", "default")["spec"]["mtls"]["mode"] == "STRICT"
    assert adoption.kubectl.run("-n", "legacy", "get", "peerauthentication", "default", check=False).returncode != 0

    output = adoption.run("-e", "adoption_stage=strict")
    assert recap_changed(output) == 0

    # Mesh-wide STRICT: legacy's probe keeps it out until forced; check mode writes nothing.
    mesh_wide = ["-e", "adoption_stage=strict", "-e", json.dumps({"mesh_policy_mesh_wide": True})]
    output = adoption.run(*mesh_wide)
    assert "mesh-wide STRICT not set" in output and "namespace legacy would inherit it" in output
    forced = mesh_wide + ["-e", json.dumps({"mesh_policy_force": ["legacy"]})]
    written = ",peerauthentications,ingresses,gateways.networking.istio.io,virtualservices"
    before = adoption.resource_versions(extra_kinds=written)
    adoption.run(*(forced + ["--check"]))
    assert adoption.resource_versions(extra_kinds=written) == before
    adoption.run(*forced)
    assert adoption.mesh_wide_mode() == "STRICT"
    # The install and inject stages never lower it again, and a second strict run changes nothing.
    adoption.run("-e", "adoption_stage=inject")
    assert adoption.mesh_wide_mode() == "STRICT"
    assert recap_changed(adoption.run(*forced)) == 0
    assert adoption.mesh_wide_mode() == "STRICT"


def test_strict_gate_skips_a_namespace_with_an_uninjected_pod_and_force_overrides(adoption):
    adoption.kubectl.run("create", "namespace", "optout")
    adoption.kubectl.run("-n", "optout", "create", "deployment", "plain", "--image=registry.invalid/plain:1")
    adoption.kubectl.run("-n", "optout", "patch", "deployment", "plain", "--type=merge", "-p",
                         json.dumps({"spec": {"template": {"metadata": {"labels": {"sidecar.istio.io/inject": "false"}}}}}))
    adoption.kubectl.run("-n", "optout", "rollout", "status", "deployment/plain", "--timeout=60s")
    namespaces = NAMESPACES + ["optout"]
    adoption.run("-e", "adoption_stage=strict", adoptmesh_namespaces=namespaces)
    decisions = dict((d["namespace"], d) for d in adoption.report()["strict"])
    assert not decisions["optout"]["strict"]
    assert "opts out" in decisions["optout"]["reasons"][0]
    adoption.run("-e", "adoption_stage=strict", "-e", json.dumps({"mesh_policy_force": ["optout"]}),
                 adoptmesh_namespaces=namespaces)
    decisions = dict((d["namespace"], d) for d in adoption.report()["strict"])
    assert decisions["optout"]["strict"] and decisions["optout"]["forced"]


def test_upgrade_from_one_version_to_the_next_needs_no_manual_step(adoption):
    output = adoption.run("-e", "adoption_stage=install", adoptmesh_istio_version=ISTIO_CHART_VERSIONS[1])
    assert recap_changed(output) >= 1
    charts = dict((r["metadata"]["labels"].get("app"), r["metadata"]["labels"].get("helm.sh/chart"))
                  for r in adoption.kubectl.json("-n", "istio-system", "get", "deployments")["items"])
    assert charts["istiod"] == "istiod-" + ISTIO_CHART_VERSIONS[1]
    output = adoption.run("-e", "adoption_stage=install", adoptmesh_istio_version=ISTIO_CHART_VERSIONS[1])
    assert recap_changed(output) == 0


def test_bad_input_fails_early_naming_cluster_and_cause(adoption, tmp_path):
    output = adoption.run("-e", "adoption_stage=preflight", expect_failure=True, adoptmesh_namespaces=["nowhere"])
    assert "cluster-a" in output and "namespace(s) not found: nowhere" in output

    output = adoption.run("-e", "adoption_stage=install", expect_failure=True, adoptmesh_istio_version="9.9.9")
    assert "9.9.9" in output

    restricted = adoption.plane.user_kubeconfig("nobody")
    output = adoption.run("-e", "adoption_stage=preflight", expect_failure=True, adoptmesh_kubeconfig=restricted)
    assert "cluster cluster-a" in output and "may not create customresourcedefinitions" in output
    assert "list ingresses" not in output  # the ingress stage's permissions only when it will run
    output = adoption.run("-e", "adoption_stage=ingress", expect_failure=True, adoptmesh_kubeconfig=restricted)
    assert "may not create customresourcedefinitions" in output and "list ingresses" in output
    assert "list serviceentries" not in output  # the egress stage's own, only when it will run
    output = adoption.run("-e", "adoption_stage=egress", expect_failure=True, adoptmesh_kubeconfig=restricted)
    assert "list ingresses" in output and "list serviceentries" in output

    unreachable = tmp_path / "unreachable"
    unreachable.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "x", "user": {"token": "t"}}], "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    output = adoption.run("-e", "adoption_stage=preflight", expect_failure=True, adoptmesh_kubeconfig=str(unreachable))
    # The failing check's own message reaches the summary, naming the cluster it could not reach.
    assert "cluster cluster-a: preflight failed: cluster https://127.0.0.1:1: cannot reach the Kubernetes API" in output

    output = adoption.run("-e", "adoption_stage=inject", "-e", '{"sidecar_injection_batch_size": "many"}',
                          expect_failure=True)
    assert "sidecar_injection_batch_size" in output

    output = adoption.run("-e", "adoption_stage=sideways", expect_failure=True)
    assert "adoption_stage sideways is not one of" in output


def test_an_istio_that_helm_does_not_manage_is_refused_not_overwritten(adoption):
    # What istioctl or the operator leaves behind: an istiod Deployment that no Helm release owns.
    kubectl = adoption.kubectl
    kubectl.run("create", "namespace", "foreign-istio")
    kubectl.run("-n", "foreign-istio", "create", "deployment", "istiod", "--image=registry.invalid/pilot:1")
    kubectl.run("-n", "foreign-istio", "label", "deployment", "istiod", "app=istiod")
    before = kubectl.json("-n", "foreign-istio", "get", "deployment", "istiod")["spec"]
    try:
        output = adoption.run("-e", "adoption_stage=install", expect_failure=True)
        assert "cluster cluster-a" in output and "no Helm release owns Deployment foreign-istio/istiod" in output
        assert "Install or upgrade the Istio base chart" not in output  # stopped before any install
        assert kubectl.json("-n", "foreign-istio", "get", "deployment", "istiod")["spec"] == before
    finally:
        # Preflight looks in every namespace: the later scenarios on this plane must not see it.
        kubectl.run("-n", "foreign-istio", "delete", "deployment", "istiod")


def test_a_restart_batch_that_cannot_roll_out_stops_the_later_batches(adoption):
    # A pod quota as tight as the namespace's pods: a restarted Deployment cannot surge its new
    # pod, so its rollout stalls until the progress deadline, as it would on a full cluster.
    kubectl = adoption.kubectl
    kubectl.run("create", "namespace", "quota")
    for name in ("a-first", "b-second", "c-third"):
        kubectl.run("-n", "quota", "create", "deployment", name, "--image=registry.invalid/{0}:1".format(name))
        kubectl.run("-n", "quota", "patch", "deployment", name, "--type=merge", "-p",
                    json.dumps({"spec": {"progressDeadlineSeconds": 5}}))
    kubectl.run("-n", "quota", "wait", "--for=condition=Available", "deployment", "--all", "--timeout=60s")
    kubectl.run("-n", "quota", "create", "quota", "pods", "--hard=pods=3")
    output = adoption.run("-e", "adoption_stage=inject", "-e", json.dumps({"sidecar_injection_batch_size": 1}),
                          expect_failure=True, adoptmesh_namespaces=["quota"],
                          adoptmesh_istio_version=ISTIO_CHART_VERSIONS[1])
    assert "batch 1 of 3 did not roll out" in output
    assert "quota/Deployment/a-first exceeded its progress deadline" in output
    assert "later batches were not started" in output
    for name in ("b-second", "c-third"):
        template = kubectl.json("-n", "quota", "get", "deployment", name)["spec"]["template"]
        assert "kubectl.kubernetes.io/restartedAt" not in (template["metadata"].get("annotations") or {}), name


def test_a_revisioned_control_plane_meshes_its_namespaces_end_to_end(adoption):
    kubectl = adoption.kubectl
    kubectl.run("create", "namespace", "revved")
    kubectl.run("-n", "revved", "create", "deployment", "api", "--image=registry.invalid/api:1")
    kubectl.run("-n", "revved", "wait", "--for=condition=Available", "deployment/api", "--timeout=60s")
    settings = dict(adoptmesh_revision="canary", adoptmesh_namespaces=["revved"],
                    adoptmesh_istio_version=ISTIO_CHART_VERSIONS[1])

    def control_planes():
        return set(d["metadata"]["name"] for d in kubectl.json("-n", "istio-system", "get", "deployments")["items"])

    before = control_planes()
    adoption.run("-e", "adoption_stage=strict", **settings)
    # Beside any control plane already there (istiod from the earlier tests), as a canary upgrade has it.
    assert control_planes() == before | {"istiod-canary"}
    labels = kubectl.json("get", "namespace", "revved")["metadata"]["labels"]
    assert labels.get("istio.io/rev") == "canary" and "istio-injection" not in labels
    pods = kubectl.json("-n", "revved", "get", "pods", "-l", "app=api")["items"]
    running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    # The injector records the revision that injected the pod.
    assert running and all(p["metadata"]["annotations"].get("istio.io/rev") == "canary" for p in running)
    assert all(any(c["name"] == "istio-proxy" for c in p["spec"]["containers"] + p["spec"].get("initContainers", []))
               for p in running)
    decisions = dict((d["namespace"], d) for d in adoption.report()["strict"])
    assert decisions["revved"]["strict"], decisions["revved"]
    assert recap_changed(adoption.run("-e", "adoption_stage=strict", **settings)) == 0


def test_check_mode_on_a_fresh_cluster_writes_nothing_and_diff_shows_changes(tmp_path_factory):
    plane = start_plane("pytest-check-{0}".format(os.getpid()))
    try:
        adoption = Adoption(plane, tmp_path_factory.mktemp("check"))
        adoption.seed()
        before = adoption.resource_versions()
        output = adoption.run("-e", "adoption_stage=strict", "--check", "--diff")
        assert adoption.resource_versions() == before
        assert "istio-injection" in output  # the namespace label diff
    finally:
        plane.stop()
