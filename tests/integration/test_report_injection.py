"""Reports built from crafted clusters, names, annotations, log lines and state records, by the
adoption_report role's own templates: the Markdown through a CommonMark renderer shows no HTML from
data, and fleet.html in Chromium runs no script and holds no element or attribute from data."""

import html.parser
import json
import os
import subprocess
import sys

import yaml
from markdown_it import MarkdownIt

from browser import Browser
from conftest import REPO

PAYLOADS = ["<img src=x onerror=\"window.pwned=1\">", "</td></tr><script>window.pwned=2</script>",
            "```\n# fenced out\n```", "| cell | broken |", "[link](javascript:window.pwned=3)",
            "\" onmouseover=\"window.pwned=4", "<!-- -->", "&lt;b&gt;", "*x* ~~y~~ `z`"]


def crafted(payload):
    entry = {"injection": True, "revision": payload, "pods": 2, "with_sidecar": 1, "coverage": 50.0,
             "mtls_mode": payload, "without_sidecar": [{"pod": payload, "owner": payload, "reason": payload}]}
    finding = {"severity": payload, "code": payload, "workload": payload, "container": payload,
               "ingress": payload, "message": payload}
    return {"cluster": "crafted", "stage": payload, "status": "complete", "mesh_wide_mode": payload,
            "state": {"reached": payload, "completed": {payload: {"at": payload, "versions": {"istio": payload}}}},
            "namespaces": {payload: entry}, "restart_plan": {},
            "services_without_protocol": [{"service": payload, "port": payload, "name": payload}],
            "jobs_that_may_not_finish": [payload],
            "probes": {"probes": payload, "workloads": 1, "blocking": 1, "changed": 0}, "probe_findings": [finding],
            "strict": [{"namespace": payload, "strict": False, "forced": False, "listed": True, "reasons": [payload]}],
            "mesh_wide_blockers": [{"namespace": payload, "reasons": [payload]}],
            "ingress": {payload: {"namespace": payload,
                                  "summary": {"ingresses": 1, "resources": 2, "skipped": 0, "pruned": 0, "error": 1},
                                  "findings": [finding], "pruned": [payload], "not_translated": [],
                                  "replay": {"totals": {"lines": 1, "compared": 1, "same": 0, "mismatched": 1,
                                                        "ambiguous": 0, "skipped": 0, "not_compared": 0},
                                             "ingresses": {payload: {"verdict": payload, "mismatched": 1,
                                                                     "requests": 1, "ambiguous": 0}},
                                             "mismatches": [{"requests": 1, "method": payload, "host": payload,
                                                             "path_pattern": payload, "source": payload,
                                                             "translation": payload, "error": True}]}}},
            "egress": {"mode": payload, "captured_ranges": payload, "bypass_namespaces": [payload],
                       "namespace_ranges": payload, "service_entries": [], "blocked": [
                           {"host": payload, "ports": [payload], "source": payload}]},
            "istio_sources": {"istio_version": payload, "chart_source": payload, "kubernetes_version": payload,
                              "kubernetes_range": [payload], "gateway_api": {"version": payload},
                              "gateway_api_minimum": payload, "image_registries": [payload],
                              "proxy_versions": [payload], "findings": [finding], "source": payload}}


