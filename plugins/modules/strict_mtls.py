#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: strict_mtls
short_description: Switch namespaces to STRICT mutual TLS only where it is safe
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - For each namespace, applies a namespace-wide PeerAuthentication C(default) with mode
    C(STRICT) only when every running pod in it has a sidecar, no probe of its workloads would
    fail under STRICT (the M(adoptmesh.istio.probe_convert) audit), and no DestinationRule sets
    TLS C(DISABLE) or C(SIMPLE) toward it. Otherwise the namespace is skipped and every reason
    is returned. O(force) overrides the gate per namespace.
  - With O(mode=PERMISSIVE) sets the mode back without any gate (rollback).
  - With O(mesh_wide=true), also sets the mesh-wide PeerAuthentication in the root namespace to
    the mode once every namespace with injection is at that mode.
  - A few LISTs for the whole run; server-side apply; objects already as wanted are left alone.
options:
  namespaces:
    description: Namespaces to switch.
    type: list
    elements: str
    required: true
  mode:
    description: The mode to set.
    type: str
    choices: [STRICT, PERMISSIVE]
    default: STRICT
  force:
    description: Namespaces to switch even when the gate says no.
    type: list
    elements: str
    default: []
  mesh_wide:
    description: Also set the mesh-wide PeerAuthentication once every injected namespace has the mode.
    type: bool
    default: false
  root_namespace:
    description: Istio's root namespace.
    type: str
    default: istio-system
  rewrite_default:
    description: Istio's global probe rewrite setting, for the probe audit.
    type: bool
    default: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: STRICT where safe
  adoptmesh.istio.strict_mtls:
    namespaces: [shop, payments]
  register: strict

- name: Report what was skipped
  ansible.builtin.debug:
    msg: "{{ strict.decisions | rejectattr('strict') | list }}"
"""

RETURN = r"""
decisions:
  description: Per namespace, whether it is (now) at the mode, whether forced, and the reasons it was not safe.
  returned: always
  type: list
  elements: dict
changed_namespaces:
  description: Namespaces whose PeerAuthentication was written.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import ClusterError
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import (
    strict_decision, strict_peer_authentication, tls_disabling_rules)
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import read_status
from ansible_collections.adoptmesh.istio.plugins.module_utils.module_support import FAILURES, cluster_module, open_cluster
from ansible_collections.adoptmesh.istio.plugins.module_utils.probes import ProbeAuditor, process_workloads
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry

WORKLOAD_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                  ("batch/v1", "Job"), ("batch/v1", "CronJob"))


def blocking_probes(cluster, namespaces, rewrite_default):
    workloads = []
    for api_version, kind in WORKLOAD_KINDS:
        workloads.extend(cluster.list(api_version, kind, namespaces))
    blocking = {}
    for result in process_workloads(workloads, "audit", auditor=ProbeAuditor(rewrite_default=rewrite_default)):
        for row in result.blocking:
            blocking.setdefault(result.workload["metadata"]["namespace"], []).append(dict(row, workload=result.ref))
    return blocking


def main():
    module = cluster_module(dict(
        namespaces=dict(type="list", elements="str", required=True),
        mode=dict(type="str", choices=["STRICT", "PERMISSIVE"], default="STRICT"),
        force=dict(type="list", elements="str", default=[]),
        mesh_wide=dict(type="bool", default=False),
        root_namespace=dict(type="str", default="istio-system"),
        rewrite_default=dict(type="bool", default=True),
    ))
    params = module.params
    decisions, changed, diffs = [], [], []
    try:
        cluster = open_cluster(module)
        status = read_status(cluster, params["namespaces"], params["root_namespace"])
        missing = sorted(set(params["namespaces"]) - set(status["namespaces"]))
        if missing:
            module.fail_json(msg="namespace(s) not found: {0}".format(", ".join(missing)))
        if not status["istio_crds"] and module.check_mode:
            # A check-mode run of the whole adoption reaches here before anything was installed.
            module.warn("Istio is not installed yet, so the STRICT gate cannot be evaluated in check mode")
            module.exit_json(changed=False, changed_namespaces=[], decisions=[])
        if not status["istio_crds"]:
            module.fail_json(msg="Istio's CRDs (security.istio.io/v1 PeerAuthentication) are not installed; run the "
                             "install stage first")
        if params["mode"] == "STRICT":
            probes = blocking_probes(cluster, params["namespaces"], params["rewrite_default"])
            try:
                rules = cluster.list("networking.istio.io/v1", "DestinationRule")
            except ClusterError:
                rules = []
        for name in params["namespaces"]:
            if params["mode"] == "STRICT":
                decision = strict_decision(name, status["namespaces"][name], probes.get(name, []),
                                           tls_disabling_rules(rules, name), force=name in params["force"])
            else:
                decision = {"namespace": name, "strict": False, "forced": False, "reasons": []}
            decision["mode"] = params["mode"] if (decision["strict"] or params["mode"] == "PERMISSIVE") else \
                status["namespaces"][name]["mtls_mode"]
            decisions.append(decision)
            if params["mode"] == "PERMISSIVE" or decision["strict"]:
                was_changed, before, after = cluster.apply(strict_peer_authentication(name, params["mode"]))
                if was_changed:
                    changed.append(name)
                    diffs.append(diff_entry(before, after))
        if params["mesh_wide"]:
            injected = [n for n, entry in status["namespaces"].items() if entry["injection"]]
            modes = dict((d["namespace"], d["mode"]) for d in decisions)
            at_mode = all(modes.get(n, status["namespaces"][n]["mtls_mode"]) == params["mode"] for n in injected)
            if at_mode and injected:
                was_changed, before, after = cluster.apply(
                    strict_peer_authentication(params["root_namespace"], params["mode"]))
                if was_changed:
                    changed.append(params["root_namespace"])
                    diffs.append(diff_entry(before, after))
            else:
                module.warn("mesh-wide {0} not set: not every injected namespace is at {0}".format(params["mode"]))
    except FAILURES as error:
        module.fail_json(msg=str(error))
    for decision in decisions:
        if not decision["strict"] and params["mode"] == "STRICT":
            module.warn("namespace {0} kept out of STRICT: {1}".format(decision["namespace"], "; ".join(
                decision["reasons"][:3]) + (" ..." if len(decision["reasons"]) > 3 else "")))
    result = dict(changed=bool(changed), changed_namespaces=changed, decisions=decisions)
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
