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

from html import escape

STAGES = ("preflight", "install", "inject", "ingress", "strict")
MTLS_MODES = ("STRICT", "PERMISSIVE", "DISABLE", "inherits")
PALETTE = {"meshed": "#2f855a", "not meshed": "#c05621", "STRICT": "#2b6cb0", "PERMISSIVE": "#d69e2e",
           "DISABLE": "#c53030", "inherits": "#a0aec0", "fixed": "#2f855a", "blocking": "#c53030",
           "translated": "#2b6cb0", "findings": "#d69e2e", "errors": "#c53030", "reached": "#2b6cb0",
           "failed": "#c53030", "not run": "#a0aec0"}


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def cluster_figures(name, report):
    """The figures of one cluster; `report` None for a cluster with no report yet."""
    if report is None:
        return {"name": name, "status": "not run", "stage": "", "reached": "", "reached_known": True,
                "reached_index": 0, "error": "",
                "pods": 0, "meshed": 0, "coverage": None, "namespaces": {}, "mtls": dict((m, 0) for m in MTLS_MODES),
                "probes_fixed": 0, "probes_blocking": 0, "probes_audited": False, "ingresses": 0,
                "ingress_findings": 0, "ingress_errors": 0, "gateways": [], "istio_sources": istio_sources(None)}
    state = report.get("state") or {}
    reached = state.get("reached") or ""
    namespaces = {}
    mtls = dict((m, 0) for m in MTLS_MODES)
    pods = meshed = 0
    for namespace, entry in sorted((report.get("namespaces") or {}).items()):
        mode = entry.get("mtls_mode") or "inherits"
        mode = mode if mode in MTLS_MODES else "inherits"
        mtls[mode] += 1
        pods += _number(entry.get("pods"))
        meshed += _number(entry.get("with_sidecar"))
        namespaces[namespace] = {"injection": bool(entry.get("injection")), "pods": _number(entry.get("pods")),
                                 "meshed": _number(entry.get("with_sidecar")), "mtls": mode}
    probes = report.get("probes") or {}
    gateways = []
    for gateway_name, gateway in sorted((report.get("ingress") or {}).items()):
        summary = gateway.get("summary") or {}
        gateways.append({"name": gateway_name, "namespace": gateway.get("namespace", ""),
                         "ingresses": _number(summary.get("ingresses")),
                         "findings": len(gateway.get("findings") or []),
                         "errors": _number(summary.get("error"))})
    return {"name": name, "status": report.get("status", "complete"), "stage": report.get("stage", ""),
            "reached": reached, "reached_known": report.get("state") is not None, "reached_index": STAGES.index(reached) + 1 if reached in STAGES else 0,
            "error": report.get("error", ""), "pods": pods, "meshed": meshed,
            "coverage": round(100.0 * meshed / pods, 1) if pods else None, "namespaces": namespaces, "mtls": mtls,
            "probes_fixed": _number(probes.get("changed")), "probes_blocking": _number(probes.get("blocking")),
            "probes_audited": bool(probes), "ingresses": sum(g["ingresses"] for g in gateways),
            "ingress_findings": sum(g["findings"] for g in gateways),
            "ingress_errors": sum(g["errors"] for g in gateways), "gateways": gateways,
            "istio_sources": istio_sources(report.get("istio_sources"))}


def istio_sources(section):
    """One cluster's "Istio sources and compatibility" in a few words: the Istio version, the chart
    source, the Gateway API bundle and the count of errors and warnings preflight found."""
    if not isinstance(section, dict):
        return {"checked": False, "version": "", "chart_source": "", "gateway_api": "", "errors": 0, "warnings": 0}
    listed = section.get("findings")
    findings = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    bundle = section.get("gateway_api")
    return {"checked": True, "version": str(section.get("istio_version") or ""),
            "chart_source": str(section.get("chart_source") or ""),
            "gateway_api": str(bundle.get("version") or "unknown") if isinstance(bundle, dict) else "none",
            "errors": sum(1 for f in findings if f.get("severity") == "error"),
            "warnings": sum(1 for f in findings if f.get("severity") == "warning")}


def summarize(reports):
    """{clusters: [figures...], totals: {...}} from {cluster: report or None}, in cluster order."""
    clusters = [cluster_figures(name, reports[name]) for name in sorted(reports)]
    totals = {"clusters": len(clusters),
              "complete": sum(1 for c in clusters if c["status"] == "complete"),
              "failed": sum(1 for c in clusters if c["status"] == "failed"),
              "not_run": sum(1 for c in clusters if c["status"] == "not run"),
              "pods": sum(c["pods"] for c in clusters), "meshed": sum(c["meshed"] for c in clusters),
              "probes_fixed": sum(c["probes_fixed"] for c in clusters),
              "probes_blocking": sum(c["probes_blocking"] for c in clusters),
              "ingresses": sum(c["ingresses"] for c in clusters),
              "ingress_findings": sum(c["ingress_findings"] for c in clusters)}
    totals["reached"] = dict((stage, sum(1 for c in clusters if c["reached"] == stage)) for stage in STAGES)
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
        [{"label": c["name"], "values": {"failed" if c["status"] == "failed" else "not run" if c["status"] == "not run"
                                         else "reached": c["reached_index"]}} for c in clusters],
        ["reached", "failed", "not run"], maximum=len(STAGES), stubs=("failed", "not run"),
        labels=dict((c["name"], ((c["reached"] or "none") if c["reached_known"] else "unknown (no answer)")
                     + (" (last run failed)" if c["status"] == "failed" else "")
                     + (" (no report)" if c["status"] == "not run" else "")) for c in clusters))
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