def write_reports(tmp_path, data, clusters, host="crafted"):
    play = [{"hosts": "all", "gather_facts": False, "tasks": [{
        "ansible.builtin.include_role": {"name": "adoptmesh.istio.adoption_report", "tasks_from": "write"},
        "vars": {"adoption_report_data": data, "adoption_report_dir": str(tmp_path / "reports"),
                 "adoption_report_fleet_clusters": clusters}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    inventory = {"all": {"hosts": {host: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    process = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), str(tmp_path / "play.yml"),
                              "-i", str(tmp_path / "inventory.yml")], capture_output=True, text=True, env=env,
                             timeout=300, check=False)
    assert process.returncode == 0, process.stdout + process.stderr


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(name for name, _value in attrs)

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append("<!--")


def test_the_markdown_report_renders_no_html_from_data(tmp_path):
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    for index, payload in enumerate(PAYLOADS):
        folder = tmp_path / str(index)
        folder.mkdir()
        write_reports(folder, crafted(payload), ["crafted"])
        markdown = (folder / "reports" / "crafted.md").read_text()
        parsed = Tags()
        parsed.feed(renderer.render(markdown))
        assert set(parsed.tags) <= {"h1", "h2", "h3", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td",
                                    "code", "strong", "em"}, (payload, set(parsed.tags))
        assert set(parsed.attributes) <= {"style"}, (payload, parsed.attributes)  # GFM's cell alignment only
        text = "".join(parsed.text)
        assert payload.splitlines()[0].strip() in text, payload
        # Every row of every table has as many cells as its header: no value closed or opened a cell.
        rendered = renderer.render(markdown)
        for table in rendered.split("<table>")[1:]:
            head, body = table.split("</thead>", 1)
            rows = body.split("</table>", 1)[0].split("<tr>")[1:]
            assert rows and all(row.count("<td") == head.count("<th>") for row in rows), (payload, table)


def test_a_failed_run_report_keeps_the_error_in_its_code_block(tmp_path):
    error = "denied\n```\n<script>window.pwned=5</script>\n# not a heading"
    data = {"cluster": "crafted", "stage": "inject", "status": "failed", "failed_task": "<b>task</b>", "error": error,
            "recorded_on_cluster": False, "state": None, "istio_sources": None}
    write_reports(tmp_path, data, ["crafted"])
    rendered = MarkdownIt("commonmark", {"html": True}).render((tmp_path / "reports" / "crafted.md").read_text())
    parsed = Tags()
    parsed.feed(rendered)
    assert "script" not in parsed.tags and "b" not in parsed.tags and parsed.tags.count("pre") == 1
    assert parsed.tags.count("h1") == 1 and "# not a heading" in "".join(parsed.text)


def test_fleet_html_runs_no_script_and_takes_no_element_from_data(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    payload = PAYLOADS[0] + PAYLOADS[1] + PAYLOADS[5]
    (reports / "broken.json").write_text("{not json")
    (reports / "listed.json").write_text("[1, 2]")
    (reports / "odd.json").write_text(json.dumps({"status": payload, "stage": payload}))
    (reports / "failing.json").write_text(json.dumps({"status": "failed", "stage": payload, "error": payload,
                                                      "state": {"reached": payload}, "namespaces": {payload: {}},
                                                      "ingress": {payload: {"namespace": payload}}}))
    write_reports(tmp_path, crafted(payload), ["crafted", "broken", "listed", "odd", "failing", "absent"])
    page_path = reports / "fleet.html"
    with Browser() as browser:
        page = browser.open("file://" + str(page_path))
        found = page.evaluate("""(() => {
            const all = Array.from(document.querySelectorAll('*'));
            return {pwned: window.pwned === undefined ? null : window.pwned,
                    tags: Array.from(new Set(all.map(e => e.tagName.toLowerCase()))).sort(),
                    handlers: all.flatMap(e => Array.from(e.attributes).map(a => a.name)).filter(n => n.startsWith('on')),
                    classes: Array.from(new Set(all.flatMap(e => Array.from(e.classList)))).sort(),
                    hrefs: Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href')),
                    text: document.body.innerText};
        })()""")
    assert found["pwned"] is None
    assert not set(found["tags"]) & {"script", "img", "iframe", "object", "embed"}, found["tags"]
    assert found["handlers"] == []
    assert set(found["classes"]) <= {"generated", "totals", "total", "figure", "charts", "chart", "row-label",
                                     "row-value", "legend", "bar", "status-complete", "status-failed",
                                     "status-not-run", "status-unreadable"}, found["classes"]
    assert not [h for h in found["hrefs"] if h.lower().startswith("javascript")]
    assert "unreadable report: broken.json" in found["text"]
    assert "unreadable report: the file holds a list, not a report" in found["text"]
    assert "unreadable report: status" in found["text"]
    assert PAYLOADS[0] in found["text"]  # shown as text
