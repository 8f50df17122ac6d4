"""adoptmesh.istio.probe_convert against a real API server."""

import random

import yaml

from conftest import recap_changed
from test_probe_oracle import random_workload

REWRITE_OFF = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"}


def deployment(name, namespace, container, annotations=None):
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    if annotations:
        template["metadata"]["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}}


def seed(kubectl, namespace):
    web = {"name": "web", "image": "registry.invalid/web:1", "ports": [{"name": "http", "containerPort": 8080}]}
    objects = [
        deployment("opted-out", namespace, dict(web, readinessProbe={"httpGet": {"path": "/ready", "port": "http"}}),
                   annotations=REWRITE_OFF),
        deployment("local-host", namespace,
                   dict(web, livenessProbe={"httpGet": {"path": "/live", "port": 8080, "host": "127.0.0.1"}})),
        deployment("exec-only", namespace, dict(web, readinessProbe={"exec": {"command": ["true"]}})),
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": namespace},
         "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {
             "metadata": {"annotations": REWRITE_OFF},
             "spec": {"restartPolicy": "Never", "containers": [
                 dict(web, name="job", startupProbe={"tcpSocket": {"port": 8080}})]}}}}}},
    ]
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(objects))


def written_fields(kubectl, namespace):
    """What a write by the module would change: spec, labels, annotations. Not resourceVersion,
    which the Deployment controller bumps with status updates while the test runs."""
    items = kubectl.json("-n", namespace, "get", "deployments,cronjobs,peerauthentications")["items"]
    return dict((item["kind"] + "/" + item["metadata"]["name"],
                 (item["metadata"].get("generation"), item.get("spec"), item["metadata"].get("labels"),
                  dict((k, v) for k, v in (item["metadata"].get("annotations") or {}).items()
                       if not k.startswith("deployment.kubernetes.io/"))))  # the controller's revision
                for item in items)


def task(register, **options):
    return {"name": "Run probe_convert", "register": register, "adoptmesh.istio.probe_convert": options}


def test_audit_reads_the_namespace_and_reports_what_breaks(kubectl, namespace, playbook):
    seed(kubectl, namespace)
    results, output = playbook.run([task("audit", namespaces=[namespace])])
    audit = results["audit"]
    assert audit["changed"] is False
    codes = sorted((f["workload"], f["code"]) for f in audit["findings"] if f["severity"] != "info")
    assert codes == [
        ("{0}/CronJob/nightly".format(namespace), "tcp-probe-meaningless"),
        ("{0}/Deployment/local-host".format(namespace), "probe-host-set"),
        ("{0}/Deployment/opted-out".format(namespace), "rewrite-disabled"),
    ]
    assert audit["summary"]["blocking"] == 2 and audit["summary"]["workloads"] == 4
    assert "[WARNING]" in output and "rewrite-disabled" in output


