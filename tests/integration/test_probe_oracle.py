"""The rewrite preview must equal what Istio's own injector produces.

The oracle is `istioctl kube-inject`, offline, with the injector configuration rendered from the
same pinned istiod chart: for a few hundred generated workloads the probes kubelet will see and
the ISTIO_KUBE_APP_PROBERS value must be identical to the module's preview.
"""

import json
import os
import random
import subprocess
import sys

import pytest
import yaml

from conftest import BIN, ISTIO_CHART_VERSIONS, REPO

sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
from ansible_collections.adoptmesh.istio.plugins.module_utils import probes  # noqa: E402

PROBE_FIELDS = ("readinessProbe", "livenessProbe", "startupProbe")
INJECTED_INIT_CONTAINERS = ("istio-init", "istio-validation", "enable-core-dump")


@pytest.fixture(scope="module")
def injector_files(tmp_path_factory):
    """The sidecar injector's config, values and mesh config, as the istiod chart renders them."""
    directory = tmp_path_factory.mktemp("injector")
    chart = os.path.join(REPO, ".build", "content", "charts", "istiod-{0}.tgz".format(ISTIO_CHART_VERSIONS[-1]))
    rendered = subprocess.run([os.path.join(BIN, "helm"), "template", "istiod", chart, "-n", "istio-system"],
                              check=True, capture_output=True, text=True,
                              env=dict(os.environ, HELM_CONFIG_HOME=str(directory / "helm"))).stdout
    files = {}
    for document in yaml.safe_load_all(rendered):
        if document and document["kind"] == "ConfigMap":
            name = document["metadata"]["name"]
            for key in ("config", "values", "mesh"):
                if name in ("istio-sidecar-injector", "istio") and key in document["data"]:
                    path = directory / "{0}-{1}".format(name, key)
                    path.write_text(document["data"][key])
                    files[key] = str(path)
    assert set(files) == {"config", "values", "mesh"}
    return files


def random_handler(rng, ports, lifecycle=False):
    kind = rng.choice(["httpGet", "httpGet", "tcpSocket", "grpc", "exec"] if not lifecycle
                      else ["httpGet", "tcpSocket", "exec"])
    port = rng.choice([8080, 9090, 15020] + [p["name"] for p in ports] + ["missing"])
    if kind == "httpGet":
        action = {"port": port}
        if rng.random() < 0.8:
            action["path"] = rng.choice(["/", "/ready", "/a/b?x=1&y=<2>", "/health"])
        if rng.random() < 0.3:
            action["scheme"] = rng.choice(["HTTP", "HTTPS"])
        if rng.random() < 0.2:
            action["host"] = rng.choice(["localhost", "10.0.0.7"])
        if rng.random() < 0.3:
            action["httpHeaders"] = [{"name": "X-Probe", "value": rng.choice(["1", "a&b", ""])}]
        handler = {"httpGet": action}
    elif kind == "tcpSocket":
        handler = {"tcpSocket": {"port": port}}
    elif kind == "grpc":
        handler = {"grpc": {"port": rng.choice([9090, 7070])}}
        if rng.random() < 0.5:
            handler["grpc"]["service"] = rng.choice(["", "ready", "svc.v1"])
    else:
        handler = {"exec": {"command": ["cat", "/tmp/ready"]}}
    if not lifecycle and rng.random() < 0.6:
        handler["timeoutSeconds"] = rng.randint(1, 9)
    if not lifecycle and rng.random() < 0.3:
        handler["periodSeconds"] = rng.randint(1, 30)
    return handler


def random_workload(rng, index):
    containers = []
    for number in range(rng.randint(1, 3)):
        ports = [{"name": name, "containerPort": rng.choice([8080, 8443, 9090, 3000])}
                 for name in rng.sample(["http", "grpc", "metrics"], rng.randint(0, 2))]
        container = {"name": "c{0}".format(number), "image": "registry.invalid/app:1"}
        if ports:
            container["ports"] = ports
        for field in PROBE_FIELDS:
            if rng.random() < 0.6:
                container[field] = random_handler(rng, ports)
        if rng.random() < 0.3:
            container["lifecycle"] = {"preStop": random_handler(rng, ports, lifecycle=True)}
        containers.append(container)
    annotations = {}
    roll = rng.random()
    if roll < 0.15:
        annotations[probes.REWRITE_ANNOTATION] = rng.choice(["false", "0", "F"])
    elif roll < 0.25:
        annotations[probes.REWRITE_ANNOTATION] = rng.choice(["true", "maybe"])
    if rng.random() < 0.1:
        annotations[probes.STATUS_PORT_ANNOTATION] = "15999"
    if rng.random() < 0.1:  # the pod's own proxy config moves the status port too
        annotations[probes.PROXY_CONFIG_ANNOTATION] = rng.choice(['{"statusPort": 15030}', "statusPort: 15031\n"])
    if rng.random() < 0.1:  # Istio's gRPC templates turn the rewrite off
        annotations[probes.TEMPLATES_ANNOTATION] = rng.choice(["sidecar,grpc-agent", "sidecar"])
    labels = {"app": "w{0}".format(index)}
    if rng.random() < 0.1:  # only "false" opts out; Istio ignores Go-style booleans here
        labels[probes.INJECT_ANNOTATION] = rng.choice(["false", "False", "0"])
    template = {"metadata": {"labels": labels}, "spec": {"containers": containers}}
    if annotations:
        template["metadata"]["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "w{0}".format(index), "namespace": "oracle"},
            "spec": {"selector": {"matchLabels": {"app": "w{0}".format(index)}}, "template": template}}


