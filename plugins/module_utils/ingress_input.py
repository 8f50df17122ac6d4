# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading Ingress objects as they come: any field may be missing or of another type, and is
read defensively here (a mapping where a mapping belongs, else empty). No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .names import is_dns1123_subdomain
from .regex import RegexError, available as regex_available, compile_re2

CLASS_ANNOTATION = "kubernetes.io/ingress.class"
# What Envoy's RE2 engine does not have (PCRE, which ingress-nginx uses, does): lookaround,
# backreferences, atomic groups, possessive quantifiers, conditionals.
_RE2_UNSUPPORTED = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?>|\(\?\(|[*+?}]\+")


def descending(text):
    """A sort key that orders strings by their UTF-8 bytes, last first (a longer string before its prefix)."""
    return tuple(-byte for byte in text.encode("utf-8", "surrogatepass")) + (1,)


def ref_of(ingress):
    metadata = ingress.get("metadata") if isinstance(ingress, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    return "%s/%s" % (metadata.get("namespace") or "default", metadata.get("name") or "<unnamed>")


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def ingress_class(ingress):
    spec = as_dict(ingress.get("spec"))
    if isinstance(spec.get("ingressClassName"), str) and spec["ingressClassName"]:
        return spec["ingressClassName"]
    value = as_dict(as_dict(ingress.get("metadata")).get("annotations")).get(CLASS_ANNOTATION)
    return value if isinstance(value, str) and value else None


def re2_problem(pattern):
    """Why a regex cannot run in Envoy (RE2), or None. RE2 itself decides when it is installed."""
    if regex_available():
        try:
            compile_re2(pattern)
        except RegexError as error:
            found = _RE2_UNSUPPORTED.search(pattern)
            if found:
                return "{0!r} is PCRE syntax that Envoy's RE2 engine does not support".format(found.group(0))
            return "not a valid regular expression for Envoy's RE2 engine: {0}".format(error)
        return None
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        return "not a valid regular expression: {0}".format(error)
    found = _RE2_UNSUPPORTED.search(pattern)
    if found:
        return "{0!r} is PCRE syntax that Envoy's RE2 engine does not support".format(found.group(0))
    return None


def valid_host(host):
    if host.startswith("*."):
        return is_dns1123_subdomain(host[2:]) and "*" not in host[2:]
    return is_dns1123_subdomain(host)
