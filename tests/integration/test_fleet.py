"""Fleet runs of playbooks/adopt-istio.yml over inventories/local-fleet, on three planes at once.

fleet-a is the canary; fleet-b and fleet-c follow one at a time. A stopped API server fails its
cluster, and the rollout stops or goes on as the policy says; a re-run once it is back resumes.
"""

import concurrent.futures
import json
import os
import re

import pytest

from conftest import REPO, Tool, plane_module
from test_adoption_playbook import ESTATE, run_playbook

FLEET = ("fleet-a", "fleet-b", "fleet-c")
INVENTORY = os.path.join(REPO, "inventories", "local-fleet")


def recap_by_host(output):
    """{host: {'ok': n, 'changed': n, 'failed': n, ...}} from the play recap."""
    recap = {}
    for line in output.split("PLAY RECAP")[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match:
            recap[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2)))
    return recap


def first_and_last_lines(output, host):
    """Indexes of the first and last task result lines of a host."""
    body = output.split("PLAY RECAP")[0].splitlines()
    marks = [i for i, line in enumerate(body) if re.match(r"^(ok|changed|fatal|skipping|failed): \[{0}\]".format(host), line)]
    return (marks[0], marks[-1]) if marks else (None, None)


class Fleet:
    def __init__(self, planes, directory, prefix):
        self.planes = planes
        self.directory = directory
        self.prefix = prefix
        self.kubectl = dict((name, Tool("kubectl", plane)) for name, plane in planes.items())
        self.reports = directory / "reports"

    def run(self, *args, expect_failure=False):
        return run_playbook(
            ["-i", INVENTORY, "-e", "adoptmesh_plane_prefix=" + self.prefix,
             "-e", "adoptmesh_report_dir=" + str(self.reports)] + list(args),
            self.directory, expect_failure=expect_failure)

    def state(self, name):
        result = self.kubectl[name].run("-n", "istio-system", "get", "configmap", "adoptmesh-adoption-state",
                                        "-o", "json", check=False)
        if result.returncode != 0:
            return None
        data = json.loads(result.stdout)["data"]
        return {"reached": data["reached"], "completed": json.loads(data["completed"]),
                "failure": json.loads(data["failure"]) if data.get("failure") else None}

    def report(self, name):
        with open(self.reports / (name + ".json")) as handle:
            return json.load(handle)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    prefix = "pytest-{0}-".format(os.getpid())
    planes = {}

    def start(name):
        plane = plane_module.ControlPlane(name=prefix + name)
        planes[name] = plane
        plane.start()
        Tool("kubectl", plane).run("apply", "-f", ESTATE)
        Tool("kubectl", plane).run("wait", "--for=condition=Available", "deployment", "--all", "-A", "--timeout=120s")
        return plane

    try:
        with concurrent.futures.ThreadPoolExecutor(len(FLEET)) as pool:
            for future in [pool.submit(start, name) for name in FLEET]:
                future.result()
        yield Fleet(planes, tmp_path_factory.mktemp("fleet"), prefix)
    finally:
        for plane in planes.values():
            plane.stop(remove=not os.environ.get("KEEP_PLANES"))


def test_a_canary_that_fails_stops_the_whole_rollout(fleet):
    fleet.planes["fleet-a"].stop_apiserver()
    try:
        output = fleet.run("-e", "adoption_stage=inject", expect_failure=True)
    finally:
        fleet.planes["fleet-a"].start_apiserver()
    recap = recap_by_host(output)
    assert recap["fleet-a"]["failed"] == 1, output
    # any_errors_fatal on the canary play: no other cluster was touched.
    assert "fleet-b" not in recap and "fleet-c" not in recap
    assert fleet.state("fleet-b") is None and fleet.state("fleet-c") is None
    report = fleet.report("fleet-a")
    assert report["status"] == "failed" and report["stage"] == "inject"
    assert "cannot reach the Kubernetes API" in report["error"] or "Connection refused" in report["error"], report
    assert report["recorded_on_cluster"] is False
    assert "cluster fleet-a: the run to stage inject stopped at task" in output


def test_canary_first_then_a_stopped_cluster_halts_the_rest_under_the_default_policy(fleet):
    fleet.planes["fleet-b"].stop_apiserver()
    output = fleet.run("-e", "adoption_stage=inject", expect_failure=True)
    recap = recap_by_host(output)
    assert recap["fleet-a"]["failed"] == 0 and recap["fleet-b"]["failed"] == 1, output
    assert "fleet-c" not in recap, "max_fail_percentage 0: the batch after the failed one must not start"
    # The canary ran alone, before anyone else.
    a_first, a_last = first_and_last_lines(output, "fleet-a")
    b_first = first_and_last_lines(output, "fleet-b")[0]
    assert a_first is not None and b_first is not None and a_last < b_first
    # The batched restarts said how they went while they ran, a line per batch.
    assert re.search(r"^\[fleet-a\] batch 1/\d+: \d+ workloads restarted and rolled out, \d+ s so far$", output, re.M), output
    state = fleet.state("fleet-a")
    assert state["reached"] == "inject" and state["failure"] is None
    assert state["completed"]["install"]["versions"]["istio"] == "1.31.0-dev.eed52ebb66ad"
    assert fleet.state("fleet-c") is None
    assert fleet.report("fleet-b")["status"] == "failed"
    assert fleet.report("fleet-a")["status"] == "complete"


