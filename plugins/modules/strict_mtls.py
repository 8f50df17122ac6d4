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
    C(STRICT) only when every running pod in it has a sidecar, no probe of its pods would fail
    under STRICT (templates of every workload kind and every running Pod, bare Pods and
    standalone ReplicaSets included, audited as M(adoptmesh.istio.probe_convert) does), and no
    DestinationRule sets TLS C(DISABLE), C(SIMPLE) or C(MUTUAL) toward it, with hosts matched as
    Istio matches them (C(*.local) covers every namespace). Otherwise the namespace is skipped and
    every reason is returned. O(force) overrides the gate per namespace.
  - Fails closed. Whatever the gate cannot read for a namespace (a DestinationRule LIST that is
    denied, Istio's injector configuration that is missing) keeps that namespace out with
    C(could not verify) and the reason.
  - With O(mode=PERMISSIVE) sets the mode back without any gate (rollback).
  - With O(mesh_wide=true), also sets the mesh-wide PeerAuthentication in the root namespace.
    Raising it to STRICT is gated over every meshed namespace of the cluster, listed or not. Each
    one that would inherit the mesh-wide mode (it has no namespace-wide policy of its own) must
    pass the gate. It also waits for the unmeshed. While any namespace outside C(kube-system),
    C(kube-public), C(kube-node-lease) and C(istio-system) runs pods without a sidecar (a namespace
    not injected, or pods that were never restarted), those pods would have every plaintext call
    into the mesh refused, so mesh-wide STRICT is not set. Namespaces known not to call the mesh
    are listed in O(not_calling_mesh). The blockers are returned and named in a warning.
  - With O(initial=true), only creates the mesh-wide PeerAuthentication as PERMISSIVE when none
    exists, and never changes an existing one. The install stage uses it, so that this module's
    gated STRICT is the only way mesh-wide STRICT is set and a later run never lowers it.
  - A few LISTs for the whole run; server-side apply; objects already as wanted are left alone.
options:
  namespaces:
    description: Namespaces to switch.
    type: list
    elements: str
    default: []
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
    description: Also set the mesh-wide PeerAuthentication (gated over every meshed namespace for STRICT).
    type: bool
    default: false
  not_calling_mesh:
    description:
      - Namespaces whose pods run without sidecars and are known not to call meshed services (a
        batch namespace, a third-party agent that only talks to the API server). They do not hold
        mesh-wide STRICT back.
    type: list
    elements: str
    default: []
  initial:
    description:
      - Create the mesh-wide PeerAuthentication as C(PERMISSIVE) if it does not exist, and do nothing else.
      - Excludes O(namespaces) and O(mesh_wide).
    type: bool
    default: false
  root_namespace:
    description: Istio's root namespace (C(meshConfig.rootNamespace)).
    type: str
    default: istio-system
  istio_namespace:
    description: Namespace of istiod and its injector ConfigMap; defaults to O(root_namespace).
    type: str
  rewrite_default:
    description:
      - Istio's global probe rewrite setting, for the probe audit.
      - Unset, it is read from the installed injector (C(sidecarInjectorWebhook.rewriteAppHTTPProbe)
        in the C(istio-sidecar-injector) ConfigMap of each revision in use); a namespace whose
        setting cannot be read is kept out of STRICT.
    type: bool
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
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

- name: Mesh-wide STRICT once every meshed namespace passes the gate
  adoptmesh.istio.strict_mtls:
    namespaces: [shop, payments]
    mesh_wide: true

- name: Create the mesh-wide PERMISSIVE policy if there is none (install stage)
  adoptmesh.istio.strict_mtls:
    initial: true
"""

RETURN = r"""
decisions:
  description:
    - Per namespace, whether it is (now) at the mode, whether forced, the reasons it was not safe,
      and whether it was C(listed) (only listed namespaces are written; others are gated for
      mesh-wide STRICT only).
  returned: always
  type: list
  elements: dict
changed_namespaces:
  description: Namespaces whose PeerAuthentication was written (the root namespace for the mesh-wide one).
  returned: always
  type: list
  elements: str
mesh_wide_blockers:
  description:
    - Namespaces that keep mesh-wide STRICT from being set, each with its reasons. Meshed namespaces
      that would inherit it and do not pass the gate, and namespaces with running pods without a
      sidecar (with C(unmeshed_pods)) that are not in O(not_calling_mesh).
  returned: always
  type: list
  elements: dict
written:
  description: Every object the API server accepted a write for (C(Kind namespace/name)), also on failure.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import strict_peer_authentication
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import (
    istio_served, read_status_and_pods, strict_gate)
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry


def live_policy(peer_authentications, namespace):
    """The namespace-wide `default` PeerAuthentication as listed, or None."""
    for item in peer_authentications:
        metadata = item.get("metadata") or {}
        if metadata.get("namespace") == namespace and metadata.get("name") == "default":
            return item
    return None


class Writer:
    """Applies PeerAuthentications, remembering what changed for the result and the diff."""

    def __init__(self, cluster, peer_authentications):
        self.cluster = cluster
        self.live = peer_authentications
        self.changed, self.diffs = [], []

    def apply(self, namespace, mode):
        was_changed, before, after = self.cluster.apply(strict_peer_authentication(namespace, mode),
                                                        live=live_policy(self.live, namespace), live_known=True)
        if was_changed:
            self.changed.append(namespace)
            self.diffs.append(diff_entry(before, after))


def create_initial(module, cluster, root_namespace):
    if not istio_served(cluster):
        if module.check_mode:
            module.warn("Istio's CRDs are not installed yet, so the mesh-wide PeerAuthentication cannot be checked "
                        "in check mode")
            return None
        module.fail_json(msg="cluster {0}: Istio's CRDs (security.istio.io/v1 PeerAuthentication) are not "
                         "installed; run the install stage first".format(cluster.name))
    existing = cluster.get("security.istio.io/v1", "PeerAuthentication", "default", root_namespace)
    writer = Writer(cluster, [existing] if existing else [])
    if existing is None:
        writer.apply(root_namespace, "PERMISSIVE")
    return writer


def main():
    module = cluster_module(dict(
        namespaces=dict(type="list", elements="str", default=[]),
        mode=dict(type="str", choices=["STRICT", "PERMISSIVE"], default="STRICT"),
        force=dict(type="list", elements="str", default=[]),
        mesh_wide=dict(type="bool", default=False),
        initial=dict(type="bool", default=False),
        root_namespace=dict(type="str", default="istio-system"),
        istio_namespace=dict(type="str"),
        rewrite_default=dict(type="bool"),
        not_calling_mesh=dict(type="list", elements="str", default=[]),
    ), mutually_exclusive=[("initial", "namespaces"), ("initial", "mesh_wide")])
    params = module.params
    decisions, blockers, writer, cluster = [], [], None, None
    try:
        cluster = open_cluster(module)
        if params["initial"]:
            writer = create_initial(module, cluster, params["root_namespace"])
        elif not params["namespaces"] and not params["mesh_wide"]:
            module.fail_json(msg="namespaces is empty and mesh_wide is false: nothing to do")
        elif not istio_served(cluster):
            if module.check_mode:
                # A check-mode run of the whole adoption reaches here before anything was installed.
                module.warn("Istio is not installed yet, so the STRICT gate cannot be evaluated in check mode")
            else:
                module.fail_json(msg="cluster {0}: Istio's CRDs (security.istio.io/v1 PeerAuthentication) are not "
                                 "installed; run the install stage first".format(cluster.name))
        else:
            writer = run(module, cluster, params, decisions, blockers)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error, decisions=decisions)
    for decision in decisions:
        if decision["listed"] and not decision["strict"] and params["mode"] == "STRICT":
            module.warn("namespace {0} kept out of STRICT: {1}".format(decision["namespace"], "; ".join(
                decision["reasons"][:3]) + (" ..." if len(decision["reasons"]) > 3 else "")))
    changed = writer.changed if writer else []
    result = dict(changed=bool(changed), changed_namespaces=changed, decisions=decisions,
                  mesh_wide_blockers=blockers, written=cluster.written if cluster else [])
    if module._diff and writer and writer.diffs:
        result["diff"] = writer.diffs
    module.exit_json(**result)


