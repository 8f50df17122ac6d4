"""adoptmesh.istio.traffic_replay against translations applied on a real API server.

A generated ingress-nginx log of the estate the translation tests use replays clean against the
objects the translation applied (read back from the cluster, both output APIs); a hand edit of a
live object then shows up as mismatches on the Ingress it came from, with its request shapes.
"""

import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from test_ingress_to_gateway_module import estate, translate_task

sys.path.insert(0, os.path.join(REPO, "tools"))
import access_logs  # noqa: E402


def replay_task(register, namespace, owner, log, **options):
    options.update(logs=[log], owner=owner, namespaces=[namespace])
    return {"name": "Replay", "register": register, "adoptmesh.istio.traffic_replay": options}


@pytest.fixture
def gateway_api_crds(istio, kubectl):
    crds = os.path.join(REPO, ".build", "content", "crds", "gateway-api-standard.yaml")
    kubectl.run("apply", "--server-side", "-f", crds)
    kubectl.run("wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io", "--timeout=60s")


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_a_generated_log_replays_clean_on_the_applied_objects_and_a_hand_edit_is_caught(
        gateway_api_crds, kubectl, namespace, playbook, tmp_path, output_api):
    objects = estate(namespace)
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    owner = "replay-" + output_api
    # The Gateway API cannot rewrite with regex captures (legacy): an error finding, applied anyway here.
    results = playbook.run([translate_task("applied", namespace, apply=True, owner=owner, output_api=output_api,
                                           allow_errors=output_api == "gateway-api")])[0]
    assert results["applied"]["changed"] is True
    ingresses = [o for o in objects if o["kind"] == "Ingress"]
    services = [o for o in objects if o["kind"] == "Service"]
    log = str(tmp_path / "access.log.gz")
    access_logs.Generator(access_logs.Estate(ingresses, services), seed=3).write(log, 20000)

    results, _output = playbook.run([replay_task("clean", namespace, owner, log)], check=True)
    clean = results["clean"]
    assert clean["changed"] is False and clean["output_api"] == output_api
    totals = clean["totals"]
    assert totals["lines"] == 20000 and totals["compared"] > 18000 and totals["skipped"] > 0
    assert totals["mismatched"] == 0 and totals["ambiguous"] == 0, clean["mismatches"][:3]
    assert clean["ingresses"]["{0}/web".format(namespace)]["verdict"] == "same"
    assert clean["ingresses"]["{0}/web-canary".format(namespace)]["same"] > 0  # its canary share
    assert clean["findings"] == []

    # Someone edits the live object for the shop host: /api goes to web now.
    host = "shop-{0}.example.com".format(namespace)
    if output_api == "istio":
        kind = "virtualservices.networking.istio.io"
        live = [v for v in kubectl.json("-n", namespace, "get", kind)["items"] if v["spec"]["hosts"] == [host]][0]
        for entry in live["spec"]["http"]:
            for route in entry.get("route", []):
                if route["destination"]["host"].startswith("api."):
                    route["destination"] = {"host": "web.{0}.svc.cluster.local".format(namespace), "port": {"number": 80}}
    else:
        kind = "httproutes.gateway.networking.k8s.io"
        live = [r for r in kubectl.json("-n", namespace, "get", kind)["items"] if r["spec"].get("hostnames") == [host]][0]
        for rule in live["spec"]["rules"]:
            for ref in rule.get("backendRefs", []):
                if ref["name"] == "api":
                    ref.update(name="web", port=80)
    kubectl.run("replace", "-f", "-", input=yaml.safe_dump(live))
    edited = playbook.run([replay_task("edited", namespace, owner, log, max_mismatch_requests=1)])[0]["edited"]
    assert edited["totals"]["mismatched"] > 100
    web = "{0}/web".format(namespace)
    assert edited["ingresses"][web]["verdict"] == "differs"
    shape = edited["mismatches"][0]
    assert shape["ingresses"] == [web] and shape["source"] == "api.{0}:8080".format(namespace)
    assert "web.{0}:80 over HTTPS".format(namespace) in shape["translation"] and len(shape["examples"]) == 3
    assert shape["path_pattern"].startswith("/api")
    [finding] = [f for f in edited["findings"] if f["ingress"] == web and f["code"] == "replay-mismatch"]
    assert finding["code"] == "replay-mismatch" and finding["severity"] == "error"


def test_no_parsable_line_fails_naming_the_file_and_the_line(istio, namespace, playbook, tmp_path):
    log = tmp_path / "error.log"
    log.write_text("2026/11/20 10:00:00 [error] 31#31: *1 upstream timed out\n")
    task = replay_task("failed", namespace, "nobody", str(log))
    task["adoptmesh.istio.traffic_replay"]["translation"] = {
        "resources": [{"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                       "metadata": {"name": "g", "namespace": "g"}, "spec": {"servers": []}}], "ingresses": {}}
    output = playbook.run([task], expect_failure=True)[1]
    assert "log file {0}: no line is an access log line".format(log) in output and "upstream timed out" in output, output
    assert "Traceback" not in output


def test_the_documented_example_finds_the_cookie_canary(tmp_path):
    """docs/ingress-translation.md's example run, as written there (offline: no cluster needed)."""
    log = str(tmp_path / "access.log.gz")
    example = os.path.join(REPO, "docs", "examples", "replay")
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "access_logs.py"), "--ingresses",
                    os.path.join(example, "ingresses.yaml"), "--lines", "100000", "--output", log],
                   check=True, capture_output=True, timeout=300)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"),
                                os.path.join(example, "replay.yml"), "-e", "access_log=" + log],
                               capture_output=True, text=True, env=env, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    # The figures the documentation shows: the generator is seeded, so every run gives them.
    assert ('"message": "2458 logged request(s) in 15 shape(s) would go elsewhere after the cutover; the most '
            'frequent, 864 x GET shop.example.com/{id}: ingress-nginx web-beta.shop:80, the translation web.shop:80"'
            in output)
    assert '"ingresses_differing": [\n                "shop/storefront-beta"' in output
