# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing that must agree with the Go code of Kubernetes and Istio, which reads the same values."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# strconv.ParseBool accepts exactly these spellings; anything else is an error in Go, and
# Istio then falls back to its global default.
_GO_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_GO_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def parse_go_bool(value):
    """True or False as Go's strconv.ParseBool reads value; None when Go would reject it."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    return None
