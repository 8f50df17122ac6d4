# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: per-cluster adoption reports summed up, and the charts of the HTML page.

`summarize` reads the per-cluster JSON reports (as the adoption_report role writes them) into the
figures the page shows; `bar_chart` draws one horizontal bar chart as inline SVG, drawn here on
the controller, so the page needs no script, no CDN and no network. Every bar carries its figure
in `data-*` attributes and a tooltip, so what is drawn can be checked against the JSON.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re
from html import escape

from .errors import depth_guarded
from .stages import MAIN_STAGES

# The stages a cluster can have reached, in order (the one list, module_utils/stages.py).
STAGES = MAIN_STAGES
MTLS_MODES = ("STRICT", "PERMISSIVE", "DISABLE", "inherits")
PALETTE = {"meshed": "#2f855a", "not meshed": "#c05621", "STRICT": "#2b6cb0", "PERMISSIVE": "#d69e2e",
           "DISABLE": "#c53030", "inherits": "#a0aec0", "fixed": "#2f855a", "blocking": "#c53030",
           "translated": "#2b6cb0", "findings": "#d69e2e", "errors": "#c53030", "reached": "#2b6cb0",
           "failed": "#c53030", "not run": "#a0aec0"}


# What a cluster's row can say; the page's CSS classes come from here, never from a report.
STATUS_CLASSES = {"complete": "complete", "failed": "failed", "not run": "not-run", "unreadable": "unreadable"}
# The lookup's stand-in for a report file it could not read or parse.
UNREADABLE = "adoptmesh.istio/unreadable"
LARGEST = 10 ** 12
TEXT_MAX = 4000
# Characters HTML and SVG (XML) cannot hold even escaped; shown as U+FFFD.
_UNPRINTABLE = re.compile(u"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _number(value):
    """A count from a report: a finite, non-negative number of sane size, else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return min(max(value, 0), LARGEST)


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _text(value):
    """A string from a report (a number is written as one); anything else is empty."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return _UNPRINTABLE.sub(u"\ufffd", value[:TEXT_MAX]) if isinstance(value, str) else ""


def _empty(name, status, error=""):
    return {"name": name, "status": status, "status_class": STATUS_CLASSES[status], "stage": "", "reached": "",
            "reached_known": True, "reached_index": 0, "error": error,
            "pods": 0, "meshed": 0, "coverage": None, "namespaces": {}, "mtls": dict((m, 0) for m in MTLS_MODES),
            "probes_fixed": 0, "probes_blocking": 0, "probes_audited": False, "ingresses": 0,
            "ingress_findings": 0, "ingress_errors": 0, "gateways": [], "annotations": {},
            "istio_sources": istio_sources(None)}


ANNOTATION_OUTCOMES = ("translated", "warning", "error")


def _annotations(gateways_section):
    """{annotation: {ingresses, translated, warning, error, decision}} of one cluster, summed over its
    gateways (each gateway's `annotations`, as ingress_to_gateway returns them)."""
    table = {}
    for gateway in _mapping(gateways_section).values():
        for name, entry in sorted(_mapping(_mapping(gateway).get("annotations")).items()):
            entry = _mapping(entry)
            total = table.setdefault(_text(name)[:120], dict([("ingresses", 0), ("decision", "")] +
                                                             [(o, 0) for o in ANNOTATION_OUTCOMES]))
            for key in ("ingresses",) + ANNOTATION_OUTCOMES:
                total[key] += _number(entry.get(key))
            total["decision"] = total["decision"] or _text(entry.get("decision"))[:20]
    table.pop("", None)
    return table


def _json_kind(value):
    """What a JSON value is, in JSON's words (Ansible hands over its own list and dict types)."""
    for kinds, name in ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"),
                        ((list, tuple), "a list"), (dict, "an object")):
        if isinstance(value, kinds):
            return name
    return "null" if value is None else "a " + type(value).__name__


def unreadable_reason(report):
    """Why a report cannot be read as one, or None. Everything else in it is read leniently."""
    if not isinstance(report, dict):
        return "the file holds {0}, not a report".format(_json_kind(report))
    if UNREADABLE in report:
        return _text(report[UNREADABLE]) or "unreadable"
    status = report.get("status", "complete")
    if status not in ("complete", "failed"):
        return "status {0!r} is neither complete nor failed".format(_text(status)[:80] or type(status).__name__)
    return None


