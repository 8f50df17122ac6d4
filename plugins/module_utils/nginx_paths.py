# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How ingress-nginx renders one Ingress path as nginx locations, and which location a request takes.

The one home of ingress-nginx's path semantics. The translation turns a path's locations into
routes (`ingress.py`), the replay asks which paths a logged request could have taken
(`replay.py`), and the log generator asks which location nginx picks (`tools/access_logs.py`).
From ingress-nginx's buildLocation and updateServerLocations (internal/ingress/controller) and
nginx's own choice among locations. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .regex import compile_re2

EXACT = "="  # `location = /a`
PREFIX = ""  # `location /a/`
REGEX = "~*"  # `location ~* "^/a"`: case-insensitive, anchored at the start only


def regex_pattern(path, path_type, exact_beside=False, own_regex=False):
    """The pattern of a path on a host in regex mode (without its `^`).

    updateServerLocations: a plain Prefix beside an Exact location of its path becomes `/a/`, so
    `~* "^/a/"`; one with its own regex (use-regex, or a rewrite-target other than the path) or
    without an Exact twin keeps the path as written.
    """
    pattern = path[1:] if path.startswith("^") else path
    if path_type != "Exact" and path != "/" and not path.endswith("/") and exact_beside and not own_regex:
        pattern += "/"
    return pattern


def forms(path, path_type, regex=False, exact_beside=False, own_regex=False):
    """The nginx locations ingress-nginx renders for one Ingress path: [(modifier, value)].

    A host in regex mode renders every path as a regex. Otherwise Exact is `= /a`; Prefix and
    ImplementationSpecific (SetDefaultNGINXPathType reads it as Prefix) are `/a/` and `= /a`, per
    path segment, never /ab; a path ending in `/`, and `/`, is the prefix alone.
    """
    path = path or "/"
    if regex:
        return [(REGEX, regex_pattern(path, path_type, exact_beside, own_regex))]
    if path_type == "Exact":
        return [(EXACT, path)]
    if not path.rstrip("/") or path.endswith("/"):
        return [(PREFIX, path if path.rstrip("/") else "/")]
    return [(EXACT, path), (PREFIX, path + "/")]


class Location:
    """One Ingress path as nginx matches it. A pattern RE2 refuses raises RegexError on `matches`."""

    __slots__ = ("path", "path_type", "regex", "forms", "_compiled")

    def __init__(self, path, path_type, regex=False, exact_beside=False, own_regex=False):
        self.path = path or "/"
        self.path_type = path_type
        self.regex = bool(regex)
        self.forms = forms(self.path, path_type, self.regex, exact_beside, own_regex)
        self._compiled = None

    def exactly(self, request_path):
        """Whether an `=` location of this path takes the request before any other."""
        return any(modifier == EXACT and value == request_path for modifier, value in self.forms)

    def matches(self, request_path):
        for modifier, value in self.forms:
            if modifier == EXACT and request_path == value:
                return True
            if modifier == PREFIX and request_path.startswith(value):
                return True
            if modifier == REGEX:
                if self._compiled is None:
                    self._compiled = compile_re2(value, ignore_case=True)
                if self._compiled.match(request_path) is not None:
                    return True
        return False


def choose(locations, request_path):
    """The location nginx takes for the request among one server's, or None (the default backend).

    An exact (`=`) location first; then the regexes, longest path first as ingress-nginx writes
    them (the first that matches); then the longest matching prefix.
    """
    exact = [location for location in locations if location.exactly(request_path)]
    if exact:
        return exact[0]
    regexes = sorted((location for location in locations if location.regex), key=lambda loc: -len(loc.path))
    for location in regexes:
        if location.matches(request_path):
            return location
    prefixes = [location for location in locations if not location.regex and location.matches(request_path)]
    if not prefixes:
        return None
    return max(prefixes, key=lambda location: len(location.path.rstrip("/")))


def nginx_substitution(pattern, replacement):
    """A rewrite's replacement with nginx's `$1`..`$9` as RE2's `\\1`..`\\9`: a group `pattern`
    lacks is empty, as nginx substitutes it."""
    try:
        groups = re.compile(pattern).groups
    except re.error:
        groups = 9  # RE2 syntax Python lacks; the caller checked the pattern with RE2

    def capture(match):
        number = int(match.group(1))
        return "\\" + str(number) if number <= groups else ""

    return re.sub(r"\$(\d)", capture, replacement)