def run(module, cluster, params, decisions, blockers):
    """Gate (for STRICT), then write the listed namespaces, then the mesh-wide policy."""
    if params["mode"] == "STRICT":
        status, gated, found_blockers, peer_authentications = strict_gate(
            cluster, params["namespaces"], params["root_namespace"], force=params["force"],
            rewrite_default=params["rewrite_default"], mesh_wide=params["mesh_wide"],
            istio_namespace=params["istio_namespace"], not_calling_mesh=params["not_calling_mesh"])
        blockers.extend(found_blockers)
    else:
        status, dummy, peer_authentications = read_status_and_pods(cluster, params["namespaces"],
                                                                   params["root_namespace"])
        missing = sorted(set(params["namespaces"]) - set(status["namespaces"]))
        if missing:
            module.fail_json(msg="cluster {0}: namespace(s) not found: {1}".format(cluster.name, ", ".join(missing)))
        gated = [{"namespace": name, "strict": False, "forced": False, "reasons": [], "listed": True}
                 for name in params["namespaces"]]
    writer = Writer(cluster, peer_authentications)
    for decision in gated:
        entry = status["namespaces"][decision["namespace"]]
        writing = decision["listed"] and (params["mode"] == "PERMISSIVE" or decision["strict"])
        decision["mode"] = params["mode"] if writing else entry["mtls_mode"]
        decisions.append(decision)
        if writing:
            writer.apply(decision["namespace"], params["mode"])
    if params["mesh_wide"]:
        if params["mode"] == "PERMISSIVE" or not blockers:
            writer.apply(params["root_namespace"], params["mode"])
        else:
            module.warn("mesh-wide STRICT not set: {0}".format("; ".join(
                ("namespace {0}: {1}" if b.get("unmeshed_pods") else "namespace {0} would inherit it but {1}").format(
                    b["namespace"], b["reasons"][0] if b["reasons"] else "") for b in blockers[:5])))
    return writer


if __name__ == "__main__":
    main()
