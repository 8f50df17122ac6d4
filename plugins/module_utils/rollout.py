# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batched rollouts with one set of wait and stop rules, for restarts and template fixes alike.

A batch of workloads is changed (a restart annotation, a probe fix: anything that changes the pod
template starts a rollout), then polled until every rollout is complete; the first batch that
fails (a Deployment past its progress deadline) or does not finish in time stops the run, and
later batches are not started. In check mode each change is a server-side dry run and nothing
is waited for.

Before a workload is restarted to get a sidecar, a server-side dry run of one of its pods asks
the injector itself whether it would inject: a restart that cannot help (the namespace points at
a revision that is not installed, the pod opts out) is reported with the reason, not repeated
on every run.

Cluster-facing (a Cluster), no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import json
import time

from .cluster import ClusterError
from .mesh import (POD_INJECT_LABEL, RESTARTED_AT, REVISION_LABEL, SIDECAR_STATUS, pod_owner, rollout_state,
                   workloads_to_restart)
from .waiter import Waiter

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
                "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}
ROLLING_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# Labels Istio's injection webhooks select pods by (their objectSelector): pods that agree on
# these, in one namespace, get the same answer from the injector.
INJECTION_SELECTOR_LABELS = (POD_INJECT_LABEL, REVISION_LABEL)


class RolloutFailed(Exception):
    """A batch did not roll out; later batches were not started."""

    def __init__(self, message, done):
        super(RolloutFailed, self).__init__(message)
        self.done = done


def split_batches(refs, size):
    return [refs[i:i + size] for i in range(0, len(refs), size)]


def restart_patch(now=None):
    """What `kubectl rollout restart` sends: only the annotation, so no read is needed first."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def run_batches(cluster, batches, send, timeout, wait=True, progress=None, write=None):
    """For each batch: send(ref) for each workload (True when a change went out), then wait for
    the batch's rollouts. Returns the refs changed. Raises RolloutFailed at the first batch that
    fails or times out, with what was done so far. `progress(batch, batches, sent, elapsed)` is
    called after each batch; `write` gets the wait's progress lines."""
    done = []
    started = time.monotonic()
    for number, batch in enumerate(batches, 1):
        sent = [ref for ref in batch if send(ref)]
        done.extend(sent)
        if not wait or not sent:
            continue
        pending, failed = wait_for_batch(cluster, sent, timeout, write)
        if progress is not None:
            progress(number, len(batches), len(sent), time.monotonic() - started)
        if failed or pending:
            problems = ["{0} {1}".format(ref, reason) for ref, reason in sorted(failed.items())]
            if pending:
                problems.append("{0}: {1}".format(
                    "still rolling out" if failed else "not finished within {0}s".format(timeout), ", ".join(pending)))
            raise RolloutFailed("batch {0} of {1} did not roll out: {2}; later batches were not started".format(
                number, len(batches), "; ".join(problems)), done)
    return done


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


def wait_for_batch(cluster, batch, timeout, write=None):
    """Poll the batch until every rollout completes, one fails, or the time is up.
    Returns (still pending, {ref: failure}). Kinds without a rollout (CronJob) are not waited for."""
    pending = [ref for ref in batch if ref.split("/")[1] in ROLLING_KINDS]
    failed = {}

    def rolling():
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
        pending[:] = still
        # A failed rollout ends the wait: the batch has failed, whatever the others do.
        return {} if failed else dict((ref, "rolling out") for ref in still)

    if pending:
        # A small batch often rolls out in well under a second: polls start at 0.25 s, back off to 0.5 s.
        Waiter(timeout, "workloads", progress=write, interval=0.5, first_interval=0.25).wait(rolling, total=len(batch))
    return pending, failed


def restart_candidates(coverage_report, pods):
    """{`namespace/Kind/name`: one of its pods without a sidecar} for every workload a restart
    would bring into the mesh (the pod is what the injector is asked about)."""
    planned = workloads_to_restart(coverage_report)
    candidates = {}
    for pod in pods:
        metadata = pod.get("metadata") or {}
        namespace, owner = metadata.get("namespace"), pod_owner(pod)
        if owner not in planned.get(namespace, ()) or SIDECAR_STATUS in (metadata.get("annotations") or {}):
            continue
        candidates.setdefault("{0}/{1}".format(namespace, owner), pod)
    return candidates


def _check_pod(pod):
    """A copy of a running pod that can be created again (as a dry run)."""
    metadata = pod.get("metadata") or {}
    annotations = dict((k, v) for k, v in (metadata.get("annotations") or {}).items() if k != SIDECAR_STATUS)
    spec = copy.deepcopy(pod.get("spec") or {})
    spec.pop("nodeName", None)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "adoptmesh-injection-check-", "namespace": metadata.get("namespace"),
                         "labels": dict(metadata.get("labels") or {}), "annotations": annotations},
            "spec": spec}


def _has_sidecar(pod):
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
    return "istio-proxy" in names or SIDECAR_STATUS in ((pod.get("metadata") or {}).get("annotations") or {})


def injection_refusals(cluster, pods_by_ref, namespace_revisions):
    """{workload ref: why a restart would not give its pods a sidecar}, asking the injector with
    a server-side dry run of one pod per namespace and injection-selector labels."""
    answers, refused = {}, {}
    for ref, pod in sorted(pods_by_ref.items()):
        labels = (pod.get("metadata") or {}).get("labels") or {}
        namespace = pod["metadata"]["namespace"]
        key = (namespace, json.dumps([labels.get(k) for k in INJECTION_SELECTOR_LABELS]))
        if key not in answers:
            answers[key] = _ask_injector(cluster, pod, namespace_revisions.get(namespace))
        if answers[key]:
            refused[ref] = answers[key]
    return refused


def _ask_injector(cluster, pod, namespace_revision):
    """None when the injector would inject the pod; else why not."""
    try:
        answer = cluster.create(_check_pod(pod), dry_run=True)
    except ClusterError as error:
        text = str(error)
        if "istio" in text.lower() or "sidecar" in text.lower():
            return "the injector refuses the pod: {0}".format(text)
        return None  # refused for another reason (quota, policy): the rollout's own checks report it
    if _has_sidecar(answer):
        return None
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get(POD_INJECT_LABEL) == "false":
        return "the pod opts out (sidecar.istio.io/inject: false)"
    revision = labels.get(REVISION_LABEL) or namespace_revision
    if revision:
        return ("the injector admits the pod without a sidecar: no control plane of revision {0!r} answers "
                "(is it installed?)".format(revision))
    return "the injector admits the pod without a sidecar"
