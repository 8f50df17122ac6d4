# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minimal patches between two versions of a Kubernetes object.

Workload fixes replace one probe handler by another (httpGet -> exec). Server-side apply cannot
remove a field another manager owns, so such changes are sent as a strategic merge patch that
names only what changed: `null` for removed keys, containers matched by name. Pure logic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Lists that the API server merges by a key rather than replacing them whole.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name"}


def strategic_merge_patch(before, after):
    """The smallest strategic merge patch that turns `before` into `after` (None if equal)."""
    patch = _diff(before, after, None)
    return patch or None


def _diff(before, after, key):
    if isinstance(before, dict) and isinstance(after, dict):
        patch = {}
        for name in sorted(set(before) | set(after)):
            if name not in after:
                patch[name] = None
            elif name not in before:
                patch[name] = after[name]
            elif before[name] != after[name]:
                changed = _diff(before[name], after[name], name)
                if changed is not None:
                    patch[name] = changed
        return patch or None
    merge_key = MERGE_KEYS.get(key)
    if merge_key and isinstance(before, list) and isinstance(after, list) and _keyed(before, merge_key) \
            and _keyed(after, merge_key) and [i[merge_key] for i in before] == [i[merge_key] for i in after]:
        items = []
        for old, new in zip(before, after):
            changed = _diff(old, new, None)
            if changed:
                changed[merge_key] = new[merge_key]
                items.append(changed)
        return items or None
    return None if before == after else after


def _keyed(items, merge_key):
    return all(isinstance(item, dict) and merge_key in item for item in items)