def kube_inject(files, workloads, tmp_path):
    source = tmp_path / "workloads.yaml"
    source.write_text(yaml.safe_dump_all(workloads))
    # --revision avoids a cluster lookup of the default revision; native sidecars off keeps the
    # proxy a regular container, as on the kwok nodes of the local plane.
    result = subprocess.run(
        [os.path.join(BIN, "istioctl"), "kube-inject", "--revision", "default", "-f", str(source),
         "--injectConfigFile", files["config"], "--valuesFile", files["values"], "--meshConfigFile", files["mesh"]],
        check=True, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, ENABLE_NATIVE_SIDECARS="false", KUBECONFIG=os.devnull))
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def without_nulls(value):
    """kube-inject re-serialises whole objects from Go structs, writing unset pointers as null."""
    if isinstance(value, dict):
        return dict((k, without_nulls(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def observed(injected):
    spec = injected["spec"]["template"]["spec"]
    probers, containers = None, {}
    for container in spec["containers"] + spec.get("initContainers", []):
        if container["name"] in INJECTED_INIT_CONTAINERS:
            continue
        if container["name"] == probes.PROXY_CONTAINER:
            probers = next((e["value"] for e in container.get("env", []) if e["name"] == probes.APP_PROBERS_ENV), None)
            continue
        handlers = dict((field, container[field]) for field in PROBE_FIELDS if field in container)
        for hook, handler in (container.get("lifecycle") or {}).items():
            handlers["lifecycle." + hook] = handler
        containers[container["name"]] = without_nulls(handlers)
    return probers, containers


def expected(workload, preview):
    containers = {}
    for container in workload["spec"]["template"]["spec"]["containers"]:
        if container["name"] == probes.PROXY_CONTAINER:
            continue
        handlers = dict((field, container[field]) for field in PROBE_FIELDS if field in container)
        for hook, handler in (container.get("lifecycle") or {}).items():
            handlers["lifecycle." + hook] = handler
        handlers.update(preview["containers"].get(container["name"], {}))
        containers[container["name"]] = handlers
    return preview["app_probers"], containers


def assert_previews_equal(workloads, injected):
    """Each workload's preview against what kube-inject made of it; the first two differences shown."""
    mismatches = []
    for workload, result in zip(workloads, injected):
        preview = probes.preview_rewrite(workload)
        if expected(workload, preview) != observed(result):
            mismatches.append((workload["metadata"]["name"], expected(workload, preview), observed(result)))
    assert not mismatches, json.dumps(mismatches[:2], indent=1)


def test_rewrite_preview_equals_istioctl_kube_inject(injector_files, tmp_path):
    rng = random.Random(20261126)
    workloads = [random_workload(rng, index) for index in range(300)]
    injected = kube_inject(injector_files, workloads, tmp_path)
    assert len(injected) == len(workloads)
    assert_previews_equal(workloads, injected)


def test_preview_of_the_rewrite_strategy_output_equals_kube_inject(injector_files, tmp_path):
    """After the module fixes a workload, Istio injects exactly what the preview promised."""
    rng = random.Random(7)
    workloads = [random_workload(rng, index) for index in range(120)]
    auditor = probes.ProbeAuditor()
    results = [auditor.process(workload, "rewrite") for workload in workloads]
    fixed = [result.changed_workload or result.workload for result in results]
    injected = kube_inject(injector_files, fixed, tmp_path)
    for workload, result, output in zip(fixed, results, injected):
        assert expected(workload, result.preview) == observed(output), workload["metadata"]["name"]


def test_preview_of_already_injected_manifests_equals_a_second_kube_inject(injector_files, tmp_path):
    """Injecting an injected manifest again (after a probe was added, and with the sidecar's
    probers changed by hand) keeps the sidecar's existing ISTIO_KUBE_APP_PROBERS entries, which
    win over the new ones; the preview says the same."""
    rng = random.Random(99)
    workloads = [random_workload(rng, index) for index in range(150)]
    first = kube_inject(injector_files, workloads, tmp_path)
    again = []
    for number, injected in enumerate(first):
        spec = injected["spec"]["template"]["spec"]
        app = [c for c in spec["containers"] if c["name"] != probes.PROXY_CONTAINER][0]
        if number % 2 == 0 and "livenessProbe" not in app:
            app["livenessProbe"] = {"httpGet": {"path": "/added", "port": 8080}, "timeoutSeconds": 3}
        for container in spec["containers"]:
            for env in container.get("env") or []:
                if env["name"] == probes.APP_PROBERS_ENV and number % 3 == 0:
                    current = json.loads(env["value"])
                    current["/app-health/{0}/readyz".format(app["name"])] = {"tcpSocket": {"port": 7070}}
                    env["value"] = json.dumps(current)
        again.append(without_nulls(injected))
    reinjected = kube_inject(injector_files, again, tmp_path)
    assert_previews_equal(again, reinjected)
