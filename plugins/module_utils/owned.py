# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects a gateway's translation owns: which to write, which are already as wanted, which to prune.

Every generated object carries MANAGED_BY and OWNER_LABEL. A run lists, by those two labels, what
earlier runs of the same owner left in the cluster (one LIST per kind), then:
- writes only the objects that are missing or differ (so a re-run with nothing to do sends no
  writes at all, and a user's edit to a generated object is put back);
- prunes, when asked, the listed objects the current translation no longer produces. Nothing
  without both labels is ever a candidate: objects users made, even with the same kinds and in the
  same namespace, are out of reach.

Pure logic, no Ansible imports; the cluster calls are in `sync_owned`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from .ingress_model import MANAGED_BY, OWNER_LABEL

# The hash of the spec a run generated, on every generated object: the API server fills in
# defaults (Gateway API CRDs do), so the live spec is compared as a superset of the generated one,
# and the hash tells when the generated spec itself changed (a field dropped, for one).
SPEC_HASH = "adoptmesh.istio/spec-hash"

# Every kind a translation can produce, in either output API: switching the output API prunes the
# other API's objects too.
OWNED_KINDS = (
    ("networking.istio.io/v1", "Gateway"), ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"), ("security.istio.io/v1", "AuthorizationPolicy"),
    ("gateway.networking.k8s.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "TLSRoute"), ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
)


def owner_selector(owner):
    """The label selector of the objects `owner`'s runs generated."""
    labels = dict(MANAGED_BY)
    labels[OWNER_LABEL] = owner
    return ",".join("{0}={1}".format(key, value) for key, value in sorted(labels.items()))


def identity(obj):
    """(group, kind, namespace, name): the same object whatever API version it is read at."""
    metadata = obj.get("metadata") or {}
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return group, obj.get("kind"), metadata.get("namespace"), metadata.get("name")


def spec_hash(spec):
    # A generated spec is a tree, never a cycle: the encoder need not track what it has seen.
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), check_circular=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stamp(resource):
    """Put the spec's hash on a generated object (see SPEC_HASH)."""
    metadata = resource.setdefault("metadata", {})
    metadata.setdefault("annotations", {})[SPEC_HASH] = spec_hash(resource.get("spec"))
    return resource


def covers(live, wanted):
    """Whether `live` says at least what `wanted` says: every key of a mapping, lists of the same
    length item by item, and equal scalars. Fields only in `live` (API server defaults) are allowed."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(key in live and covers(live[key], value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(
            covers(item, want) for item, want in zip(live, wanted))
    return live == wanted


def _contains(live, wanted):
    live = live or {}
    return all(live.get(key) == value for key, value in (wanted or {}).items())


def is_current(desired, live):
    """Whether `live` already says everything `desired` says: its spec (defaults the API server
    added aside), its labels and annotations, the spec hash included. An object whose generated
    spec changed carries another hash, so a field dropped from it is not missed; a user's edit to a
    generated field shows in the spec."""
    if live is None:
        return False
    if not covers(live.get("spec"), desired.get("spec")):
        return False
    metadata, live_metadata = desired.get("metadata") or {}, live.get("metadata") or {}
    return (_contains(live_metadata.get("labels"), metadata.get("labels"))
            and _contains(live_metadata.get("annotations"), metadata.get("annotations")))


class Plan:
    """What one run does to the owned objects."""

    def __init__(self, write, current, prune):
        self.write = write  # [(desired, live or None, live_known)]
        self.current = current  # desired objects already as wanted
        self.prune = prune  # live objects no longer produced


def plan(desired, owned, prune=True):
    """Compare the desired objects with the `owned` ones listed by owner_selector."""
    live_by_id = dict((identity(obj), obj) for obj in owned)
    wanted = set()
    write, current = [], []
    for obj in desired:
        key = identity(obj)
        wanted.add(key)
        live = live_by_id.get(key)
        if is_current(obj, live):
            current.append(obj)
        else:
            # Not among the owned objects: it may still exist unlabelled (made by hand, or before
            # labels), so the apply reads it first.
            write.append((obj, live, live is not None))
    stale = [obj for key, obj in sorted(live_by_id.items(), key=lambda item: tuple(str(p) for p in item[0]))
             if key not in wanted] if prune else []
    return Plan(write, current, stale)


def claims(ingress_refs, owner):
    """{Ingress: owner} for the Ingresses one gateway's translation takes."""
    return dict((ref, owner) for ref in ingress_refs)


def taken_elsewhere(ingress_refs, owner, claimed):
    """[(Ingress, [owners])] for the Ingresses of this translation that another gateway took earlier
    in the run (`claimed`, the union of their `claims`): a cutover would retire them for both."""
    if not isinstance(claimed, dict):
        raise ValueError("claimed must be a mapping of Ingress (namespace/name) to the gateway that took it")
    return [(ref, [str(claimed[ref]), owner]) for ref in sorted(ingress_refs)
            if ref in claimed and claimed[ref] != owner]
