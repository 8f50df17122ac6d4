# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh state read from a cluster in a few LISTs, and the STRICT gate over it.

Fail closed: a LIST that fails for any reason but "this kind is not served" raises, naming the
cluster and the resource; where the gate cannot read something a namespace needs, the namespace
stays out with "could not verify: <reason>".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from .cluster import ClusterError
from .mesh import (SYSTEM_NAMESPACES, coverage, jobs_that_may_not_finish, mesh_wide_blockers, unmeshed_callers,
                   meshed_namespaces, peer_authentication_modes, services_without_protocol, strict_decision,
                   tls_disabling_rules, workloads_to_restart)
from .probes import BUILTIN_TEMPLATES_WITHOUT_REWRITE, ProbeAuditor, process_workloads

PEER_AUTHENTICATION = ("security.istio.io/v1", "PeerAuthentication")
DESTINATION_RULE = ("networking.istio.io/v1", "DestinationRule")
# Every kind whose pods the gate audits: templates (what the next rollout brings) and the running
# Pods themselves (bare Pods, standalone ReplicaSets, pods older than a template fix).
GATE_WORKLOAD_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                       ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob"))
INJECTOR_CONFIGMAP = "istio-sidecar-injector"
_REWRITE_OFF = re.compile(r"sidecar\.istio\.io/rewriteAppHTTPProbers\"?\s*:\s*\"?(false|False|FALSE|0|f|F)\b")


def istio_served(cluster):
    """Whether the API server serves Istio's PeerAuthentication (Istio's CRDs are installed);
    any failure other than "not served" raises."""
    return read_peer_authentications(cluster) is not None


def read_peer_authentications(cluster):
    """Every PeerAuthentication, or None when Istio's CRDs are not installed. Asked of the API
    server with a LIST, not of discovery alone: a cached discovery may name a kind removed since."""
    try:
        return cluster.list(*PEER_AUTHENTICATION)
    except ClusterError as error:
        if error.not_found:
            return None
        raise


def read_status(cluster, names, root_namespace):
    """Coverage, mTLS modes and the restart plan of the given namespaces (default: all but system)."""
    return read_status_and_pods(cluster, names, root_namespace)[0]


def read_status_and_pods(cluster, names, root_namespace):
    """read_status, and the pods and PeerAuthentications it read."""
    wanted = set(names or [])
    namespaces = [n for n in cluster.list("v1", "Namespace")
                  if (n["metadata"]["name"] in wanted if wanted else n["metadata"]["name"] not in SYSTEM_NAMESPACES)]
    # One cluster-wide LIST beats one per namespace once there are more than a handful.
    pods = cluster.list("v1", "Pod") if namespaces else []
    peer_authentications = read_peer_authentications(cluster)
    istio_crds = peer_authentications is not None
    peer_authentications = peer_authentications or []
    report = coverage(namespaces, pods)
    modes = peer_authentication_modes(peer_authentications, root_namespace)
    for name, entry in report.items():
        entry["mtls_mode"] = modes.get(name)
    selected = set(n["metadata"]["name"] for n in namespaces)
    services = [s for s in cluster.list("v1", "Service") if s["metadata"]["namespace"] in selected]
    jobs = [j for kind in ("Job", "CronJob") for j in cluster.list("batch/v1", kind)
            if j["metadata"]["namespace"] in selected]
    status = {"namespaces": report, "mesh_wide_mode": modes.get(None), "restart_plan": workloads_to_restart(report),
              "istio_crds": istio_crds, "services_without_protocol": services_without_protocol(services),
              "jobs_that_may_not_finish": jobs_that_may_not_finish(jobs, namespaces, wanted)}
    return status, pods, peer_authentications


def rewrite_setting(cluster, istio_namespace, revision=None):
    """(rewrite default, None) from the installed injector, or (None, why it is unknown).
    The chart's value is sidecarInjectorWebhook.rewriteAppHTTPProbe (true unless turned off)."""
    settings = injector_settings(cluster, istio_namespace, revision)
    return settings["rewrite_default"], settings["unknown"]


def injector_settings(cluster, istio_namespace, revision=None):
    """What the installed injector does to probes: {"rewrite_default": bool or None,
    "templates_without_rewrite": names of its injection templates that turn the rewrite off
    (Istio's grpc-agent and grpc-simple, and any of the user's that set the annotation to
    "false"), "unknown": why the setting could not be read, or None}."""
    name = INJECTOR_CONFIGMAP + ("-" + revision if revision and revision != "default" else "")
    config_map = cluster.get("v1", "ConfigMap", name, istio_namespace)
    if config_map is None:
        return {"rewrite_default": None, "templates_without_rewrite": set(BUILTIN_TEMPLATES_WITHOUT_REWRITE),
                "unknown": "the probe rewrite setting of Istio{0}: ConfigMap {1}/{2} not found".format(
                    " revision " + revision if revision else "", istio_namespace, name)}
    data = config_map.get("data") or {}
    try:
        values = json.loads(data.get("values") or "{}")
    except ValueError as error:
        raise ClusterError("cluster {0}: ConfigMap {1}/{2}: data.values is not JSON: {3}".format(
            cluster.name, istio_namespace, name, error))
    setting = (values.get("sidecarInjectorWebhook") or {}).get("rewriteAppHTTPProbe", True)
    return {"rewrite_default": bool(setting), "unknown": None,
            "templates_without_rewrite": set(BUILTIN_TEMPLATES_WITHOUT_REWRITE) | templates_turning_rewrite_off(
                data.get("config") or "")}


