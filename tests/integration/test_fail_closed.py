"""Issue: STRICT that cannot be bypassed, and one path to the cluster that fails closed.

Each test runs the collection's modules against the real local plane (or, for timeouts, against
a loopback listener that accepts connections and never answers)."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml

from conftest import REPO

N = "nginx.ingress.kubernetes.io/"
MODULES = {  # every cluster-facing module with the least arguments it needs
    "access_review": {"checks": [{"verb": "list", "resource": "pods"}]},
    "ingress_to_gateway": {"namespaces": ["default"]},
    "injector_ready": {"timeout": 5},
    "mesh_footprint": {},
    "mesh_status": {},
    "namespace_injection": {"namespaces": ["default"]},
    "probe_convert": {"namespaces": ["default"]},
    "rollout_restart": {"namespaces": ["default"]},
    "strict_mtls": {"namespaces": ["default"]},
    "traffic_replay": {"owner": "istio-ingressgateway", "logs": ["/nonexistent/access.log"]},
}


def ignoring(task):
    return dict(task, ignore_errors=True)


def deployment(namespace, name, probe_host=None, template_annotations=None):
    probe = {"httpGet": {"path": "/ready", "port": 8080}}
    if probe_host:
        probe["httpGet"]["host"] = probe_host
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": template_annotations or {}},
                                  "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                                                           "ports": [{"containerPort": 8080}],
                                                           "readinessProbe": probe}]}}}}


def injected_namespace(kubectl, name):
    kubectl.run("create", "namespace", name)
    kubectl.run("label", "namespace", name, "istio-injection=enabled")
    return name


def deploy(kubectl, *objects):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    for obj in objects:
        if obj["kind"] == "Deployment":
            kubectl.run("-n", obj["metadata"]["namespace"], "rollout", "status", "deployment/" + obj["metadata"]["name"],
                        "--timeout=120s")


@pytest.fixture
def meshed(istio, kubectl):
    """Two injected namespaces, removed afterwards."""
    names = [injected_namespace(kubectl, "fc-" + suffix + "-" + uuid.uuid4().hex[:6]) for suffix in ("a", "b")]
    yield names
    for name in names:
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_mesh_wide_strict_waits_for_an_unlisted_namespace_and_a_bare_pod_keeps_its_namespace_out(
        meshed, kubectl, playbook):
    listed, unlisted = meshed
    deploy(kubectl, deployment(listed, "web"), deployment(unlisted, "legacy", probe_host="db.example.com"))
    results, output = playbook.run([{"name": "Gate", "register": "gate", "adoptmesh.istio.strict_mtls": {
        "namespaces": [listed], "mesh_wide": True}}])
    gate = results["gate"]
    assert gate["changed_namespaces"] == [listed]
    blocking = dict((b["namespace"], b["reasons"]) for b in gate["mesh_wide_blockers"])
    assert unlisted in blocking and "httpGet.host" in blocking[unlisted][0]
    assert "mesh-wide STRICT not set" in output and unlisted in output
    mesh_wide = kubectl.run("-n", "istio-system", "get", "peerauthentication", "default", "-o",
                            "jsonpath={.spec.mtls.mode}", check=False)
    assert mesh_wide.stdout != "STRICT"
    # The unlisted namespace was gated, never written.
    assert kubectl.run("-n", unlisted, "get", "peerauthentication", "default", check=False).returncode != 0

    # A bare Pod (no controller, no template) with a breaking probe keeps its namespace out.
    kubectl.run("-n", unlisted, "delete", "deployment", "legacy")
    bare = deployment(unlisted, "debug", probe_host="127.0.0.2")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": dict(bare["metadata"], name="debug", namespace=unlisted),
           "spec": bare["spec"]}
    kubectl.run("apply", "-f", "-", input=json.dumps(pod))
    kubectl.run("-n", unlisted, "wait", "--for=condition=Ready", "pod/debug", "--timeout=60s")
    results, output = playbook.run([{"name": "Gate", "register": "gate", "adoptmesh.istio.strict_mtls": {
        "namespaces": [unlisted]}}])
    decision = results["gate"]["decisions"][0]
    assert not decision["strict"] and any("{0}/Pod/debug".format(unlisted) in r for r in decision["reasons"])


def test_a_user_who_cannot_list_destination_rules_turns_nothing_strict(meshed, plane, kubectl, playbook):
    namespace = meshed[0]
    deploy(kubectl, deployment(namespace, "web"))
    user = "fc-reader-" + str(os.getpid())
    rules = [{"apiGroups": [""], "resources": ["namespaces", "pods", "services", "configmaps"], "verbs": ["get", "list"]},
             {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
              "verbs": ["list"]},
             {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]},
             {"apiGroups": ["security.istio.io"], "resources": ["peerauthentications"], "verbs": ["*"]}]
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": user},
            "rules": rules}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": user},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([role, binding]))
    try:
        results, output = playbook.run([{"name": "Gate", "register": "gate", "adoptmesh.istio.strict_mtls": {
            "namespaces": [namespace], "kubeconfig": plane.user_kubeconfig(user)}}])
    finally:
        kubectl.run("delete", "clusterrolebinding,clusterrole", user, check=False)
    gate = results["gate"]
    assert gate["changed"] is False and gate["changed_namespaces"] == []
    reason = gate["decisions"][0]["reasons"][0]
    assert reason.startswith("could not verify: cluster ") and "DestinationRule" in reason and "forbidden" in reason
    assert kubectl.run("-n", namespace, "get", "peerauthentication", "default", check=False).returncode != 0


def test_a_star_local_rule_that_disables_tls_keeps_every_namespace_out(meshed, kubectl, playbook):
    for name in meshed:
        deploy(kubectl, deployment(name, "web"))
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "mtls-off", "namespace": meshed[0]},
            "spec": {"host": "*.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
    kubectl.run("apply", "-f", "-", input=json.dumps(rule))
    try:
        results, output = playbook.run([{"name": "Gate", "register": "gate", "adoptmesh.istio.strict_mtls": {
            "namespaces": meshed}}])
    finally:
        kubectl.run("-n", meshed[0], "delete", "destinationrule", "mtls-off")
    for decision in results["gate"]["decisions"]:
        assert not decision["strict"]
        assert "DestinationRule {0}/mtls-off".format(meshed[0]) in " ".join(decision["reasons"])
    assert results["gate"]["changed_namespaces"] == []


def test_a_field_dropped_from_the_desired_object_is_removed(istio, kubectl, namespace, playbook):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": namespace,
                            "annotations": {N + "proxy-connect-timeout": "3", N + "affinity": "cookie"}},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "drop.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([service, ingress]))
    task = {"name": "Apply", "register": "apply", "adoptmesh.istio.ingress_to_gateway": {
        "namespaces": [namespace], "gateway_namespace": namespace, "apply": True}}
    playbook.run([task])
    policy = kubectl.json("-n", namespace, "get", "destinationrules")["items"][0]["spec"]["trafficPolicy"]
    assert "loadBalancer" in policy and "connectionPool" in policy
    # Without the affinity annotation the desired DestinationRule is the live one minus a key:
    # the apply must still be sent, and the key must go.
    kubectl.run("-n", namespace, "annotate", "ingress", "web", N + "affinity-")
    results, output = playbook.run([task])
    assert results["apply"]["changed"] is True
    policy = kubectl.json("-n", namespace, "get", "destinationrules")["items"][0]["spec"]["trafficPolicy"]
    assert "loadBalancer" not in policy and "connectionPool" in policy
    results, output = playbook.run([task])
    assert results["apply"]["changed"] is False


def test_a_denied_authorization_policy_leaves_no_route_without_it(istio, kubectl, namespace, playbook):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": namespace,
                            "annotations": {N + "whitelist-source-range": "10.0.0.0/8"}},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "ranges.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([service, ingress]))
    name = "deny-authz-" + namespace
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": name},
              "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [{
                  "apiGroups": ["security.istio.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                  "resources": ["authorizationpolicies"]}]},
                  "validations": [{"expression": "false", "message": "authorization policies are frozen"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": name},
               "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": {"namespaceSelector": {
                   "matchLabels": {"kubernetes.io/metadata.name": namespace}}}}}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([policy, binding]))
    try:
        deadline = time.monotonic() + 30  # the policy takes effect once the apiserver has loaded it
        probe = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                 "metadata": {"name": "probe", "namespace": namespace}, "spec": {}}
        while kubectl.run("apply", "--dry-run=server", "-f", "-", input=json.dumps(probe),
                          check=False).returncode == 0:
            assert time.monotonic() < deadline, "the ValidatingAdmissionPolicy never took effect"
            time.sleep(0.5)
        results, output = playbook.run([ignoring({"name": "Apply", "register": "apply",
                                                  "adoptmesh.istio.ingress_to_gateway": {
                                                      "namespaces": [namespace], "gateway_namespace": namespace,
                                                      "apply": True}})])
    finally:
        kubectl.run("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", name, check=False)
    result = results["apply"]
    assert result["failed"] and "authorization policies are frozen" in result["msg"]
    assert result["written"] == [] and result["changed"] is False
    assert any(entry.startswith("VirtualService ") for entry in result["not_written"])
    assert kubectl.json("-n", namespace, "get", "virtualservices,gateways.networking.istio.io")["items"] == []


class SilentServer:
    """Accepts TCP connections on loopback and never answers."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.connections = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                connection, dummy = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self):
        self.running = False
        for connection in self.connections:
            connection.close()
        self.socket.close()


