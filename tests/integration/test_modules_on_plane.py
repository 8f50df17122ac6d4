"""Each cluster-facing module on the shared plane, for what the playbook tests do not reach:
probe fixes in batches, restarts the injector cannot help, revision labels kept, what mesh is
already installed, and the modules the roles call once (access_review, injector_ready, mesh_status,
strict_mtls's initial policy)."""

import json
import threading
import time

import pytest
import yaml

from conftest import recap_changed


def deployment(namespace, name, annotations=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                                                           "ports": [{"containerPort": 8080}],
                                                           "readinessProbe": {"httpGet": {"path": "/ready",
                                                                                          "port": 8080}}}]}}}}


class GenerationWatch:
    """Polls a namespace's Deployments and records, per Deployment, when its template changed
    (generation 2) and when that rollout was complete."""

    def __init__(self, kubectl, namespace):
        self.kubectl, self.namespace = kubectl, namespace
        self.changed, self.done = {}, {}
        self.running = True
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self):
        while self.running:
            now = time.monotonic()
            for item in self.kubectl.json("-n", self.namespace, "get", "deployments")["items"]:
                name, status = item["metadata"]["name"], item.get("status") or {}
                if item["metadata"]["generation"] >= 2:
                    self.changed.setdefault(name, now)
                    if status.get("observedGeneration", 0) >= 2 and status.get("updatedReplicas") == 1 \
                            and status.get("availableReplicas") == 1 and status.get("replicas") == 1:
                        self.done.setdefault(name, now)
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()


