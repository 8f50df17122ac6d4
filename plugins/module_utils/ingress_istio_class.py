# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source for Ingresses of class istio: how istiod's own Ingress support reads them.

It reads no ingress-nginx annotation, ignores spec.defaultBackend, serves plain HTTP beside HTTPS
and compiles paths as pilot/pkg/config/kube/ingress does (path_route). No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .findings import INFO, Finding
from .ingress_annotations import NGINX
from .ingress_model import CATCH_ALL, EVERY_PATH, EXACT, EXACT_PATH, LITERAL, PREFIX, PREFIX_PATH, PathMatch

NAME = "istio"
SERVER_PASSES = ()  # istiod adds no routes of its own to what the Ingresses say
EMPTY_PATH = ""  # istiod matches everything with an empty path
READS_DEFAULT_BACKEND = False
REDIRECTS_TO_HTTPS = False  # Istio's Ingress support serves plain HTTP beside HTTPS
DEFAULT_CERTIFICATE = False  # a host without a Secret gets no HTTPS server, and no redirect


def ignore_default_backend(ref, findings):
    findings.append(Finding("ingress", ref, INFO, "default-backend-ignored",
                            "spec.defaultBackend is ignored, as Istio's Ingress support ignores it (class istio)"))


def age_key(created, metadata, ref):
    """istiod breaks ties of creation time by name, then namespace."""
    return (created, str(metadata.get("name")), str(metadata.get("namespace") or "default"))


def annotations_read(annotations, ref, findings):
    """Istio's Ingress support reads no ingress-nginx annotation: they are dropped, with a finding."""
    ignored = sorted(k for k in annotations if k.startswith(NGINX))
    if ignored:
        findings.append(Finding("ingress", ref, INFO, "annotations-ignored-by-class",
                                "class istio: Istio's Ingress support ignores {0}, so the translation does too".format(
                                    ", ".join(ignored))))
    return dict((k, v) for k, v in annotations.items() if not k.startswith(NGINX))


def path_route(annotations, path, path_type, ref, field, findings, use_regex, exact_paths):  # pylint: disable=unused-argument
    """A path as istiod's own Ingress support compiles it (pilot/pkg/config/kube/ingress).

    Exact stays exact. Prefix, and an ImplementationSpecific path ending in `/*` or `.*`, is a
    prefix that istiod matches per path segment (`/api/*` takes /api and /api/x, never /apix),
    except `/`, a plain prefix. `""`, `*`, `/*` and `.*` match everything; any other path is exact.
    Routes are ordered by the length of that match string, longest first, exact before prefix at
    equal length, then oldest first; the fifth element is that length.
    """
    if path_type == "Exact":
        return LITERAL, EXACT, path, [PathMatch(EXACT_PATH, path)], len(path)
    if path_type != "Prefix":
        if path in ("", "*", "/*", ".*"):
            return CATCH_ALL, PREFIX, "/", [EVERY_PATH], 0
        if not (path.endswith("/*") or path.endswith(".*")):
            return LITERAL, EXACT, path, [PathMatch(EXACT_PATH, path)], len(path)
        path = path[:-2]
    if path == "/":
        return LITERAL, PREFIX, "/", [PathMatch(PREFIX_PATH, "/")], 1
    trimmed = path[:-1] if path.endswith("/") else path
    return LITERAL, PREFIX, trimmed, [PathMatch(EXACT_PATH, trimmed), PathMatch(PREFIX_PATH, trimmed + "/")], len(path)