def cluster_figures(name, report):
    """The figures of one cluster; `report` None for a cluster with no report yet. Any JSON is
    taken: what cannot be read as a report gives a row "unreadable report: <reason>"."""
    name = _text(name)
    if report is None:
        return _empty(name, "not run")
    reason = unreadable_reason(report)
    if reason:
        return _empty(name, "unreadable", "unreadable report: " + reason)
    state = report.get("state")
    reached = _text(_mapping(state).get("reached"))
    namespaces = {}
    mtls = dict((m, 0) for m in MTLS_MODES)
    pods = meshed = 0
    for namespace, entry in sorted(_mapping(report.get("namespaces")).items()):
        entry = _mapping(entry)
        mode = entry.get("mtls_mode") or "inherits"
        mode = mode if mode in MTLS_MODES else "inherits"
        mtls[mode] += 1
        pods += _number(entry.get("pods"))
        meshed += _number(entry.get("with_sidecar"))
        namespaces[_text(namespace)] = {"injection": bool(entry.get("injection")), "pods": _number(entry.get("pods")),
                                        "meshed": _number(entry.get("with_sidecar")), "mtls": mode}
    meshed = min(meshed, pods)
    probes = _mapping(report.get("probes"))
    gateways = []
    for gateway_name, gateway in sorted(_mapping(report.get("ingress")).items()):
        gateway = _mapping(gateway)
        summary = _mapping(gateway.get("summary"))
        findings = gateway.get("findings")
        gateways.append({"name": _text(gateway_name), "namespace": _text(gateway.get("namespace")),
                         "ingresses": _number(summary.get("ingresses")),
                         "findings": len(findings) if isinstance(findings, list) else 0,
                         "errors": _number(summary.get("error"))})
    status = report.get("status", "complete")
    return {"name": name, "status": status, "status_class": STATUS_CLASSES[status],
            "stage": _text(report.get("stage")), "reached": reached, "reached_known": isinstance(state, dict),
            "reached_index": STAGES.index(reached) + 1 if reached in STAGES else 0,
            "error": _text(report.get("error")), "pods": pods, "meshed": meshed,
            "coverage": round(100.0 * meshed / pods, 1) if pods else None, "namespaces": namespaces, "mtls": mtls,
            "probes_fixed": _number(probes.get("changed")), "probes_blocking": _number(probes.get("blocking")),
            "probes_audited": bool(probes), "ingresses": sum(g["ingresses"] for g in gateways),
            "ingress_findings": sum(g["findings"] for g in gateways),
            "ingress_errors": sum(g["errors"] for g in gateways), "gateways": gateways,
            "annotations": _annotations(report.get("ingress")),
            "istio_sources": istio_sources(report.get("istio_sources"))}


def istio_sources(section):
    """One cluster's "Istio sources and compatibility" in a few words: the Istio version, the chart
    source, the Gateway API bundle and the count of errors and warnings preflight found."""
    if not isinstance(section, dict):
        return {"checked": False, "version": "", "chart_source": "", "gateway_api": "", "errors": 0, "warnings": 0}
    listed = section.get("findings")
    findings = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    bundle = section.get("gateway_api")
    return {"checked": True, "version": _text(section.get("istio_version")),
            "chart_source": _text(section.get("chart_source")),
            "gateway_api": (_text(bundle.get("version")) or "unknown") if isinstance(bundle, dict) else "none",
            "errors": sum(1 for f in findings if f.get("severity") == "error"),
            "warnings": sum(1 for f in findings if f.get("severity") == "warning")}


@depth_guarded("adoption reports")
def summarize(reports):
    """{clusters: [figures...], totals: {...}} from {cluster: report or None}, in cluster order."""
    reports = _mapping(reports)
    clusters = [cluster_figures(name, reports[name]) for name in sorted(reports, key=str)]
    totals = {"clusters": len(clusters),
              "unreadable": sum(1 for c in clusters if c["status"] == "unreadable"),
              "complete": sum(1 for c in clusters if c["status"] == "complete"),
              "failed": sum(1 for c in clusters if c["status"] == "failed"),
              "not_run": sum(1 for c in clusters if c["status"] == "not run"),
              "pods": sum(c["pods"] for c in clusters), "meshed": sum(c["meshed"] for c in clusters),
              "probes_fixed": sum(c["probes_fixed"] for c in clusters),
              "probes_blocking": sum(c["probes_blocking"] for c in clusters),
              "ingresses": sum(c["ingresses"] for c in clusters),
              "ingress_findings": sum(c["ingress_findings"] for c in clusters)}
    totals["reached"] = dict((stage, sum(1 for c in clusters if c["reached"] == stage)) for stage in STAGES)
    # Per ingress-nginx annotation across the fleet: how many clusters and Ingresses set it, and
    # what became of it on them.
    annotations = {}
    for cluster in clusters:
        for name, entry in cluster["annotations"].items():
            total = annotations.setdefault(name, dict([("clusters", 0), ("ingresses", 0), ("decision", "")] +
                                                      [(o, 0) for o in ANNOTATION_OUTCOMES]))
            total["clusters"] += 1
            for key in ("ingresses",) + ANNOTATION_OUTCOMES:
                total[key] += entry[key]
            total["decision"] = total["decision"] or entry["decision"]
    totals["annotations"] = dict(sorted(annotations.items()))
    totals["coverage"] = round(100.0 * totals["meshed"] / totals["pods"], 1) if totals["pods"] else None
    return {"clusters": clusters, "totals": totals}