def test_any_errors_fatal_stops_the_clusters_of_the_batch_at_once(fleet):
    output = fleet.run("-e", "adoption_stage=inject", "-e", "adoption_serial=2", "-e", "adoption_max_fail_percentage=50",
                       "-e", "adoption_any_errors_fatal=true", expect_failure=True)
    recap = recap_by_host(output)
    assert recap["fleet-b"]["failed"] == 1, output
    assert "Stop the run on this cluster and the whole rollout" in output
    # fleet-c stopped where it was, without a failure of its own: its record on the cluster still
    # says what it last completed (nothing yet), and the next run resumes it.
    assert output.count("NO MORE HOSTS LEFT") >= 1 and recap["fleet-c"]["failed"] == 0
    assert fleet.state("fleet-c") is None


def test_a_policy_that_tolerates_failures_goes_on_past_the_stopped_cluster(fleet):
    # Ansible ends a play when every host of a batch failed, whatever max_fail_percentage says: a
    # tolerated failure needs batches of more than one cluster. Here fleet-b and fleet-c form one
    # batch, and half of it may fail.
    output = fleet.run("-e", "adoption_stage=inject", "-e", "adoption_serial=2", "-e", "adoption_max_fail_percentage=50",
                       expect_failure=True)
    recap = recap_by_host(output)
    assert recap["fleet-a"]["changed"] == 0, "the canary was done already"
    assert recap["fleet-b"]["failed"] == 1 and recap["fleet-c"]["failed"] == 0, output
    assert fleet.state("fleet-c")["reached"] == "inject"
    coverage = fleet.report("fleet-c")["namespaces"]
    assert all(coverage[name]["with_sidecar"] == coverage[name]["pods"] for name in ("shop", "payments", "legacy"))


# What the page draws, read back from the DOM: every chart's bars with their figures and size.
READ_PAGE = """(() => {
  const charts = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    charts[svg.id] = {width: box.width, height: box.height, bars: Array.from(svg.querySelectorAll('rect.bar')).map(
      r => ({row: r.dataset.row, series: r.dataset.series, value: Number(r.dataset.value),
             width: r.getBoundingClientRect().width}))};
  }
  const rows = Array.from(document.querySelectorAll('#clusters tbody tr')).map(
    tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim()));
  return JSON.stringify({charts, rows});
})()"""


def test_the_fleet_report_shows_where_each_cluster_stands_in_a_browser(fleet):
    from browser import Browser
    page_path = fleet.reports / "fleet.html"
    with Browser() as browser:
        page = browser.open("file://" + str(page_path))
        seen = json.loads(page.evaluate(READ_PAGE))
        os.makedirs(os.path.join(REPO, "tests", "output"), exist_ok=True)
        page.screenshot(os.path.join(REPO, "tests", "output", "fleet-report.png"))
        assert page.problems() == []
    charts = seen["charts"]
    assert sorted(charts) == ["chart-coverage", "chart-ingress", "chart-mtls", "chart-probes", "chart-stage"]
    for chart in charts.values():
        assert chart["width"] > 300 and chart["height"] > 50
        assert set(b["row"] for b in chart["bars"]) == set(FLEET)

    def drawn(chart, row, series):
        [found] = [b for b in charts[chart]["bars"] if b["row"] == row and b["series"] == series]
        return found

    for name in FLEET:
        report = fleet.report(name)
        if report["status"] == "failed":
            assert drawn("chart-stage", name, "failed")["value"] == 0  # fleet-b never got past preflight
            continue
        namespaces = report["namespaces"].values()
        pods, meshed = sum(n["pods"] for n in namespaces), sum(n["with_sidecar"] for n in namespaces)
        assert drawn("chart-coverage", name, "meshed")["value"] == meshed and meshed > 0
        assert drawn("chart-coverage", name, "not meshed")["value"] == pods - meshed
        assert drawn("chart-coverage", name, "meshed")["width"] > 0
        assert drawn("chart-stage", name, "reached")["value"] == 3  # inject
        modes = [n["mtls_mode"] or "inherits" for n in namespaces]
        for mode in ("STRICT", "PERMISSIVE", "inherits"):
            assert drawn("chart-mtls", name, mode)["value"] == modes.count(mode)
        assert drawn("chart-probes", name, "fixed")["value"] == report["probes"]["changed"]
        assert drawn("chart-probes", name, "blocking")["value"] == report["probes"]["blocking"]
    rows = dict((row[0], row) for row in seen["rows"])
    assert rows["fleet-b"][1] == "failed" and rows["fleet-a"][1] == "complete" and rows["fleet-a"][3] == "inject"
    # The "Istio sources" column: version, the OCI chart source, Gateway API, what preflight found.
    assert rows["fleet-a"][8].startswith("1.31.0-dev.eed52ebb66ad from oci://127.0.0.1:"), rows["fleet-a"]
    assert "/istio/release/charts; Gateway API none; 0 errors, 0 warnings" in rows["fleet-a"][8], rows["fleet-a"]
    assert rows["fleet-b"][8] == "not checked"


def test_the_rerun_after_the_cluster_is_back_changes_only_what_was_left(fleet):
    fleet.planes["fleet-b"].start_apiserver()
    output = fleet.run("-e", "adoption_stage=inject")
    recap = recap_by_host(output)
    assert recap["fleet-a"]["changed"] == 0 and recap["fleet-c"]["changed"] == 0, recap
    assert recap["fleet-b"]["changed"] > 0, output
    state = fleet.state("fleet-b")
    assert state["reached"] == "inject" and state["failure"] is None
    assert fleet.report("fleet-b")["status"] == "complete"
    # And once more: the whole fleet is where it was asked to be, nothing left to change.
    output = fleet.run("-e", "adoption_stage=inject")
    assert all(entry["changed"] == 0 for entry in recap_by_host(output).values()), output
