#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: outbound_ranges
short_description: Make the sidecars of chosen namespaces capture only some outbound IP ranges
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Sets Istio's per-pod override C(traffic.sidecar.istio.io/includeOutboundIPRanges) on the pod
    templates of the Deployments, StatefulSets and DaemonSets of O(namespaces), for the egress
    stage's C(bypass_ranges) mode when it applies to some workloads rather than the whole mesh.
  - Changing a pod template rolls the workload out; the changes go in batches with the inject
    stage's wait and stop rules (a batch that does not finish stops the later ones).
  - A template whose owner set the annotation is left alone and returned in RV(kept). The module
    marks what it sets (C(adoptmesh.istio/include-outbound-ranges)), and O(state=absent) takes
    away only what it set.
  - In check mode every patch is a server-side dry run and nothing is waited for.
options:
  namespaces:
    description: Namespaces whose workloads to change; empty means every non-system namespace.
    type: list
    elements: str
    default: []
  exclude_namespaces:
    description: Namespaces left alone (with O(state=absent), the ones that keep their ranges).
    type: list
    elements: str
    default: []
  ranges:
    description: The CIDRs to capture, comma-separated (needed with O(state=present)).
    type: str
  state:
    description: C(present) sets the annotation, C(absent) takes away the one this module set.
    type: str
    choices: [present, absent]
    default: present
  batch_size:
    description: Workloads changed at once.
    type: int
    default: 10
  batch_timeout:
    description: Seconds to wait for a batch to roll out.
    type: int
    default: 300
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
  - adoptmesh.istio.progress
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Capture only in-cluster traffic in the payments namespace
  adoptmesh.istio.outbound_ranges:
    namespaces: [payments]
    ranges: 10.96.0.0/12,10.64.0.0/12

- name: Take those ranges away everywhere else
  adoptmesh.istio.outbound_ranges:
    state: absent
    exclude_namespaces: [payments]
"""

RETURN = r"""
changed_workloads:
  description: Workloads patched (in check mode, validated), C(namespace/Kind/name), in order.
  returned: always
  type: list
  elements: str
kept:
  description: Workloads whose owner set the annotation themselves, left alone.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.egress import outbound_ranges_patch
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import SYSTEM_NAMESPACES
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster, progress_spec)
from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import progress_writer
from ansible_collections.adoptmesh.istio.plugins.module_utils.rollout import (
    API_VERSIONS, ROLLING_KINDS, RolloutFailed, run_batches, split_batches)


def main():
    module = cluster_module(progress_spec(dict(
        namespaces=dict(type="list", elements="str", default=[]),
        exclude_namespaces=dict(type="list", elements="str", default=[]),
        ranges=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        batch_size=dict(type="int", default=10),
        batch_timeout=dict(type="int", default=300),
    )), required_if=[("state", "present", ("ranges",))])
    params = module.params
    if params["batch_size"] < 1:
        module.fail_json(msg="batch_size must be at least 1, got {0}".format(params["batch_size"]))
    ranges = params["ranges"] if params["state"] == "present" else None
    cluster, done, kept, patches = None, [], [], {}
    try:
        cluster = open_cluster(module)
        for kind in ROLLING_KINDS:
            for workload in cluster.list(API_VERSIONS[kind], kind, params["namespaces"] or None):
                namespace = workload["metadata"]["namespace"]
                if namespace in params["exclude_namespaces"] or (
                        not params["namespaces"] and namespace in SYSTEM_NAMESPACES):
                    continue
                ref = "{0}/{1}/{2}".format(namespace, kind, workload["metadata"]["name"])
                patch = outbound_ranges_patch(workload, ranges)
                if patch is False:
                    kept.append(ref)
                elif patch is not None:
                    patches[ref] = patch

        def send(ref):
            namespace, kind, name = ref.split("/")
            return cluster.send_patch(API_VERSIONS[kind], kind, name, namespace, patches[ref], missing_ok=True) is not None

        done = run_batches(cluster, split_batches(sorted(patches), params["batch_size"]), send,
                           params["batch_timeout"], wait=not module.check_mode,
                           write=progress_writer(params["progress_file"]))
    except RolloutFailed as error:
        fail_on_cluster_error(module, cluster, str(error), changed_workloads=error.done, kept=kept)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error, kept=kept)
    for ref in kept:
        module.warn("{0} sets {1} itself and is left alone".format(ref, "traffic.sidecar.istio.io/includeOutboundIPRanges"))
    module.exit_json(changed=bool(done), changed_workloads=done, kept=kept)


if __name__ == "__main__":
    main()
