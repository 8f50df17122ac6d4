#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollout_restart
short_description: Restart workloads in batches so their pods get Istio sidecars
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Finds the Deployments, StatefulSets and DaemonSets whose running pods lack a sidecar only
    because they were created before injection was enabled, and restarts them as
    C(kubectl rollout restart) does (a C(kubectl.kubernetes.io/restartedAt) pod-template
    annotation), O(batch_size) at a time.
  - After each batch it waits until every rollout of the batch is complete, and stops at the
    first batch that does not complete within O(batch_timeout), naming the workloads.
  - Workloads already meshed are not restarted, so a second run changes nothing. In check mode
    nothing is restarted and the plan is returned.
options:
  namespaces:
    description: Namespaces whose workloads to restart. Empty means every non-system namespace.
    type: list
    elements: str
    default: []
  batch_size:
    description: Workloads restarted at once.
    type: int
    default: 10
  batch_timeout:
    description: Seconds to wait for a batch to finish rolling out.
    type: int
    default: 300
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Restart what is not meshed yet in shop, five workloads at a time
  adoptmesh.istio.rollout_restart:
    namespaces: [shop]
    batch_size: 5
"""

RETURN = r"""
restarted:
  description: Restarted workloads, C(namespace/Kind/name), in order.
  returned: always
  type: list
  elements: str
batches:
  description: The batches, each a list of workloads.
  returned: always
  type: list
  elements: list
"""

import datetime
import time

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import RESTARTED_AT
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import read_status
from ansible_collections.adoptmesh.istio.plugins.module_utils.module_support import FAILURES, cluster_module, open_cluster

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


def rollout_complete(workload):
    """As `kubectl rollout status` judges it."""
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 0):
        return False
    if workload["kind"] == "DaemonSet":
        wanted = status.get("desiredNumberScheduled", 0)
        return status.get("updatedNumberScheduled", 0) >= wanted and status.get("numberAvailable", 0) >= wanted
    replicas = spec.get("replicas", 1)
    if status.get("updatedReplicas", 0) < replicas:
        return False
    if workload["kind"] == "StatefulSet":
        return status.get("readyReplicas", 0) >= replicas and status.get("currentRevision") == status.get("updateRevision")
    return status.get("availableReplicas", 0) >= replicas and status.get("replicas", 0) <= replicas


def main():
    module = cluster_module(dict(namespaces=dict(type="list", elements="str", default=[]),
                                 batch_size=dict(type="int", default=10),
                                 batch_timeout=dict(type="int", default=300)))
    params = module.params
    if params["batch_size"] < 1:
        module.fail_json(msg="batch_size must be at least 1, got {0}".format(params["batch_size"]))
    try:
        cluster = open_cluster(module)
        status = read_status(cluster, params["namespaces"], "istio-system")
        plan = ["{0}/{1}".format(namespace, workload) for namespace, workloads in sorted(status["restart_plan"].items())
                for workload in workloads]
        batches = [plan[i:i + params["batch_size"]] for i in range(0, len(plan), params["batch_size"])]
        if module.check_mode or not plan:
            module.exit_json(changed=bool(plan), restarted=[], batches=batches)
        restarted = []
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for number, batch in enumerate(batches, 1):
            for ref in batch:
                namespace, kind, name = ref.split("/")
                before = cluster.get(API_VERSIONS[kind], kind, name, namespace)
                if before is None:
                    continue
                after = dict(before, spec=dict(before["spec"], template=dict(before["spec"]["template"])))
                metadata = dict(after["spec"]["template"].get("metadata") or {})
                metadata["annotations"] = dict(metadata.get("annotations") or {}, **{RESTARTED_AT: stamp})
                after["spec"]["template"]["metadata"] = metadata
                cluster.patch(before, after)
                restarted.append(ref)
            pending = wait_for_batch(cluster, batch, params["batch_timeout"])
            if pending:
                module.fail_json(msg="batch {0} of {1} did not finish rolling out within {2}s: {3}; later batches were "
                                 "not started".format(number, len(batches), params["batch_timeout"], ", ".join(pending)),
                                 restarted=restarted, batches=batches)
    except FAILURES as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=True, restarted=restarted, batches=batches)


def wait_for_batch(cluster, batch, timeout):
    """Poll the batch's workloads until their rollouts complete; returns those still pending."""
    deadline = time.monotonic() + timeout
    pending = list(batch)
    while pending and time.monotonic() < deadline:
        still = []
        for ref in pending:
            namespace, kind, name = ref.split("/")
            workload = cluster.get(API_VERSIONS[kind], kind, name, namespace)
            if workload is not None and not rollout_complete(dict(workload, kind=kind)):
                still.append(ref)
        pending = still
        if pending:
            time.sleep(1)
    return pending


if __name__ == "__main__":
    main()
