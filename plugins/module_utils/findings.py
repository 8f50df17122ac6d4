# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings: what an audit or a translation could not keep, fix or decide on its own.

Every finding names its object (`namespace/name`), a stable machine-readable `code`, a
`severity` and a message for people. `error` means some traffic or health check would no
longer behave as before; roles refuse to apply results that carry errors unless told to.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

INFO = "info"
WARNING = "warning"
ERROR = "error"
SEVERITIES = (INFO, WARNING, ERROR)
_RANK = dict((severity, rank) for rank, severity in enumerate(SEVERITIES))


class Finding(object):
    """One finding. `subject` is the key the object reference is reported under
    (`ingress`, `workload`...); `details` are extra fields such as container or host."""

    __slots__ = ("subject", "ref", "severity", "code", "message", "details")

    def __init__(self, subject, ref, severity, code, message, **details):
        if severity not in _RANK:
            raise ValueError("unknown severity {0!r}; use one of {1}".format(severity, ", ".join(SEVERITIES)))
        self.subject = subject
        self.ref = ref
        self.severity = severity
        self.code = code
        self.message = message
        self.details = details

    def as_dict(self):
        result = {self.subject: self.ref, "severity": self.severity, "code": self.code,
                  "message": self.message}
        for key, value in self.details.items():
            if value is not None:
                result[key] = value
        return result

    def sort_key(self):
        return (self.ref, -_RANK[self.severity], self.code, self.message)

    def __repr__(self):
        return "Finding({0}={1!r}, {2}, {3}: {4})".format(
            self.subject, self.ref, self.severity, self.code, self.message)

    def __eq__(self, other):
        return isinstance(other, Finding) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.subject, self.ref, self.severity, self.code, self.message))


def sorted_findings(findings):
    """Findings in a deterministic order: by object, most severe first, then code."""
    return sorted(findings, key=Finding.sort_key)


def has_errors(findings):
    return any(finding.severity == ERROR for finding in findings)


def count_by_severity(findings):
    counts = dict((severity, 0) for severity in SEVERITIES)
    for finding in findings:
        counts[finding.severity] += 1
    return counts
