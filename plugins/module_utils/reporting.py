# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How modules show their work: --diff entries and findings as warnings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

try:
    import yaml
except ImportError:  # PyYAML is a requirement of the modules; fall back to JSON without it.
    yaml = None

from .names import object_ref

# More warnings than this drown the play's output; the rest are in the returned findings.
WARNING_LIMIT = 20


def _text(obj):
    if obj is None:
        return ""
    if yaml is not None:
        return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True)
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def diff_entry(before, after):
    """One entry of Ansible's `diff` return value for a changed (or new) object."""
    reference = object_ref(after or before)
    kind = (after or before or {}).get("kind", "object")
    return {"before": _text(before), "after": _text(after),
            "before_header": "{0} {1} (before)".format(kind, reference),
            "after_header": "{0} {1} (after)".format(kind, reference)}


def finding_warnings(findings, subject, severities=("error", "warning")):
    """Warning lines for findings (dicts as Finding.as_dict() makes them), capped in number."""
    selected = [f for f in findings if f.get("severity") in severities]
    lines = []
    for finding in selected[:WARNING_LIMIT]:
        where = finding.get(subject, "")
        detail = ", ".join("{0} {1}".format(key, finding[key]) for key in ("container", "probe", "host", "path")
                           if finding.get(key))
        lines.append("{0} {1}{2} [{3}/{4}]: {5}".format(
            subject, where, " (" + detail + ")" if detail else "", finding["severity"], finding["code"],
            finding["message"]))
    if len(selected) > WARNING_LIMIT:
        lines.append("... and {0} more findings; see the module's `findings` result".format(
            len(selected) - WARNING_LIMIT))
    return lines


def surface_findings(module, findings, subject):
    """Send findings to the play as Ansible warnings."""
    for line in finding_warnings(findings, subject):
        module.warn(line)
