# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing sets of objects through one Cluster: in an order that never opens more than before,
brought to a desired set (writes only for what is missing or differs, prunes of what is no longer
produced), and, when a write fails half way, an error that says what was and was not written.
Every write the API server accepted is in `Cluster.written`. No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .cluster import ClusterError
from .names import object_ref
from .owned import OWNED_KINDS, owner_selector, plan
from .reporting import diff_entry


# Policies first, then what they guard: if a later write fails, no route is served without the
# AuthorizationPolicy or DestinationRule written for it, so no intermediate state is more open
# than before. Kinds not named here come last, in the order given.
WRITE_ORDER = ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication", "DestinationRule",
               "ServiceEntry", "Sidecar", "Gateway", "VirtualService", "HTTPRoute", "GRPCRoute", "TLSRoute")


def in_write_order(resources):
    """The resources sorted by WRITE_ORDER (stable within a kind)."""
    rank = dict((kind, index) for index, kind in enumerate(WRITE_ORDER))
    return sorted(resources, key=lambda resource: rank.get(resource.get("kind"), len(WRITE_ORDER)))


def apply_in_order(cluster, resources):
    """Server-side apply of resources in WRITE_ORDER. Returns the diffs of those that changed.
    On a failed write raises PartialWrite, which knows what was and was not written."""
    return _apply_entries(cluster, [(resource, None, False) for resource in resources])


def _apply_entries(cluster, entries):
    diffs = []
    rank = dict((kind, index) for index, kind in enumerate(WRITE_ORDER))
    ordered = sorted(entries, key=lambda entry: rank.get(entry[0].get("kind"), len(WRITE_ORDER)))
    for index, (resource, live, live_known) in enumerate(ordered):
        try:
            was_changed, before, after = cluster.apply(resource, live, live_known)
        except ClusterError as error:
            raise PartialWrite(error, cluster.written, [entry[0] for entry in ordered[index:]])
        if was_changed:
            diffs.append(diff_entry(before, after))
    return diffs


def sync_owned(cluster, resources, owner, prune):
    """Bring gateway `owner`'s generated objects to `resources` (see sync_labelled)."""
    return sync_labelled(cluster, resources, OWNED_KINDS, owner_selector(owner), prune)


def sync_labelled(cluster, resources, kinds, selector, prune):
    """Bring the generated objects `selector` finds to `resources`: one labelled LIST per kind,
    writes for what is missing or differs only, and with `prune` deletes of what is no longer
    produced (routes before the Gateways and policies they rely on). Returns (diffs, pruned refs)."""
    owned = []
    for api_version, kind in kinds:
        owned.extend(cluster.list(api_version, kind, label_selectors=[selector], missing_ok=True))
    steps = plan(resources, owned, prune)
    diffs = _apply_entries(cluster, steps.write)
    pruned = []
    for obj in reversed(in_write_order(steps.prune)):
        if cluster.delete(obj):
            pruned.append("{0} {1}".format(obj["kind"], object_ref(obj)))
            diffs.append(diff_entry(obj, None))
    return diffs, pruned


class PartialWrite(ClusterError):
    """A write failed after others went through: says which did and which did not."""

    def __init__(self, error, written, pending):
        self.written = list(written)
        self.not_written = ["{0} {1}".format(r.get("kind"), object_ref(r)) for r in pending]
        message = "{0}; written before the failure: {1}; not written: {2}".format(
            error, ", ".join(self.written) or "nothing", ", ".join(self.not_written))
        super(PartialWrite, self).__init__(message, error.status)


def read_owned(cluster, owner):
    """Every object gateway `owner`'s translation runs generated, as they are on the cluster now."""
    owned = []
    for api_version, kind in OWNED_KINDS:
        owned.extend(cluster.list(api_version, kind, label_selectors=[owner_selector(owner)], missing_ok=True))
    return owned
