#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: injector_ready
short_description: Wait until Istio's sidecar injector really injects
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - An istiod Deployment can be Available before its injection webhook answers (the webhook's CA
    bundle is patched by istiod after it starts). Pods created in that window are refused, and
    their ReplicaSets back off for minutes.
  - This module sends a server-side dry run of a small pod that asks for injection (label
    C(sidecar.istio.io/inject=true), or C(istio.io/rev) for a revision) until the answer carries an
    C(istio-proxy) container, or O(wait_timeout) passes. A dry run stores nothing and Istio's webhook
    declares no side effects, so this changes nothing, in check mode or not.
  - In check mode it asks once and reports, without waiting or failing (RV(injecting)), since an
    injector installed by the same run in check mode is not there to wait for.
options:
  namespace:
    description: Namespace for the dry-run pod; it must not disable injection.
    type: str
    default: istio-system
  revision:
    description: Revision whose injector to check; empty for the default revision.
    type: str
    default: ''
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 120
    aliases: [timeout]
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
  - adoptmesh.istio.progress
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Wait for the injector of revision 1-30
  adoptmesh.istio.injector_ready:
    revision: 1-30
"""

RETURN = r"""
injecting:
  description: Whether the injector answered with a sidecar (false only in check mode; otherwise the task fails).
  returned: always
  type: bool
reason:
  description: Why the injector did not answer with a sidecar (the API server's words, or a pod admitted without one).
  returned: when injecting is false
  type: str
dry_runs:
  description:
    - Dry-run pod creations sent before the injector answered with a sidecar. (Not C(attempts), which
      Ansible reserves for C(until) loops.)
  returned: always
  type: int
summary:
  description: The same count as C(summary.attempts).
  returned: always
  type: dict
  sample: {attempts: 1}
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import ClusterError
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, open_cluster, progress_spec)
from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import Waiter, progress_writer


def probe_pod(namespace, revision):
    labels = {"istio.io/rev": revision} if revision else {"sidecar.istio.io/inject": "true"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "adoptmesh-injector-check-", "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "check", "image": "registry.invalid/check:1"}]}}


def main():
    module = cluster_module(progress_spec(dict(namespace=dict(type="str", default="istio-system"),
                                               revision=dict(type="str", default=""),
                                               wait_timeout=dict(type="int", default=120, aliases=["timeout"]))))
    params = module.params
    injector = "the sidecar injector" + (" of revision " + params["revision"] if params["revision"] else "")
    attempts = []
    try:
        cluster = open_cluster(module)
        cluster.dry_run = True  # never store the probe pod
        waiter = Waiter.for_check_mode(module.check_mode, params["wait_timeout"], "injector",
                                       progress=progress_writer(params["progress_file"]))

        def not_injecting():
            attempts.append(1)
            try:
                answer = cluster.create(probe_pod(params["namespace"], params["revision"]))
            except ClusterError as error:
                return {injector: str(error)}
            names = [c.get("name") for c in (answer.get("spec") or {}).get("containers") or []]
            names += [c.get("name") for c in (answer.get("spec") or {}).get("initContainers") or []]
            if "istio-proxy" in names:
                return {}
            return {injector: "the pod was admitted without a sidecar (is the namespace excluded from injection?)"}

        waited = waiter.wait(not_injecting)
        if waited.timed_out:
            module.fail_json(msg="{0} did not inject within {1}s: {2}".format(
                injector, params["wait_timeout"], waited.waiting[injector]),
                dry_runs=len(attempts), summary=dict(attempts=len(attempts)))
    except FAILURES as error:
        module.fail_json(msg=str(error))
    result = dict(changed=False, injecting=waited.done, dry_runs=len(attempts), summary=dict(attempts=len(attempts)))
    if not waited.done:
        # Check mode: nothing waited for, but a refusal (403, timeout) is said, never dropped.
        result["reason"] = waited.waiting[injector]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