def templates_turning_rewrite_off(config_text):
    """Names of the injector config's templates (its `templates:` map) whose text sets
    sidecar.istio.io/rewriteAppHTTPProbers to "false"."""
    found = set()
    try:
        import yaml
        templates = (yaml.safe_load(config_text) or {}).get("templates") or {}
    except Exception:  # an injector config this cannot read: only the built-in names are known
        return found
    for template_name, text in templates.items() if isinstance(templates, dict) else ():
        if isinstance(text, str) and _REWRITE_OFF.search(text):
            found.add(str(template_name))
    return found


def _template_audited_elsewhere(workload):
    """ReplicaSets of a Deployment and Jobs of a CronJob: their owner's template is audited."""
    owners = (workload.get("metadata") or {}).get("ownerReferences") or []
    return any(o.get("controller") and o.get("kind") in ("Deployment", "CronJob") for o in owners)


def gate_workloads(cluster, namespaces, pods):
    """(workloads to audit, {namespace: [why it could not be read]}): the templates of every
    workload kind plus every running Pod of the namespaces."""
    wanted = set(namespaces)
    workloads, unverified = [], {}
    for api_version, kind in GATE_WORKLOAD_KINDS:
        try:
            listed = cluster.list(api_version, kind)
        except ClusterError as error:
            for name in wanted:
                unverified.setdefault(name, []).append(str(error))
            continue
        workloads.extend(w for w in listed if w["metadata"]["namespace"] in wanted and not _template_audited_elsewhere(w))
    workloads.extend(p for p in pods if p["metadata"]["namespace"] in wanted
                     and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
    return workloads, unverified


def blocking_probes(workloads, rewrite_by_namespace):
    """{namespace: [probe rows that would fail under STRICT, with their workload]}.
    rewrite_by_namespace: {namespace: (rewrite default, templates that turn it off) or None}."""
    auditors, blocking = {}, {}
    for workload in workloads:
        namespace = workload["metadata"]["namespace"]
        setting = rewrite_by_namespace.get(namespace)
        if setting is None:
            continue  # unknown: the namespace is kept out as unverified
        if setting not in auditors:
            auditors[setting] = ProbeAuditor(rewrite_default=setting[0], templates_without_rewrite=setting[1])
        auditor = auditors[setting]
        for result in process_workloads([workload], "audit", auditor=auditor):
            for row in result.blocking:
                blocking.setdefault(namespace, []).append(dict(row, workload=result.ref))
    return blocking


def strict_gate(cluster, names, root_namespace="istio-system", force=(), rewrite_default=None, mesh_wide=False,
                istio_namespace=None, not_calling_mesh=()):
    """Decide, for the named namespaces (and, for mesh-wide STRICT, every meshed namespace),
    whether STRICT is safe. Returns (status, decisions, mesh-wide blockers, PeerAuthentications).

    Also returns the PeerAuthentications read, so that writes need no GET of their own.
    Each decision: {namespace, strict, forced, reasons, listed}. Only listed namespaces are ever
    written; the others are evaluated so that mesh-wide STRICT can say why it waits."""
    istio_namespace = istio_namespace or root_namespace
    status, pods, peer_authentications = read_status_and_pods(cluster, [], root_namespace)
    missing = sorted(set(names) - set(status["namespaces"]))
    if missing:
        raise ClusterError("cluster {0}: namespace(s) not found: {1}".format(cluster.name, ", ".join(missing)), 404)
    report = status["namespaces"]
    candidates = list(names)
    if mesh_wide:
        candidates += [n for n in meshed_namespaces(report) if n not in names]
    unverified = dict((name, []) for name in candidates)

    try:
        rules = cluster.list(*DESTINATION_RULE, missing_ok=True)
    except ClusterError as error:
        rules = []
        for name in candidates:
            unverified[name].append(str(error))

    rewrite_by_namespace = {}  # namespace -> (rewrite default, templates that turn it off)
    settings = {}
    for name in candidates:
        revision = report[name].get("revision")
        if revision not in settings:
            settings[revision] = injector_settings(cluster, istio_namespace, revision)
        found = settings[revision]
        if rewrite_default is not None:
            rewrite_by_namespace[name] = (rewrite_default, frozenset(found["templates_without_rewrite"]))
            continue
        if found["unknown"]:
            unverified[name].append(found["unknown"])
            rewrite_by_namespace[name] = None
        else:
            rewrite_by_namespace[name] = (found["rewrite_default"], frozenset(found["templates_without_rewrite"]))

    workloads, unreadable = gate_workloads(cluster, candidates, pods)
    for name, reasons in unreadable.items():
        unverified[name].extend(reasons)
    probes = blocking_probes(workloads, rewrite_by_namespace)

    decisions = []
    for name in candidates:
        decision = strict_decision(name, report[name], probes.get(name, []), tls_disabling_rules(rules, name),
                                   force=name in force, unverified=unverified[name])
        decision["listed"] = name in names
        decisions.append(decision)
    own_modes = dict((name, entry.get("mtls_mode")) for name, entry in report.items())
    blockers = []
    if mesh_wide:
        blockers = mesh_wide_blockers(report, own_modes, decisions)
        blocked = set(b["namespace"] for b in blockers)
        # Callers outside the mesh break under mesh-wide STRICT wherever they run.
        blockers += [b for b in unmeshed_callers(report, not_calling_mesh) if b["namespace"] not in blocked]
        blockers.sort(key=lambda b: b["namespace"])
    return status, decisions, blockers, peer_authentications
