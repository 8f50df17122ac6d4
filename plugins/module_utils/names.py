# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes object names and references.

Pure functions, no Ansible imports: generated objects need names that are valid, stable across
runs and never collide, and every message needs the same `namespace/name` reference.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253

_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL_VALUE_RE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?\Z")
_INVALID_RUN_RE = re.compile(r"[^a-z0-9]+")

# Long enough that two inputs colliding by chance within one cluster is not a practical risk.
HASH_LENGTH = 8


def is_dns1123_label(value):
    """True when value can name a Namespace, Service or port (RFC 1123 label)."""
    return isinstance(value, str) and len(value) <= DNS1123_LABEL_MAX and bool(_LABEL_RE.match(value))


def is_dns1123_subdomain(value):
    """True when value can name most namespaced objects (RFC 1123 subdomain)."""
    return (isinstance(value, str) and len(value) <= DNS1123_SUBDOMAIN_MAX
            and bool(_SUBDOMAIN_RE.match(value)))


def is_label_value(value):
    """A Kubernetes label value: empty, or up to 63 alphanumerics, '-', '_' and '.' that start and end alphanumeric."""
    return isinstance(value, str) and len(value) <= DNS1123_LABEL_MAX and bool(_LABEL_VALUE_RE.match(value))


def short_hash(text):
    """A short, stable hex digest of text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def sanitize(text):
    """Lower-case text with every run of characters outside [a-z0-9] made one dash."""
    return _INVALID_RUN_RE.sub("-", text.lower()).strip("-")


def stable_name(readable, exact=None, prefix="", max_length=DNS1123_LABEL_MAX):
    """A DNS-1123 label made of a readable part and a hash of the exact input.

    Sanitising is lossy (`a-b.com` and `a.b.com` both read `a-b-com`), so the hash of the exact,
    unsanitised input (`exact`, default `readable`) keeps distinct inputs distinct. The result
    never exceeds `max_length` and is the same for the same input on every run.
    """
    if exact is None:
        exact = readable
    digest = short_hash(exact)
    head = sanitize(prefix + readable)
    room = max_length - len(digest) - 1
    head = head[:room].rstrip("-")
    return "{0}-{1}".format(head, digest) if head else digest


def host_name_part(host):
    """The readable part of a name derived from a host; wildcard hosts say so."""
    if host.startswith("*."):
        return "wildcard-" + host[2:]
    if host == "*":
        return "wildcard"
    return host


def object_ref(obj):
    """`namespace/name` of a Kubernetes object (just `name` for cluster-scoped ones)."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(metadata, dict):
        return "<object without metadata>"
    name = metadata.get("name") or "<unnamed>"
    namespace = metadata.get("namespace")
    return "{0}/{1}".format(namespace, name) if namespace else str(name)


# A cluster's name becomes a file name (backups, reports): one path component, nothing hidden.
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+:=-]*\Z")
FILE_NAME_MAX = 200


def file_name_problem(value):
    """Why value cannot be used as one file name component inside a folder; None when it can.

    Accepts what inventory host names are in practice (letters, digits, `_ . @ + : = -`), refuses
    separators, `..`, a leading dot or dash, control characters and over-long names."""
    if not isinstance(value, str):
        return "is a {0}, not a string".format(type(value).__name__)
    if not value:
        return "is empty"
    if len(value) > FILE_NAME_MAX:
        return "is {0} characters long (at most {1})".format(len(value), FILE_NAME_MAX)
    if ".." in value or not _FILE_NAME_RE.match(value):
        return ("{0!r} cannot be a file name: use letters, digits and _ . @ + : = - "
                "(no / \\ or .., not starting with . or -)".format(value[:80]))
    return None
