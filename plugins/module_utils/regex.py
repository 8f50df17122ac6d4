# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regular expressions from Ingresses, routes and logs, matched as Envoy matches them: with RE2.

RE2 runs in time linear in the input, whatever the pattern: `/(a+)+b` against a logged path of
`a`s takes microseconds, where Python's backtracking `re` takes longer than the age of the
universe. It also has Envoy's syntax (no lookaround, no backreferences). The binding is the
`google-re2` package (module `re2`); without it, a regex is an error that says so, never a
fallback to `re`. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import re2
except ImportError:  # pragma: no cover - the package is in requirements.txt
    re2 = None

MISSING = ("the google-re2 Python package is needed to evaluate regular expressions as Envoy does "
           "(pip install google-re2, or the collection's requirements.txt)")
_CACHE_LIMIT = 10000
_cache = {}


class RegexError(ValueError):
    """A pattern RE2 (and so Envoy) cannot compile, or no RE2 to compile it with."""


def available():
    return re2 is not None


def compile_re2(pattern, ignore_case=False):
    """The compiled pattern (cached), or RegexError with RE2's reason."""
    if re2 is None:
        raise RegexError(MISSING)
    if not isinstance(pattern, str):
        raise RegexError("a regular expression must be a string, not {0}".format(type(pattern).__name__))
    key = (pattern, ignore_case)
    compiled = _cache.get(key)
    if compiled is None:
        options = re2.Options()
        options.log_errors = False  # RE2 would print each failure to stderr itself
        options.case_sensitive = not ignore_case
        try:
            compiled = re2.compile(pattern, options)
        except (re2.error, TypeError, ValueError) as error:
            reason = error.args[0] if error.args else error
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise RegexError(str(reason))
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = compiled
    return compiled


def fullmatch(pattern, value, ignore_case=False):
    """Whether the whole value matches (Envoy's safe_regex match)."""
    return compile_re2(pattern, ignore_case).fullmatch(value) is not None


def prefix_match(pattern, value, ignore_case=False):
    """Whether the value starts with a match (nginx's `location ~*` is anchored only by `^`; the
    replay's candidate test anchors at the start)."""
    return compile_re2(pattern, ignore_case).match(value) is not None
