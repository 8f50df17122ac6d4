"""The fleet report's figures and charts, from per-cluster reports as the adoption_report role writes them."""

import re
from xml.etree import ElementTree

from ansible_collections.adoptmesh.istio.plugins.module_utils import fleet_report


def report(reached="inject", status="complete", namespaces=None, probes=None, ingress=None):
    return {"cluster": "x", "stage": "inject", "status": status,
            "state": {"reached": reached, "completed": {}, "failure": None},
            "namespaces": namespaces if namespaces is not None else {
                "shop": {"injection": True, "pods": 4, "with_sidecar": 4, "mtls_mode": "STRICT"},
                "legacy": {"injection": True, "pods": 2, "with_sidecar": 1, "mtls_mode": None}},
            "probes": probes if probes is not None else {"workloads": 3, "probes": 5, "blocking": 1, "changed": 2},
            "ingress": ingress if ingress is not None else {"istio-ingressgateway": {
                "namespace": "istio-ingress", "summary": {"ingresses": 5, "error": 1},
                "findings": [{"code": "a"}, {"code": "b"}]}}}


def test_figures_per_cluster_and_totals():
    summary = fleet_report.summarize({"b": report(), "a": None,
                                      "c": {"cluster": "c", "stage": "strict", "status": "failed", "error": "boom",
                                            "state": None}})
    assert [c["name"] for c in summary["clusters"]] == ["a", "b", "c"]
    a, b, c = summary["clusters"]
    assert a["status"] == "not run" and c["status"] == "failed" and c["error"] == "boom" and c["reached"] == ""
    assert (b["pods"], b["meshed"], b["coverage"]) == (6, 5, 83.3)
    assert b["mtls"] == {"STRICT": 1, "PERMISSIVE": 0, "DISABLE": 0, "inherits": 1}
    assert (b["probes_fixed"], b["probes_blocking"], b["ingresses"], b["ingress_findings"], b["ingress_errors"]) == \
        (2, 1, 5, 2, 1)
    assert b["reached_index"] == 3
    totals = summary["totals"]
    assert (totals["clusters"], totals["complete"], totals["failed"], totals["not_run"]) == (3, 1, 1, 1)
    assert totals["coverage"] == 83.3 and totals["reached"]["inject"] == 1


def test_every_bar_carries_its_figure_and_the_svg_is_well_formed():
    summary = fleet_report.summarize({"a": report(), "b": report(reached="strict", namespaces={})})
    charts = fleet_report.fleet_charts(summary)
    assert sorted(charts) == ["coverage", "ingress", "mtls", "probes", "stage"]
    for svg in charts.values():
        ElementTree.fromstring(svg)  # parses: no stray markup
    coverage = dict(((m.group(1), m.group(2)), int(m.group(3))) for m in re.finditer(
        r'data-row="(\w+)" data-series="([\w ]+)" data-value="(\d+)"', charts["coverage"]))
    assert coverage == {("a", "meshed"): 5, ("a", "not meshed"): 1, ("b", "meshed"): 0, ("b", "not meshed"): 0}
    assert 'data-row="b" data-series="reached" data-value="5"' in charts["stage"]


def test_names_are_escaped():
    summary = fleet_report.summarize({'<script>alert("x")</script>': report()})
    charts = fleet_report.fleet_charts(summary)
    assert "<script>" not in "".join(charts.values())


def test_a_failed_cluster_that_could_not_be_read_still_shows_a_bar_and_says_so():
    summary = fleet_report.summarize({"b": {"cluster": "b", "stage": "inject", "status": "failed", "error": "refused",
                                            "state": None}})
    stage = fleet_report.fleet_charts(summary)["stage"]
    assert 'data-row="b" data-series="failed" data-value="0"' in stage
    assert re.search(r'width="6\.0" height="\d+" fill="#c53030" data-row="b" data-series="failed"', stage)
    assert "unknown (no answer) (last run failed)" in stage


# --- any JSON, never a Python error ---------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers(min_value=-10 ** 30, max_value=10 ** 30)
                    | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=30)
