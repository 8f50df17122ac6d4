# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm's ownership metadata, for taking objects another installer made into a Helm release.

Helm installs into an object that already exists only when the object says it belongs to that
release: the label `app.kubernetes.io/managed-by: Helm` and the annotations
`meta.helm.sh/release-name` and `meta.helm.sh/release-namespace` (helm's pkg/action/validate.go).
Marking the objects a chart renders that way before `helm upgrade --install` is how an install made
by istioctl or the operator is taken under Helm in place: the same objects, updated, never deleted
and re-created, so the injection webhook answers throughout.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"


class OwnedElsewhere(Exception):
    """The object already belongs to another Helm release: it is not taken."""


def ownership_metadata(live, release, namespace):
    """The metadata (labels and annotations) that makes `live` part of the release, or None when
    it already is. Raises OwnedElsewhere when another release owns it."""
    metadata = live.get("metadata") or {}
    labels, annotations = dict(metadata.get("labels") or {}), dict(metadata.get("annotations") or {})
    owner = (annotations.get(RELEASE_NAME), annotations.get(RELEASE_NAMESPACE))
    if owner[0] and owner != (release, namespace):
        raise OwnedElsewhere("{0} {1} belongs to Helm release {2}/{3}, not {4}/{5}".format(
            live.get("kind"), metadata.get("name"), owner[1], owner[0], namespace, release))
    if labels.get(MANAGED_BY_LABEL) == "Helm" and owner == (release, namespace):
        return None
    labels[MANAGED_BY_LABEL] = "Helm"
    annotations[RELEASE_NAME], annotations[RELEASE_NAMESPACE] = release, namespace
    return dict(metadata, labels=labels, annotations=annotations)