def test_rewrite_check_mode_writes_nothing_then_applies_once(istio, kubectl, namespace, playbook):
    seed(kubectl, namespace)
    before = written_fields(kubectl, namespace)
    rewrite = task("rewrite", namespaces=[namespace], strategy="rewrite", apply=True)

    results, output = playbook.run([rewrite], check=True, diff=True)
    assert results["rewrite"]["changed"] is True
    assert written_fields(kubectl, namespace) == before
    assert "sidecar.istio.io/rewriteAppHTTPProbers: 'true'" in output or 'rewriteAppHTTPProbers: "true"' in output

    results, output = playbook.run([rewrite])
    assert recap_changed(output) == 1
    opted_out = kubectl.json("-n", namespace, "get", "deployment", "opted-out")
    assert opted_out["spec"]["template"]["metadata"]["annotations"]["sidecar.istio.io/rewriteAppHTTPProbers"] == "true"
    local = kubectl.json("-n", namespace, "get", "deployment", "local-host")
    assert "host" not in local["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]
    preview = results["rewrite"]["preview"]["{0}/Deployment/opted-out".format(namespace)]
    assert preview["app_probers"] == '{"/app-health/web/readyz":{"httpGet":{"path":"/ready","port":8080,"scheme":"HTTP"},"timeoutSeconds":1}}'

    results, output = playbook.run([rewrite])
    assert recap_changed(output) == 0
    assert results["rewrite"]["summary"]["blocking"] == 0


def test_exec_strategy_patches_probes_the_api_server_accepts(kubectl, namespace, playbook):
    seed(kubectl, namespace)
    convert = task("convert", namespaces=[namespace], strategy="exec", apply=True)
    results, output = playbook.run([convert], diff=True)
    assert recap_changed(output) == 1
    probe = kubectl.json("-n", namespace, "get", "deployment", "opted-out")["spec"]["template"]["spec"]["containers"][0]
    assert probe["readinessProbe"]["exec"]["command"][:2] == ["wget", "-q"]
    assert "httpGet" not in probe["readinessProbe"]
    assert probe["readinessProbe"]["periodSeconds"] == 10  # defaults the server filled in are kept
    cronjob = kubectl.json("-n", namespace, "get", "cronjob", "nightly")
    job_container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert job_container["startupProbe"]["exec"]["command"][0] == "nc"
    output = playbook.run([convert])[1]
    assert recap_changed(output) == 0


def test_health_port_creates_a_workload_peer_authentication(istio, kubectl, namespace, playbook):
    seed(kubectl, namespace)
    health = task("health", namespaces=[namespace], strategy="health_port", apply=True,
                  overrides={"{0}/Deployment/local-host".format(namespace): "rewrite"})
    results, output = playbook.run([health], check=True)
    assert results["health"]["changed"] is True
    assert kubectl.json("-n", namespace, "get", "peerauthentications")["items"] == []
    results, output = playbook.run([health])
    [peer_authentication] = kubectl.json("-n", namespace, "get", "peerauthentications")["items"]
    assert peer_authentication["spec"] == {"selector": {"matchLabels": {"app": "opted-out"}},
                                           "portLevelMtls": {"8080": {"mode": "DISABLE"}}}
    live = kubectl.json("-n", namespace, "get", "peerauthentication", peer_authentication["metadata"]["name"],
                        "--show-managed-fields")
    managers = [entry["manager"] for entry in live["metadata"]["managedFields"]]
    assert managers == ["adoptmesh-istio"]
    output = playbook.run([health])[1]
    assert recap_changed(output) == 0


def test_bad_input_fails_with_the_object_and_field_named(playbook):
    bad = task("bad", workloads=[
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"template": {}}}])
    output = playbook.run([bad], expect_failure=True)[1]
    assert "Deployment shop/web: spec.template.spec: is missing or not a mapping" in output
    assert "Traceback" not in output
    wrong_type = task("wrong", namespaces="not-a-list", strategy="sideways")
    output = playbook.run([wrong_type], expect_failure=True)[1]
    assert "value of strategy must be one of" in output


def test_unknown_namespace_reads_nothing_and_unreachable_api_fails_clearly(playbook, tmp_path):
    results = playbook.run([task("empty", namespaces=["does-not-exist"])])[0]
    assert results["empty"]["summary"]["workloads"] == 0
    kubeconfig = tmp_path / "unreachable"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "x", "user": {"token": "t"}}], "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    output = playbook.run([task("down", namespaces=["shop"], kubeconfig=str(kubeconfig))], expect_failure=True)[1]
    assert "cannot reach the Kubernetes API" in output and "host='127.0.0.1', port=1" in output
    assert "Traceback" not in output


def test_converted_random_workloads_pass_the_api_servers_validation(kubectl, namespace, tmp_path):
    """Output of every strategy for generated pod templates is accepted by a server-side dry run."""
    import sys
    import os
    from conftest import REPO
    sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
    from ansible_collections.adoptmesh.istio.plugins.module_utils import probes

    rng = random.Random(99)
    workloads = [random_workload(rng, index) for index in range(60)]
    for workload in workloads:
        workload["metadata"]["namespace"] = namespace
    outputs = []
    for strategy in ("rewrite", "exec", "health_port"):
        for result in probes.process_workloads(workloads, strategy):
            changed = result.changed_workload
            if changed is not None:
                changed = dict(changed, metadata=dict(changed["metadata"], name=changed["metadata"]["name"] + "-" + strategy[:2]))
                outputs.append(changed)
            outputs.extend(r for r in result.resources if r["kind"] != "PeerAuthentication")
    assert len(outputs) > 20
    kubectl.run("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(outputs))
