#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: adoption_state
short_description: Record on the cluster where its adoption stands
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Keeps the ConfigMap C(adoptmesh-adoption-state) in the Istio namespace. Its data says which
    stage the cluster reached (C(reached)), when each stage last completed and with which Istio
    version and revision (C(completed), JSON), and the last failure, if it is not over yet
    (C(failure), JSON with the stage, the task, the message and when).
  - Anything that can read a ConfigMap (AWX, a dashboard, C(kubectl get configmap
    adoptmesh-adoption-state -n istio-system -o yaml)) sees where each cluster of a fleet stands.
  - Writes only when something new happened (a stage completed for the first time or with other
    versions, a new failure, the end of one), so re-runs report C(changed=false).
  - With O(outcome=read) reads the record and writes nothing.
options:
  namespace:
    description: The Istio namespace, where the ConfigMap lives. It must exist for a write.
    type: str
    default: istio-system
  outcome:
    description:
      - C(completed) records that a run completed every stage up to O(stage); a failure of one of
        those stages is over.
      - C(failed) records that a run to O(stage) stopped at O(task) with O(error).
      - C(rolled_back) records a rollback - the stages it walked back (inject and later, and install
        too with O(uninstalled)) are no longer done.
      - C(read) only reads.
    type: str
    choices: [completed, failed, rolled_back, read]
    default: read
  stage:
    description: The stage the run was asked to reach. Required unless O(outcome=read).
    type: str
    choices: [preflight, install, inject, ingress, strict, cutover, egress]
  task:
    description: With O(outcome=failed), the task that failed.
    type: str
  error:
    description: With O(outcome=failed), why it failed (kept to 2000 characters).
    type: str
  uninstalled:
    description: With O(outcome=rolled_back), whether the rollback uninstalled the control plane.
    type: bool
    default: false
  versions:
    description:
      - What the run installed, such as C(istio) and C(revision); recorded with each stage.
    type: dict
    default: {}
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Record that the cluster completed the inject stage
  adoptmesh.istio.adoption_state:
    outcome: completed
    stage: inject
    versions:
      istio: 1.30.3
      revision: ""

- name: Read where the cluster stands
  adoptmesh.istio.adoption_state:
  register: where
"""

RETURN = r"""
state:
  description:
    - The record after this task. C(reached) is the furthest of preflight, install, inject,
      ingress and strict completed (an empty string when none); C(side_stages) lists cutover and
      egress when completed; C(completed) maps each stage to C({at, versions}); C(failure) is the
      last failure not over yet, or null.
  returned: always
  type: dict
  sample:
    reached: inject
    side_stages: []
    completed:
      install: {at: "2026-11-27T10:31:02Z", versions: {istio: 1.30.3, revision: ""}}
    failure: null
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils import adoption_state
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry


def main():
    module = cluster_module(dict(
        namespace=dict(type="str", default="istio-system"),
        outcome=dict(type="str", choices=["completed", "failed", "rolled_back", "read"], default="read"),
        uninstalled=dict(type="bool", default=False),
        stage=dict(type="str", choices=list(adoption_state.STAGES)),
        task=dict(type="str"),
        error=dict(type="str"),
        versions=dict(type="dict", default={}),
    ), required_if=[("outcome", "completed", ("stage",)), ("outcome", "failed", ("stage",))])
    params = module.params
    namespace = params["namespace"]
    where = "ConfigMap {0}/{1}".format(namespace, adoption_state.CONFIGMAP_NAME)
    cluster, result = None, dict(changed=False)
    try:
        cluster = open_cluster(module)
        live = cluster.get("v1", "ConfigMap", adoption_state.CONFIGMAP_NAME, namespace)
        try:
            state = adoption_state.decode((live or {}).get("data"), "cluster {0}: {1}".format(cluster.name, where))
        except adoption_state.StateError as error:
            module.fail_json(msg="{0}; delete it or correct it by hand".format(error))
        if params["outcome"] == "completed":
            state = adoption_state.record_success(state, params["stage"], params["versions"])
        elif params["outcome"] == "failed":
            state = adoption_state.record_failure(state, params["stage"], params["task"], params["error"],
                                                  params["versions"])
        elif params["outcome"] == "rolled_back":
            if live is None:
                module.exit_json(changed=False, state=state)  # never recorded: nothing to walk back
            state = adoption_state.record_rollback(state, params["uninstalled"])
        result["state"] = state
        if params["outcome"] != "read" and adoption_state.encode(state) != (live or {}).get("data"):
            changed, before, after = cluster.apply(adoption_state.configmap(namespace, state), live, True)
            result["changed"] = changed
            if module._diff and changed:
                result["diff"] = diff_entry(before, after)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