def test_probe_fixes_roll_out_in_batches_and_jobs_are_reported_not_patched(istio, kubectl, namespace, playbook):
    off = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"}
    names = ["web-{0:02d}".format(n) for n in range(30)]
    job_template = deployment(namespace, "nightly", off)["spec"]["template"]
    job_template["spec"]["restartPolicy"] = "Never"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "namespace": namespace},
           "spec": {"template": job_template}}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([deployment(namespace, n, off) for n in names] + [job]))
    kubectl.run("-n", namespace, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=180s")
    job_before = kubectl.json("-n", namespace, "get", "job", "nightly")["spec"]["template"]

    watch = GenerationWatch(kubectl, namespace)
    try:
        results, output = playbook.run([{"name": "Fix", "register": "fix", "adoptmesh.istio.probe_convert": {
            "namespaces": [namespace], "strategy": "rewrite", "apply": True, "batch_size": 10,
            "rewrite_default": True}}])
    finally:
        watch.stop()
    assert results["fix"]["changed"] is True
    assert sorted(watch.changed) == names
    waves = [names[0:10], names[10:20], names[20:30]]
    for earlier, later in zip(waves, waves[1:]):
        # Every rollout of a wave is complete before the next wave's templates change.
        assert max(watch.done[n] for n in earlier) <= min(watch.changed[n] for n in later), (earlier, later)
        assert max(watch.changed[n] for n in earlier) < min(watch.changed[n] for n in later)
    codes = dict(((f["workload"], f["code"]) for f in results["fix"]["findings"]))
    assert codes.get("{0}/Job/nightly".format(namespace)) == "not-patched-immutable"
    assert kubectl.json("-n", namespace, "get", "job", "nightly")["spec"]["template"] == job_before


def test_restarts_the_injector_would_not_help_are_reported_and_not_repeated(istio, kubectl, namespace, playbook):
    # A namespace pointed at a revision that is not installed: no injector answers for it.
    kubectl.run("label", "namespace", namespace, "istio.io/rev=ghost")
    kubectl.run("apply", "-f", "-", input=json.dumps(deployment(namespace, "api")))
    kubectl.run("-n", namespace, "rollout", "status", "deployment/api", "--timeout=60s")
    before = kubectl.json("-n", namespace, "get", "deployment", "api")["metadata"]["generation"]
    task = {"name": "Restart", "register": "restart", "adoptmesh.istio.rollout_restart": {"namespaces": [namespace]}}
    for dummy in range(2):
        results, output = playbook.run([task])
        restart = results["restart"]
        assert restart["changed"] is False and restart["restarted"] == []
        reason = restart["refused"]["{0}/Deployment/api".format(namespace)]
        assert "no control plane of revision 'ghost'" in reason
        assert "is not restarted" in output
    assert kubectl.json("-n", namespace, "get", "deployment", "api")["metadata"]["generation"] == before


def test_restart_check_mode_is_a_server_side_dry_run(istio, kubectl, namespace, playbook):
    kubectl.run("apply", "-f", "-", input=json.dumps(deployment(namespace, "api")))
    kubectl.run("-n", namespace, "rollout", "status", "deployment/api", "--timeout=60s")
    kubectl.run("label", "namespace", namespace, "istio-injection=enabled")  # after: its pod needs a restart
    version = kubectl.json("-n", namespace, "get", "deployment", "api")["metadata"]["resourceVersion"]
    task = {"name": "Restart", "register": "restart", "adoptmesh.istio.rollout_restart": {"namespaces": [namespace]}}
    results, output = playbook.run([task], check=True)
    assert results["restart"]["restarted"] == ["{0}/Deployment/api".format(namespace)], results
    assert kubectl.json("-n", namespace, "get", "deployment", "api")["metadata"]["resourceVersion"] == version
    results, output = playbook.run([task])
    assert results["restart"]["changed"] is True
    results, output = playbook.run([task])
    assert results["restart"]["changed"] is False


def test_a_namespace_on_a_revision_keeps_it_unless_another_is_asked_for(istio, kubectl, namespace, playbook):
    kubectl.run("label", "namespace", namespace, "istio.io/rev=canary")
    task = {"name": "Label", "register": "label", "adoptmesh.istio.namespace_injection": {"namespaces": [namespace]}}
    results, output = playbook.run([task])
    assert results["label"]["changed"] is False
    labels = kubectl.json("get", "namespace", namespace)["metadata"]["labels"]
    assert labels.get("istio.io/rev") == "canary" and "istio-injection" not in labels
    results, output = playbook.run([dict(task, **{"adoptmesh.istio.namespace_injection": {
        "namespaces": [namespace], "revision": "default"}})])
    labels = kubectl.json("get", "namespace", namespace)["metadata"]["labels"]
    assert results["label"]["changed"] is True and labels.get("istio-injection") == "enabled"
    assert "istio.io/rev" not in labels


@pytest.fixture
def foreign_webhooks(istio, kubectl, istioctl):
    """Another mesh's injector, and Istio's injector as `istioctl` renders it (no Helm release),
    each matching no namespace so that nothing on the plane is affected."""
    nothing = {"matchLabels": {"adoptmesh-test": "matches-nothing"}}
    linkerd = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
               "metadata": {"name": "linkerd-proxy-injector-webhook-config"},
               "webhooks": [{"name": "linkerd-proxy-injector.linkerd.io", "admissionReviewVersions": ["v1"],
                             "sideEffects": "None", "failurePolicy": "Ignore", "namespaceSelector": nothing,
                             "clientConfig": {"service": {"name": "linkerd-proxy-injector", "namespace": "linkerd"}},
                             "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                        "resources": ["pods"]}]}]}
    rendered = istioctl.run("manifest", "generate", "--set", "revision=external").stdout
    hook = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "MutatingWebhookConfiguration"][0]
    for webhook in hook["webhooks"]:
        webhook.update(namespaceSelector=nothing, objectSelector=nothing, failurePolicy="Ignore")
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([linkerd, hook]))
    yield hook["metadata"]["name"]
    kubectl.run("delete", "mutatingwebhookconfiguration", "linkerd-proxy-injector-webhook-config",
                hook["metadata"]["name"], check=False)


def test_the_footprint_names_helm_istioctl_and_other_meshes(istio, foreign_webhooks, playbook):
    results, output = playbook.run([{"name": "Footprint", "register": "found",
                                     "adoptmesh.istio.mesh_footprint": {"version": "1.32.0"}}])
    found = results["found"]
    istiod = [d for d in found["istiods"] if d["namespace"] == "istio-system" and d["name"] == "istiod"][0]
    assert istiod["installed_by"] == "helm" and istiod["helm_release"] == "istiod"
    assert istiod["version"] == istio
    assert found["foreign"] == ["MutatingWebhookConfiguration " + foreign_webhooks]
    assert found["other_meshes"] == [{"mesh": "linkerd", "webhook": "linkerd-proxy-injector-webhook-config"}]
    assert "peerauthentications.security.istio.io" in found["istio_crds"]
    assert any("1.32.0 was asked for: 2 minor versions at once" in s for s in found["skew"]), found["skew"]


def test_the_modules_the_roles_call_once(istio, kubectl, namespace, playbook):
    kubectl.run("label", "namespace", namespace, "istio-injection=enabled")
    results, output = playbook.run([
        {"name": "Review", "register": "review", "adoptmesh.istio.access_review": {"checks": [
            {"verb": "list", "resource": "destinationrules", "group": "networking.istio.io"},
            {"verb": "escalate", "resource": "clusterroles", "group": "rbac.authorization.k8s.io"}]}},
        {"name": "Injector", "register": "injector", "adoptmesh.istio.injector_ready": {"timeout": 60}},
        {"name": "Status", "register": "status", "adoptmesh.istio.mesh_status": {"namespaces": [namespace]}},
        {"name": "Initial", "register": "initial", "adoptmesh.istio.strict_mtls": {"initial": True}},
    ])
    assert len(results["review"]["allowed"]) == 2  # the plane's admin may do anything
    assert results["injector"]["dry_runs"] >= 1 and results["injector"]["summary"]["attempts"] == results["injector"]["dry_runs"]
    assert results["status"]["namespaces"][namespace]["injection"] is True
    assert results["status"]["istio_crds"] is True
    mode = kubectl.json("-n", "istio-system", "get", "peerauthentication", "default")["spec"]["mtls"]["mode"]
    # Created PERMISSIVE when absent; never changed afterwards, whatever its mode.
    kubectl.run("-n", "istio-system", "patch", "peerauthentication", "default", "--type=merge", "-p",
                json.dumps({"spec": {"mtls": {"mode": "STRICT"}}}))
    try:
        results, output = playbook.run([{"name": "Initial", "register": "initial",
                                         "adoptmesh.istio.strict_mtls": {"initial": True}}])
        assert results["initial"]["changed"] is False and recap_changed(output) == 0
        assert kubectl.json("-n", "istio-system", "get", "peerauthentication", "default")["spec"]["mtls"]["mode"] == \
            "STRICT"
    finally:
        kubectl.run("-n", "istio-system", "patch", "peerauthentication", "default", "--type=merge", "-p",
                    json.dumps({"spec": {"mtls": {"mode": mode}}}))


def test_restore_creates_what_is_missing_and_never_overwrites_an_ingress_made_since(kubectl, namespace, playbook, tmp_path):
    def ingress(name, host, labels=None):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [{
                    "path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}}
    both = [ingress("web", "web.example.test"), ingress("api", "api.example.test")]
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(both))
    live = kubectl.json("-n", namespace, "get", "ingress")["items"]
    backups = tmp_path / "backups"
    backups.mkdir()
    document = {"format": "adoptmesh.istio/ingress-backup/v1", "cluster": "localhost",
                "ingresses": [dict(i, apiVersion="networking.k8s.io/v1", kind="Ingress") for i in live]}
    (backups / "localhost.ingresses.json").write_text(json.dumps(document))
    # After the cutover: web is gone, and someone re-created api for another host and team.
    kubectl.run("-n", namespace, "delete", "ingress", "web", "api")
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(ingress("api", "api.other.test", {"team": "b"})))
    restore = {"name": "Restore", "register": "restore", "adoptmesh.istio.ingress_cutover": {
        "state": "restored", "backup_dir": str(backups), "cluster_name": "localhost"}}

    results, output = playbook.run([restore])
    assert results["restore"]["restored"] == ["{0}/web".format(namespace)]
    # (kubectl apply's last-applied-configuration annotation differs too.)
    assert results["restore"]["conflicts"] == [{"ingress": "{0}/api".format(namespace), "differs_in": [
        "spec.rules", "metadata.labels", "metadata.annotations"]}]
    assert "left as it is" in output
    after = dict((i["metadata"]["name"], i) for i in kubectl.json("-n", namespace, "get", "ingress")["items"])
    assert after["api"]["spec"]["rules"][0]["host"] == "api.other.test"  # the user's, untouched
    assert after["web"]["spec"]["rules"][0]["host"] == "web.example.test"

    # Asked to replace: the user's Ingress is backed up first, in its own file.
    replace = dict(restore, **{"adoptmesh.istio.ingress_cutover": dict(restore["adoptmesh.istio.ingress_cutover"],
                                                                       replace_existing=True)})
    results, output = playbook.run([replace], check=True)
    assert results["restore"]["restored"] == ["{0}/api".format(namespace)]
    assert not (backups / "localhost.replaced-ingresses.json").exists()
    results, output = playbook.run([replace])
    kept = json.loads((backups / "localhost.replaced-ingresses.json").read_text())
    assert [i["spec"]["rules"][0]["host"] for i in kept["ingresses"]] == ["api.other.test"]
    api = kubectl.json("-n", namespace, "get", "ingress", "api")
    assert api["spec"]["rules"][0]["host"] == "api.example.test"
    results, output = playbook.run([replace])
    assert results["restore"]["changed"] is False


@pytest.mark.parametrize("cluster_name,backup,message", [
    ("../x", None, "cluster_name '../x' cannot be a file name"),
    ("localhost", "[1, 2]", "the file holds a list, not a backup document"),
    ("localhost", '{"format": "adoptmesh.istio/ingress-backup/v1", "cluster": "prod", "ingresses": []}',
     "cluster is 'prod', not 'localhost': the backup of another cluster"),
    ("localhost", '{"format": "adoptmesh.istio/ingress-backup/v1", "cluster": "localhost", '
                  '"ingresses": [{"metadata": {"name": "web", "namespace": "../etc"}, "spec": "x"}]}',
     "ingresses[0].metadata.namespace is not a namespace name; ingresses[0].spec is missing or not a mapping"),
    ("localhost", '{"format": "adoptmesh.istio/ingress-backup/v1", "cluster": "localhost", "ingresses": {',
     "cannot read the Ingress backup"),
])
def test_restore_refuses_unsafe_names_and_backups_of_the_wrong_shape(playbook, tmp_path, cluster_name, backup, message):
    folder = tmp_path / "backups"
    folder.mkdir()
    if backup is not None:
        (folder / "localhost.ingresses.json").write_text(backup)
    _results, output = playbook.run([{"name": "Restore", "adoptmesh.istio.ingress_cutover": {
        "state": "restored", "backup_dir": str(folder), "cluster_name": cluster_name}}], expect_failure=True)
    assert message in output and "Traceback" not in output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("x")) == []


