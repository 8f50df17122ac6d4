#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: namespace_injection
short_description: Label many namespaces for Istio sidecar injection in one call
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Sets C(istio-injection=enabled) on the selected namespaces, or C(istio.io/rev=<revision>) for a
    revisioned control plane, removing the other label (C(istio-injection) wins when both are set).
    With O(state=disabled) removes both.
  - The first time it changes a namespace's injection labels it records what they were in the
    annotation C(adoptmesh.istio/injection-labels-before). O(state=restored) puts those labels
    back and drops the record (the rollback playbook does); namespaces without a record were never
    labelled by this collection and are left alone.
  - Reads all namespaces with one LIST and patches only those whose labels differ, so a second
    run changes nothing. Existing pods are not touched; restart them with
    M(adoptmesh.istio.rollout_restart).
  - System namespaces (C(kube-system), C(kube-public), C(kube-node-lease), C(istio-system)) and
    O(protected_namespaces) are refused; a namespace that does not exist fails the task.
options:
  namespaces:
    description: Namespaces to label.
    type: list
    elements: str
    default: []
  namespace_selector:
    description: A label selector; the namespaces it matches are labelled too.
    type: str
  revision:
    description: Istio revision; empty or C(default) uses C(istio-injection=enabled).
    type: str
  state:
    description:
      - C(enabled) labels, C(disabled) removes the injection labels, C(restored) puts back the
        labels recorded before the first change.
      - With C(restored) and neither O(namespaces) nor O(namespace_selector), every namespace
        carrying a record is restored.
    type: str
    choices: [enabled, disabled, restored]
    default: enabled
  protected_namespaces:
    description: More namespaces that must never be labelled (the gateway namespace, for instance).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Enable injection in two namespaces and every namespace labelled mesh=yes
  adoptmesh.istio.namespace_injection:
    namespaces: [shop, payments]
    namespace_selector: mesh=yes

- name: Point namespaces at the 1-30 revision
  adoptmesh.istio.namespace_injection:
    namespaces: [shop]
    revision: 1-30

- name: Put back the injection labels every namespace had before the collection labelled it
  adoptmesh.istio.namespace_injection:
    state: restored
"""

RETURN = r"""
changed_namespaces:
  description: Namespaces whose labels were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
namespaces:
  description: Every selected namespace.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import LABELS_BEFORE, labelled_metadata, select_namespaces
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, describe, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry


def _record(metadata):
    """The record annotation alone, for the diff (other annotations are not ours to show)."""
    annotations = metadata.get("annotations") or {}
    return dict((k, v) for k, v in annotations.items() if k == LABELS_BEFORE)


def main():
    module = cluster_module(dict(
        namespaces=dict(type="list", elements="str", default=[]),
        namespace_selector=dict(type="str"),
        revision=dict(type="str"),
        state=dict(type="str", choices=["enabled", "disabled", "restored"], default="enabled"),
        protected_namespaces=dict(type="list", elements="str", default=[]),
    ))
    params = module.params
    try:
        cluster = open_cluster(module)
        namespaces = cluster.list("v1", "Namespace")
        by_selector = []
        if params["namespace_selector"]:
            by_selector = [n["metadata"]["name"] for n in
                           cluster.list("v1", "Namespace", label_selectors=[params["namespace_selector"]])]
        names = params["namespaces"]
        if params["state"] == "restored" and not names and not params["namespace_selector"]:
            names = [n["metadata"]["name"] for n in namespaces
                     if LABELS_BEFORE in ((n["metadata"].get("annotations")) or {})]
        chosen, refused, missing = select_namespaces(namespaces, names, by_selector,
                                                     params["protected_namespaces"])
        if missing:
            module.fail_json(msg="namespace(s) not found in the cluster ({0}): {1}".format(
                describe(params), ", ".join(missing)))
        if refused:
            module.fail_json(msg="refusing to label system namespace(s): {0}".format(
                ", ".join(r["namespace"] for r in refused)))
        changed, diffs = [], []
        for namespace in chosen:
            metadata = labelled_metadata(namespace, params["revision"], params["state"])
            if metadata is None:
                continue
            cluster.patch(namespace, dict(namespace, metadata=metadata))
            changed.append(namespace["metadata"]["name"])
            diffs.append(diff_entry(
                {"metadata": {"labels": namespace["metadata"].get("labels") or {},
                              "annotations": _record(namespace["metadata"])}},
                {"kind": "Namespace", "metadata": {"name": namespace["metadata"]["name"], "labels": metadata["labels"],
                                                   "annotations": _record(metadata)}}))
    except ValueError as error:
        module.fail_json(msg=str(error))
    except FAILURES as error:
        module.fail_json(msg=str(error))
    result = dict(changed=bool(changed), changed_namespaces=changed,
                  namespaces=[n["metadata"]["name"] for n in chosen])
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
