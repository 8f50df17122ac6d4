# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a cluster stands in the adoption, kept on the cluster itself.

One ConfigMap in the Istio namespace records, per stage, when a run last completed it and with
which Istio version and revision, and the last failure with the stage and task it stopped at. Any
controller that can read a ConfigMap (AWX, a dashboard, kubectl) sees where each cluster stands
without the controller's files.

A record changes only when something new happened: a stage completed for the first time or with
other versions, a failure, or the end of a failure. A re-run that changes nothing else leaves the
ConfigMap as it was, so the adoption stays idempotent.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from . import stages
from .errors import depth_guarded, field_path
from .shapes import ANY, MapOf, problem as shape_problem

CONFIGMAP_NAME = "adoptmesh-adoption-state"
# The stages (module_utils/stages.py, the one list): cutover and egress go through ingress, not strict.
MAIN_STAGES = stages.MAIN_STAGES
SIDE_STAGES = stages.SIDE_STAGES
STAGES = stages.NAMES
STATE_LABEL = "app.kubernetes.io/managed-by"


class StateError(ValueError):
    """The recorded state cannot be read (someone edited it by hand)."""


def covered_stages(stage):
    """The stages a successful run to `stage` has completed, in order."""
    if stage not in STAGES:
        raise StateError("stage {0} is not one of {1}".format(stage, ", ".join(STAGES)))
    return stages.covered_stages(stage)


def _timestamp(now):
    return (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


# What a record holds once decoded: the stages completed, each with when and with which versions,
# and the last failure.
_COMPLETED = MapOf({"at": str, "versions": MapOf(ANY)})
_FAILURE = {"stage": str, "task": str, "message": str, "versions": MapOf(ANY), "at": str}


@depth_guarded("the state ConfigMap", StateError)
def decode(data, where="the state ConfigMap"):
    """The state from the ConfigMap's data (None or {} for a cluster with no record yet). A
    record someone edited into another shape is a StateError naming the field."""
    data = data or {}
    if not isinstance(data, dict):
        raise StateError("{0}: data is {1}, not a mapping".format(where, type(data).__name__))
    state = {"completed": {}, "failure": None}
    for key in ("completed", "failure"):
        if data.get(key):
            if not isinstance(data[key], str):
                raise StateError("{0}: data.{1} is {2}, not JSON text".format(where, key, type(data[key]).__name__))
            try:
                state[key] = json.loads(data[key])
            except (ValueError, RecursionError) as error:
                raise StateError("{0}: data.{1} is not JSON ({2})".format(where, key, error))
    if not isinstance(state["completed"], dict):
        raise StateError("{0}: data.completed is not a JSON object".format(where))
    if state["failure"] is not None and not isinstance(state["failure"], dict):
        raise StateError("{0}: data.failure is not a JSON object".format(where))
    for key, schema in (("completed", _COMPLETED), ("failure", _FAILURE)):
        found = shape_problem(state[key], schema, (key,))
        if found:
            raise StateError("{0}: data.{1}: {2}".format(where, field_path(*found[0]), found[1]))
    return summarize(state)


def summarize(state):
    """Adds `reached`: the furthest main stage completed ("" when none), and `side_stages`."""
    completed = state.get("completed") or {}
    reached = [stage for stage in MAIN_STAGES if stage in completed]
    state["reached"] = reached[-1] if reached else ""
    state["side_stages"] = [stage for stage in SIDE_STAGES if stage in completed]
    return state


def encode(state):
    """The ConfigMap's data: JSON values with sorted keys, so equal states write equal bytes."""
    data = {"reached": state.get("reached") or "",
            "completed": json.dumps(state.get("completed") or {}, sort_keys=True)}
    if state.get("failure"):
        data["failure"] = json.dumps(state["failure"], sort_keys=True)
    return data


@depth_guarded("the state", StateError)
def record_success(state, stage, versions, now=None):
    """The state after a run that completed every stage up to `stage`. A failure of one of
    those stages is over; a failure of another stage stays on record."""
    _check_state(state)
    covered = covered_stages(stage)
    completed = dict(state.get("completed") or {})
    stamp = _timestamp(now)
    for name in covered:
        entry = completed.get(name) or {}
        if entry.get("versions") != versions:
            completed[name] = {"at": stamp, "versions": dict(versions)}
    failure = state.get("failure")
    if failure and failure.get("stage") in covered:
        failure = None
    return summarize({"completed": completed, "failure": failure})


@depth_guarded("the state", StateError)
def record_failure(state, stage, task, message, versions, now=None):
    """The state after a run to `stage` stopped at `task` with `message`."""
    _check_state(state)
    covered_stages(stage)  # refuses unknown stages
    failure = {"stage": stage, "task": task or "", "message": (message or "")[:2000], "versions": dict(versions)}
    previous = state.get("failure") or {}
    if dict(previous, at=None) == dict(failure, at=None):
        failure["at"] = previous.get("at")  # the same failure again is not news
    else:
        failure["at"] = _timestamp(now)
    return summarize({"completed": dict(state.get("completed") or {}), "failure": failure})


@depth_guarded("the state", StateError)
def record_rollback(state, uninstalled):
    """The state after a rollback: the stages it walked back are no longer done (install too when
    it uninstalled the control plane), and a failure of one of them is moot."""
    _check_state(state)
    kept = ("preflight",) if uninstalled else ("preflight", "install")
    completed = dict((stage, entry) for stage, entry in (state.get("completed") or {}).items() if stage in kept)
    failure = state.get("failure")
    if failure and failure.get("stage") not in kept:
        failure = None
    return summarize({"completed": completed, "failure": failure})


def _check_state(state):
    """A state as decode() returns it, else StateError naming the field."""
    if not isinstance(state, dict):
        raise StateError("the state is {0}, not a mapping".format(type(state).__name__))
    for key, schema in (("completed", _COMPLETED), ("failure", _FAILURE)):
        found = shape_problem(state.get(key), schema, (key,))
        if found:
            raise StateError("the state: {0}: {1}".format(field_path(*found[0]), found[1]))


def configmap(namespace, state):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP_NAME, "namespace": namespace,
                         "labels": {STATE_LABEL: "adoptmesh.istio"}},
            "data": encode(state)}