def test_mesh_wide_strict_waits_while_pods_outside_the_mesh_run(istio, kubectl, namespace, playbook):
    # Two namespaces outside the mesh: `outside` is then listed as not calling the mesh, `other`
    # never is, so mesh-wide STRICT stays blocked and the shared plane's mesh-wide policy untouched.
    outside, other = namespace + "-out", namespace + "-other"
    kubectl.run("label", "namespace", namespace, "istio-injection=enabled")
    kubectl.run("create", "namespace", outside)
    kubectl.run("create", "namespace", other)
    try:
        workloads = [deployment(namespace, "web"), deployment(outside, "agent"), deployment(other, "batch")]
        kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(workloads))
        for name in (namespace, outside, other):
            kubectl.run("-n", name, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=120s")

        def mesh_wide_policy():
            found = kubectl.run("-n", "istio-system", "get", "peerauthentication", "default", "-o", "json", check=False)
            return json.loads(found.stdout)["spec"] if found.returncode == 0 else None
        before = mesh_wide_policy()
        gate = {"name": "Mesh-wide", "register": "strict", "adoptmesh.istio.strict_mtls": {
            "namespaces": [namespace], "mesh_wide": True, "rewrite_default": True}}
        results, output = playbook.run([gate], check=True)
        blockers = dict((b["namespace"], b) for b in results["strict"]["mesh_wide_blockers"])
        assert [p.split("-")[0] for p in blockers[outside]["unmeshed_pods"]] == ["agent"], blockers
        assert "mesh-wide STRICT not set" in output and "namespace {0}: 1 running pod(s) without a sidecar".format(
            outside) in output
        assert "istio-system" not in results["strict"]["changed_namespaces"]
        # Listed as not calling the mesh, it no longer holds mesh-wide STRICT back; `other` still does.
        gate["adoptmesh.istio.strict_mtls"]["not_calling_mesh"] = [outside]
        results, output = playbook.run([gate], check=True)
        still = [b["namespace"] for b in results["strict"]["mesh_wide_blockers"]]
        assert outside not in still and other in still
        assert mesh_wide_policy() == before
    finally:
        for name in (outside, other):
            kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_injector_ready_in_check_mode_reports_why_without_waiting_or_failing(istio, playbook):
    # No injector serves this revision: the dry-run pod is admitted without a sidecar.
    results, _output = playbook.run([{"name": "Injector", "register": "injector",
                                      "adoptmesh.istio.injector_ready": {"revision": "no-such-revision",
                                                                         "wait_timeout": 300}}], check=True)
    injector = results["injector"]
    assert injector["injecting"] is False and injector["dry_runs"] == 1
    assert "admitted without a sidecar" in injector["reason"]
