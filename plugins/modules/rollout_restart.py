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
  - Before restarting, one server-side dry run of a pod per namespace and injection labels asks
    the injector whether it would inject. Workloads whose pods it would not inject (a revision
    that is not installed, a pod that opts out) are returned in RV(refused) with the reason and
    are not restarted, so a re-run does not restart them again.
  - O(goal) says which pods are out of date. C(meshed) (the inject stage) restarts what lacks a
    sidecar; C(unmeshed) (the rollback) restarts what still has one although its namespace no
    longer asks for injection; C(revision) (a move between control-plane revisions) restarts
    what lacks a sidecar and what was injected by another revision than the one its namespace
    now asks for, revision tags resolved through Istio's injector webhooks.
  - Workloads already as wanted are not restarted, so a second run changes nothing. In check mode
    every restart is sent as a server-side dry run (validated by the API server and its
    admission webhooks, stored nowhere) and nothing is waited for.
options:
  namespaces:
    description: Namespaces whose workloads to restart. Empty means every non-system namespace.
    type: list
    elements: str
    default: []
  goal:
    description: Which workloads are out of date (see the description).
    type: str
    choices: [meshed, unmeshed, revision]
    default: meshed
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
  - adoptmesh.istio.cluster
  - adoptmesh.istio.progress
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Restart what is not meshed yet in shop, five workloads at a time
  adoptmesh.istio.rollout_restart:
    namespaces: [shop]
    batch_size: 5

- name: After a rollback took the labels off, restart what still runs a sidecar
  adoptmesh.istio.rollout_restart:
    namespaces: [shop]
    goal: unmeshed
"""

RETURN = r"""
restarted:
  description: Restarted workloads, C(namespace/Kind/name), in order (in check mode, those a restart was validated for).
  returned: always
  type: list
  elements: str
batches:
  description: The batches, each a list of workloads.
  returned: always
  type: list
  elements: list
refused:
  description: Workloads not restarted because the injector would not inject their pods, with the reason.
  returned: always
  type: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import revision_tags, stale_sidecars
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import read_status_and_pods
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster, progress_spec)
from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import elapsed_text, progress_writer
from ansible_collections.adoptmesh.istio.plugins.module_utils.rollout import (
    API_VERSIONS, RolloutFailed, injection_refusals, restart_candidates, restart_patch, run_batches, split_batches)


def main():
    module = cluster_module(progress_spec(dict(
        namespaces=dict(type="list", elements="str", default=[]),
        goal=dict(type="str", choices=["meshed", "unmeshed", "revision"], default="meshed"),
        batch_size=dict(type="int", default=10),
        batch_timeout=dict(type="int", default=300))))
    params = module.params
    if params["batch_size"] < 1:
        module.fail_json(msg="batch_size must be at least 1, got {0}".format(params["batch_size"]))
    cluster, batches, refused = None, [], {}
    try:
        cluster = open_cluster(module)
        status, pods, dummy = read_status_and_pods(cluster, params["namespaces"], "istio-system")
        goal = params["goal"]
        sample = restart_candidates(status["namespaces"], pods) if goal != "unmeshed" else {}
        revisions = dict((name, entry["revision"]) for name, entry in status["namespaces"].items())
        refused = injection_refusals(cluster, sample, revisions)
        for ref, reason in sorted(refused.items()):
            module.warn("{0} is not restarted: {1}".format(ref, reason))
        plan = set(ref for ref in sample if ref not in refused)
        if goal != "meshed":
            webhooks = cluster.list("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
            namespaces = [n for n in cluster.list("v1", "Namespace") if n["metadata"]["name"] in status["namespaces"]]
            for namespace, owners in stale_sidecars(namespaces, pods, revision_tags(webhooks)).items():
                plan.update("{0}/{1}".format(namespace, owner) for owner in owners)
        plan = sorted(plan)
        batches = split_batches(plan, params["batch_size"])
        patch = restart_patch()

        def send(ref):
            namespace, kind, name = ref.split("/")
            return cluster.send_patch(API_VERSIONS[kind], kind, name, namespace, patch, missing_ok=True) is not None

        write = progress_writer(params["progress_file"])
        if batches and not module.check_mode:
            write("restarting {0} workloads in {1} batches of up to {2}".format(
                len(plan), len(batches), params["batch_size"]))

        def progress(number, total, sent, elapsed):
            write("batch {0}/{1}: {2} workloads restarted and rolled out, {3} so far".format(
                number, total, sent, elapsed_text(elapsed)))

        restarted = run_batches(cluster, batches, send, params["batch_timeout"], wait=not module.check_mode,
                                progress=progress, write=write)
    except RolloutFailed as error:
        fail_on_cluster_error(module, cluster, str(error), restarted=error.done, batches=batches, refused=refused)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error, batches=batches, refused=refused)
    module.exit_json(changed=bool(restarted), restarted=restarted, batches=batches, refused=refused)


if __name__ == "__main__":
    main()