def test_every_module_fails_within_its_timeout_against_a_silent_api_server(playbook):
    server = SilentServer()
    url = "https://127.0.0.1:{0}".format(server.port)
    try:
        tasks = [ignoring({"name": name, "register": name, "adoptmesh.istio." + name: dict(
            args, host=url, api_key="not-a-token", validate_certs=False, request_timeout=2)})
            for name, args in sorted(MODULES.items())]
        started = time.monotonic()
        results, output = playbook.run(tasks)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    for name in MODULES:
        result = results[name]
        assert result["failed"], (name, result)
        assert "cluster " + url in result["msg"], (name, result["msg"])
        assert "timed out" in result["msg"] or "timeout" in result["msg"], (name, result["msg"])
    # Ten modules, each allowed a 2 s connect; a hang would run into the playbook's 900 s limit.
    assert elapsed < 300, elapsed


def test_a_dict_kubeconfig_hides_its_credentials_and_nothing_else(plane, playbook):
    with open(plane.kubeconfig) as handle:
        kubeconfig = yaml.safe_load(handle)
    results, output = playbook.run([{"name": "Footprint", "register": "footprint",
                                     "adoptmesh.istio.mesh_footprint": {"kubeconfig": kubeconfig}}], extra_args=["-v"])
    assert results["footprint"]["kubernetes_version"] == "v1.36.3"
    key = kubeconfig["users"][0]["user"]["client-key-data"]
    assert key not in output


