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
    first batch that does not complete within O(batch_timeout), or in which a Deployment
    exceeds its C(progressDeadlineSeconds), naming the workloads. Later batches are not started.
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

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import RESTARTED_AT, rollout_state
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import read_status
from ansible_collections.adoptmesh.istio.plugins.module_utils.module_support import FAILURES, cluster_module, open_cluster

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


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
        # What `kubectl rollout restart` sends: only the annotation, so no read is needed first.
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        for number, batch in enumerate(batches, 1):
            sent = []
            for ref in batch:
                namespace, kind, name = ref.split("/")
                if cluster.send_patch(API_VERSIONS[kind], kind, name, namespace, patch, missing_ok=True) is not None:
                    sent.append(ref)
            restarted.extend(sent)
            pending, failed = wait_for_batch(cluster, sent, params["batch_timeout"])
            if failed or pending:
                problems = ["{0} {1}".format(ref, reason) for ref, reason in sorted(failed.items())]
                if pending:
                    problems.append("{0}: {1}".format(
                        "still rolling out" if failed else "not finished within {0}s".format(params["batch_timeout"]),
                        ", ".join(pending)))
                module.fail_json(msg="batch {0} of {1} did not roll out: {2}; later batches were not started".format(
                    number, len(batches), "; ".join(problems)), restarted=restarted, batches=batches)
    except FAILURES as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=True, restarted=restarted, batches=batches)


def read_batch(cluster, refs):
    """The batch's workloads now, by ref: one GET for a lone workload, one LIST per namespace
    and kind when several share them (a large batch polls in a few requests)."""
    groups = {}
    for ref in refs:
        namespace, kind, name = ref.split("/")
        groups.setdefault((namespace, kind), []).append(name)
    current = {}
    for (namespace, kind), names in groups.items():
        if len(names) == 1:
            found = cluster.get(API_VERSIONS[kind], kind, names[0], namespace)
            listed = [found] if found is not None else []
        else:
            listed = cluster.list(API_VERSIONS[kind], kind, [namespace])
        for workload in listed:
            ref = "{0}/{1}/{2}".format(namespace, kind, workload["metadata"]["name"])
            current[ref] = dict(workload, kind=kind)
    return current


def wait_for_batch(cluster, batch, timeout):
    """Poll the batch until every rollout completes, one fails, or the time is up.
    Returns (still pending, {ref: failure})."""
    deadline = time.monotonic() + timeout
    pending, failed = list(batch), {}
    interval = 0.25  # a small batch often rolls out in well under a second; back off to 0.5 s
    while pending and time.monotonic() < deadline:
        current = read_batch(cluster, pending)
        still = []
        for ref in pending:
            if ref not in current:
                continue  # deleted meanwhile: nothing left to wait for
            complete, failure = rollout_state(current[ref])
            if failure:
                failed[ref] = failure
            elif not complete:
                still.append(ref)
        pending = still
        if failed:
            break
        if pending:
            time.sleep(interval)
            interval = min(0.5, interval * 2)
    return pending, failed


if __name__ == "__main__":
    main()