def bar_chart(chart_id, title, rows, series, stacked=True, maximum=None, labels=None, stubs=()):
    """Inline SVG of horizontal bars: one row per entry of `rows` ({label, values: {series: n}}),
    stacked or side by side. `labels` maps a row label to the text written after its bars (the
    figures by default). A series named in `stubs` is drawn at least a few pixels wide when a row
    has it, even at 0 (a failed run that reached no stage still shows)."""
    row_height = 22 if stacked else 10 * len(series) + 8
    left, right, top = 150, 140, 8
    width = 640
    plot = width - left - right
    largest = maximum or max([sum(r["values"].get(s, 0) for s in series) if stacked else
                              max([r["values"].get(s, 0) for s in series] or [0]) for r in rows] or [0]) or 1
    legend_y = top + row_height * len(rows) + 18
    height = legend_y + 16
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{0}" role="img" aria-label="{1}" '
             'viewBox="0 0 {2} {3}" width="{2}" height="{3}" data-series="{4}">'.format(
                 escape(chart_id), escape(title), width, height, escape(",".join(series))),
             "<title>{0}</title>".format(escape(title))]
    for index, row in enumerate(rows):
        y = top + index * row_height
        parts.append('<text class="row-label" x="{0}" y="{1}" text-anchor="end">{2}</text>'.format(
            left - 8, y + row_height / 2 + 4, escape(row["label"])))
        x = left
        for position, name in enumerate(series):
            value = row["values"].get(name, 0)
            length = plot * value / largest
            if name in stubs and name in row["values"]:
                length = max(length, 6)
            bar_y = y + 3 if stacked else y + 4 + position * 10
            bar_height = row_height - 6 if stacked else 9
            parts.append('<rect class="bar" x="{0:.1f}" y="{1}" width="{2:.1f}" height="{3}" fill="{4}" '
                         'data-row="{5}" data-series="{6}" data-value="{7}"><title>{5}: {6} {7}</title></rect>'.format(
                             x if stacked else left, bar_y, length, bar_height, PALETTE.get(name, "#4a5568"),
                             escape(row["label"]), escape(name), value))
            if stacked:
                x += length
        text = (labels or {}).get(row["label"])
        if text is None:
            text = " / ".join(str(row["values"].get(s, 0)) for s in series)
        parts.append('<text class="row-value" x="{0}" y="{1}">{2}</text>'.format(
            left + plot + 8, y + row_height / 2 + 4, escape(text)))
    x = left
    for name in series:
        parts.append('<rect x="{0}" y="{1}" width="10" height="10" fill="{2}"></rect>'
                     '<text class="legend" x="{3}" y="{4}">{5}</text>'.format(
                         x, legend_y, PALETTE.get(name, "#4a5568"), x + 14, legend_y + 9, escape(name)))
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def fleet_charts(summary):
    """The page's five charts, as {id: svg}."""
    clusters = summary["clusters"]
    charts = {}
    charts["stage"] = bar_chart(
        "chart-stage", "Stage reached per cluster",
        [{"label": c["name"], "values": {"failed" if c["status"] == "failed" else "not run"
                                         if c["status"] in ("not run", "unreadable") else "reached": c["reached_index"]}}
         for c in clusters],
        ["reached", "failed", "not run"], maximum=len(STAGES), stubs=("failed", "not run"),
        labels=dict((c["name"], ((c["reached"] or "none") if c["reached_known"] else "unknown (no answer)")
                     + (" (last run failed)" if c["status"] == "failed" else "")
                     + (" (no report)" if c["status"] == "not run" else "")
                     + (" (unreadable report)" if c["status"] == "unreadable" else "")) for c in clusters))
    charts["coverage"] = bar_chart(
        "chart-coverage", "Sidecar coverage per cluster (pods)",
        [{"label": c["name"], "values": {"meshed": c["meshed"], "not meshed": c["pods"] - c["meshed"]}} for c in clusters],
        ["meshed", "not meshed"],
        labels=dict((c["name"], "{0}/{1} ({2})".format(
            c["meshed"], c["pods"], "-" if c["coverage"] is None else "{0}%".format(c["coverage"]))) for c in clusters))
    charts["mtls"] = bar_chart(
        "chart-mtls", "mTLS mode of the namespaces per cluster",
        [{"label": c["name"], "values": c["mtls"]} for c in clusters], list(MTLS_MODES))
    charts["probes"] = bar_chart(
        "chart-probes", "Health probes: workloads fixed, probes still blocking STRICT",
        [{"label": c["name"], "values": {"fixed": c["probes_fixed"], "blocking": c["probes_blocking"]}}
         for c in clusters], ["fixed", "blocking"], stacked=False)
    charts["ingress"] = bar_chart(
        "chart-ingress", "Ingresses translated, and their findings",
        [{"label": c["name"], "values": {"translated": c["ingresses"], "findings": c["ingress_findings"],
                                         "errors": c["ingress_errors"]}} for c in clusters],
        ["translated", "findings", "errors"], stacked=False)
    return charts
