# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key material taken out of texts that come from elsewhere (API server and webhook errors).

An admission webhook may quote the object it denies, a Secret included; the API server may quote
a field's value. Such a text reaches a module's result, message and log only through `redact`.
No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

REDACTED = "<redacted>"
# A PEM block, also with its newlines escaped (JSON inside a message), or cut off by truncation.
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]{1,64}-----.*?(?:-----END [A-Z0-9 ]{1,64}-----|\Z)", re.S)
# The values of a Secret's data/stringData, quoted as JSON (possibly itself escaped in a string),
# as a Python dict, or as Go's %v of a map.
_DATA_JSON = re.compile(r"""(\\*["']?(?:data|stringData)\\*["']?\s*[:=]\s*)(\{[^{}]*\}|map\[[^\]]*(?:\[[^\]]*\][^\]]*)*\])""")
# Base64 of "-----BEGIN" (any alignment) and long base64 or byte-list runs: keys, whatever wraps them.
_BASE64_PEM = re.compile(r"(?:LS0tLS1CRUdJT|LS0tLUJFR0lO|tLS0tQkVHSU4)[A-Za-z0-9+/=]*")
# (Hex digests, sha256 and the like, are not keys and stay.)
_LONG_BASE64 = re.compile(r"(?=[A-Za-z0-9+/]*[G-Zg-z+/])[A-Za-z0-9+/]{64,}={0,2}")
_BYTE_LIST = re.compile(r"\[(?:\d{1,3}[ ,]+){31,}\d{1,3}\]")


def redact(text):
    """text with PEM blocks, Secret data values, base64 of PEM, long base64 runs and byte lists
    replaced by `<redacted>`. Anything not a string is made one first."""
    if not isinstance(text, str):
        text = str(text)
    text = _PEM.sub(REDACTED, text)
    text = _DATA_JSON.sub(lambda match: match.group(1) + REDACTED, text)
    text = _BASE64_PEM.sub(REDACTED, text)
    text = _LONG_BASE64.sub(REDACTED, text)
    return _BYTE_LIST.sub(REDACTED, text)


_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t|"
                          r"LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t|LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tL")


def holds_private_key(text):
    """Whether text carries a PEM private key (or its base64): never to be echoed."""
    return isinstance(text, str) and bool(_PRIVATE_KEY.search(text))
