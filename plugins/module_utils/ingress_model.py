# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The route model between the Ingress sources and the output emitters, in no output's terms.

A Route says, for one host: which paths it takes (PathMatch: exact, prefix, regex or any), an
optional header condition, where the request goes (Destination: Service, namespace, port,
weight), and what happens on the way as intents (Redirect, a rewrite, headers to set, Cors, a
timeout, an HTTPS redirect). The sources (ingress.py, for ingress-nginx and Istio's Ingress class)
make Routes; the emitters (ingress_output.py and the emitter per output API) turn them into
objects. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
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


EXACT_PATH, PREFIX_PATH, REGEX_PATH, ANY_PATH = "exact", "prefix", "regex", "any"


class PathMatch(collections.namedtuple("PathMatch", "kind value")):
    """One path condition: `exact` and `prefix` compare strings, `regex` is an RE2 pattern that
    matches the whole path, `any` takes every path."""

    __slots__ = ()


EVERY_PATH = PathMatch(ANY_PATH, "")


class Destination(collections.namedtuple("Destination", "service namespace port weight")):
    """A backend: Service name, its namespace, port number, and the weight of a split (None alone)."""

    __slots__ = ()

    def fqdn(self, cluster_domain):
        return "{0}.{1}.svc.{2}".format(self.service, self.namespace, cluster_domain)

    @property
    def upstream(self):
        """The Service port, as an ingress-nginx upstream is one (the weight aside)."""
        return (self.service, self.namespace, self.port)


class Redirect(collections.namedtuple("Redirect", "code scheme authority path")):
    """Answer with a redirect: the status code; the scheme, authority (host[:port]) and path of
    the Location, each None to keep the request's."""

    __slots__ = ()


def redirect(code, scheme=None, authority=None, path=None):
    return Redirect(code, scheme, authority, path)


class Cors(collections.namedtuple("Cors", "origins methods headers expose credentials max_age")):
    """A CORS policy: `origins` are exact origins or `*` for any; `max_age` in seconds or None."""

    __slots__ = ()


class Retries(collections.namedtuple("Retries", "attempts connection_failures statuses")):
    """Try another backend: up to `attempts` more times (0: never), when no connection could be
    made (`connection_failures`), or when the backend answered one of `statuses`."""

    __slots__ = ()


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
        self.matches = matches  # [PathMatch]: any of them takes the request
        self.destinations = destinations  # [Destination]
        self.source = source
        self.age = age
        self.headers = None  # (name, "exact" or "regex", value) of a canary's steering route
        self.steer = 0  # the order of a canary's steering routes on one stable route
        self.rewrite = None  # FullPathRewrite or RegexRewrite
        self.redirect = None  # Redirect
        self.direct_response = None  # (status, body or None): nginx answers itself (a snippet's `return`)
        self.https_redirect = False
        self.timeout = None
        self.retries = None  # Retries; None keeps the gateway's default
        self.cors = None  # Cors
        self.request_headers = None  # {lower-case name: value} set on the way to the backend
        self.response_headers = None  # {"set": {lower-case name: value}, "remove": [name]} on the answer
        # The client-certificate headers (ingress_client_auth): {"plain": {name: value} on plain HTTP,
        # "tls": {name: value} over HTTPS (None: as on plain HTTP), "remove": [names a client may not send]}
        self.client_headers = None
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
                    (0, self.steer) if self.headers else (1, 0))
        return (self.category, -rank, self.kind, (0, self.steer) if self.headers else (1, 0), (), self.age)