FIELDS = ["cluster", "stage", "status", "state", "namespaces", "probes", "ingress", "error", "istio_sources"]


def mutated_reports():
    """A report with any of its fields (and their fields) replaced by any JSON value."""
    def mutate(base, replacements):
        result = dict(base)
        for field, value in replacements.items():
            result[field] = value
        return result
    return st.one_of(JSON, st.builds(mutate, st.just(report()), st.dictionaries(st.sampled_from(FIELDS), JSON)),
                     st.builds(lambda value: dict(report(), namespaces={"shop": value}), JSON),
                     st.builds(lambda value: dict(report(), ingress={"gw": value}), JSON),
                     st.builds(lambda value: dict(report(), ingress={"gw": {"summary": value, "findings": value}}), JSON),
                     st.builds(lambda value: dict(report(), state={"reached": value}), JSON))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=12), mutated_reports(), max_size=4))
def test_any_json_per_cluster_gives_figures_and_charts_never_a_python_error(reports):
    summary = fleet_report.summarize(reports)
    for cluster in summary["clusters"]:
        assert cluster["status"] in fleet_report.STATUS_CLASSES
        assert cluster["status_class"] == fleet_report.STATUS_CLASSES[cluster["status"]]
        assert isinstance(cluster["error"], str) and isinstance(cluster["stage"], str)
        assert 0 <= cluster["meshed"] <= cluster["pods"] <= fleet_report.LARGEST * 10
        if cluster["status"] == "unreadable":
            assert cluster["error"].startswith("unreadable report: ")
    for svg in fleet_report.fleet_charts(summary).values():
        ElementTree.fromstring(svg)


def test_what_is_not_a_report_is_shown_as_unreadable_with_the_reason():
    summary = fleet_report.summarize({"a": [1, 2], "b": dict(report(), status="<b>hacked</b>"),
                                      "c": {fleet_report.UNREADABLE: "c.json: Expecting value: line 1 column 1"},
                                      "d": dict(report(), namespaces={"shop": {"pods": float("nan"), "with_sidecar": 1e300}})})
    a, b, c, d = summary["clusters"]
    assert a["error"] == "unreadable report: the file holds a list, not a report"
    assert b["error"] == "unreadable report: status '<b>hacked</b>' is neither complete nor failed"
    assert c["error"] == "unreadable report: c.json: Expecting value: line 1 column 1"
    assert (d["pods"], d["meshed"]) == (0, 0)
    assert summary["totals"]["unreadable"] == 3


def test_annotations_per_cluster_and_across_the_fleet():
    def gateway(annotations):
        return {"namespace": "istio-ingress", "summary": {"ingresses": 3}, "findings": [], "annotations": annotations}
    snippet = {"ingresses": 2, "translated": 1, "warning": 0, "error": 1, "decision": "translated"}
    a = report(ingress={"public": gateway({"configuration-snippet": snippet}),
                        "internal": gateway({"configuration-snippet": dict(snippet, ingresses=1, error=0, translated=1),
                                             "limit-rps": {"ingresses": 1, "error": 1, "decision": "error"}})})
    b = report(ingress={"public": gateway({"configuration-snippet": dict(snippet, ingresses=4, translated=4, error=0),
                                           # What a tampered or broken report may hold is read as nothing.
                                           "": {"ingresses": 9}, "x" * 500: ["not", "a", "mapping"],
                                           "rewrite-target": {"ingresses": "many", "translated": None}})})
    summary = fleet_report.summarize({"a": a, "b": b})
    first = summary["clusters"][0]["annotations"]
    assert first["configuration-snippet"] == {"ingresses": 3, "translated": 2, "warning": 0, "error": 1,
                                              "decision": "translated"}
    assert first["limit-rps"]["error"] == 1
    fleet = summary["totals"]["annotations"]
    assert fleet["configuration-snippet"] == {"clusters": 2, "ingresses": 7, "translated": 6, "warning": 0, "error": 1,
                                              "decision": "translated"}
    assert fleet["limit-rps"]["clusters"] == 1 and fleet["rewrite-target"]["ingresses"] == 0
    assert "" not in fleet and all(len(name) <= 120 for name in fleet)
