# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The route model shared by the Ingress translation (ingress.py) and its outputs (ingress_output.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools

MANAGED_BY = {"app.kubernetes.io/managed-by": "adoptmesh.istio"}
SOURCE_ANNOTATION = "adoptmesh.istio/source-ingresses"
# Which gateway's translation made an object: with MANAGED_BY, what pruning selects on.
OWNER_LABEL = "adoptmesh.istio/gateway"

# The order routes are made in: ingress-nginx tries regex locations of the same length and path
# in the order it added them.
_MADE = itertools.count()

# Route categories, in the order a VirtualService must list them (first match wins).
LITERAL, REGEX, CATCH_ALL = 0, 1, 2
EXACT, PREFIX = 0, 1


class FullPathRewrite:
    """The backend sees `path` instead of the request's path (nginx `rewrite-target` without captures)."""

    def __init__(self, path):
        self.path = path


class RegexRewrite:
    """The request's path, matched by `pattern` (RE2, anchored), becomes `replacement` (`\\N` for captures)."""

    def __init__(self, pattern, replacement):
        self.pattern = pattern
        self.replacement = replacement


class Route:
    """One routing decision on one host: matches, destinations, and what happens on the way."""

    def __init__(self, host, category, kind, path, matches, destinations, source, age):
        self.host = host
        self.category = category
        self.kind = kind  # EXACT / PREFIX within literals
        self.path = path
        self.matches = matches  # list of Istio uri match dicts ({} = match everything)
        self.destinations = destinations  # [(fqdn, port, weight or None)]
        self.source = source
        self.age = age
        self.headers = None  # (name, value) for a canary-by-header route
        self.rewrite = None  # FullPathRewrite or RegexRewrite
        self.redirect = None
        self.https_redirect = False
        self.timeout = None
        self.cors = None
        self.request_headers = None
        self.extra_sources = []
        self.rank = None  # the length routes are ordered by, when it is not the path's (class istio)
        # A defaultBackend (host None): whether its Ingress has rules, and per host it is the oldest
        # Ingress on, whether ingress-nginx redirects that host's unmatched paths to HTTPS.
        self.has_rules = False
        self.owned_hosts = {}
        self.controller = "nginx"  # the class whose semantics the route has: nginx or istio
        self.made = next(_MADE)  # a canary's header route takes its stable route's

    def key(self):
        # The rank too: istiod's Ingress keeps Prefix /a/ and ImplementationSpecific /a/* apart.
        return (self.category, self.kind, self.path, self.headers, self.rank)

    def sort_key(self):
        # First match wins: literals longest first (Exact before Prefix at equal length), then
        # regexes, then catch-alls; header routes before the route they refine; oldest first.
        rank = len(self.path or "") if self.rank is None else self.rank
        # ingress-nginx orders regex locations by length, then by path in reverse order, whatever
        # their type, then as they were added; a canary's header route just before its stable one.
        if self.category == REGEX:
            return (self.category, -rank, tuple(-ord(c) for c in self.path or ""), self.age, self.made,
                    0 if self.headers else 1)
        return (self.category, -rank, self.kind, 0 if self.headers else 1, (), self.age)
