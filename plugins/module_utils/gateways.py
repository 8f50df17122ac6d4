# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether an ingress gateway Deployment serves, and if not, why, in words a user can act on.

The reason is built from what the cluster says: the Deployment's own conditions, its replica
counts, and its pods' scheduling and container states (a pod that cannot be scheduled, an image
that cannot be pulled, a proxy that is not ready). No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _conditions(obj):
    return dict((c.get("type"), c) for c in ((obj.get("status") or {}).get("conditions") or []))


def _selected(deployment, pods):
    selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return [pod for pod in pods if selector and all(
        ((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())]


def pod_problem(pod):
    """Why one pod is not ready, or None when it is."""
    conditions = _conditions(pod)
    name = (pod.get("metadata") or {}).get("name")
    scheduled = conditions.get("PodScheduled")
    if scheduled is not None and scheduled.get("status") != "True":
        return "pod {0} is not scheduled: {1}".format(name, scheduled.get("message") or scheduled.get("reason"))
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        for phase in ("waiting", "terminated"):
            detail = state.get(phase)
            if detail:
                return "pod {0} container {1} is {2}: {3}{4}".format(
                    name, container.get("name"), phase, detail.get("reason") or "",
                    " ({0})".format(detail["message"]) if detail.get("message") else "")
        if not container.get("ready"):
            return "pod {0} container {1} is running but not ready (readiness probe failing)".format(
                name, container.get("name"))
    ready = conditions.get("Ready")
    if ready is None or ready.get("status") != "True":
        return "pod {0} is {1}{2}".format(name, status.get("phase") or "without status",
                                          ": " + ready["message"] if ready and ready.get("message") else "")
    return None


def readiness(deployment, pods):
    """(available, reason) of a gateway Deployment: available when its Available condition is
    True for the current generation and every replica is updated and ready."""
    if deployment is None:
        return False, "its Deployment does not exist (was the gateway chart installed?)"
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    conditions = _conditions(deployment)
    progressing = conditions.get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, "its rollout failed: {0}".format(progressing.get("message"))
    if status.get("observedGeneration", 0) < (deployment.get("metadata") or {}).get("generation", 0):
        return False, "the Deployment controller has not seen its latest spec yet"
    available = conditions.get("Available") or {}
    done = (available.get("status") == "True" and status.get("updatedReplicas", 0) >= wanted
            and status.get("availableReplicas", 0) >= wanted)
    if done:
        return True, "available ({0}/{1} replicas)".format(status.get("availableReplicas", 0), wanted)
    problems = [p for p in (pod_problem(pod) for pod in _selected(deployment, pods)) if p]
    counts = "{0}/{1} replicas available, {2} updated".format(
        status.get("availableReplicas", 0), wanted, status.get("updatedReplicas", 0))
    replica_failure = conditions.get("ReplicaFailure")
    if replica_failure and replica_failure.get("status") == "True":
        problems.insert(0, "pods cannot be created: {0}".format(replica_failure.get("message")))
    if not problems and not _selected(deployment, pods):
        problems.append("no pods exist yet")
    return False, "{0}; {1}".format(counts, "; ".join(problems[:3]) if problems else
                                    available.get("message") or "waiting for the rollout")