def test_without_kubernetes_core_offline_modes_work_and_cluster_modes_say_what_is_missing(tmp_path):
    collections = tmp_path / "collections" / "ansible_collections" / "adoptmesh"
    collections.mkdir(parents=True)
    os.symlink(REPO, str(collections / "istio"))
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    workload = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
                "spec": {"containers": [{"name": "c", "readinessProbe": {"httpGet": {"port": 80}}}]}}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Translate offline", "register": "offline", "adoptmesh.istio.ingress_to_gateway": {"ingresses": [ingress]}},
        {"name": "Audit offline", "register": "audit", "adoptmesh.istio.probe_convert": {"workloads": [workload]}},
        {"name": "Read a cluster", "register": "online", "ignore_errors": True,
         "adoptmesh.istio.mesh_status": {"kubeconfig": "/nonexistent"}},
        {"name": "Show", "ansible.builtin.debug": {"msg": "{{ {'resources': offline.resources | length, "
                                                          "'probes': audit.summary.probes, 'online': online.msg} | to_json }}"}}]}]
    path = tmp_path / "play.yml"
    path.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
    process = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), str(path), "-i", "localhost,",
                              "-c", "local"], capture_output=True, text=True, env=env, timeout=300, check=False)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert '\\"resources\\": 2' in output and '\\"probes\\": 1' in output, output
    assert "the kubernetes.core collection is required" in output, output


def test_the_example_fleet_gives_each_cluster_only_its_own_token(tmp_path):
    password = tmp_path / "vault-password"
    password.write_text("example-only\n")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    process = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-inventory"), "-i",
                              os.path.join(REPO, "inventories", "example-fleet"), "--list",
                              "--vault-password-file", str(password)],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
    assert process.returncode == 0, process.stderr
    hostvars = json.loads(process.stdout)["_meta"]["hostvars"]
    holders = sorted(host for host, variables in hostvars.items()
                     if any("not-a-real-token" in json.dumps(value) or "vault" in key for key, value in variables.items()))
    assert holders == ["prod-eu-2"], holders
