# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading nginx access logs in any `log_format`, as a stream.

A `log_format` string (`$remote_addr - [$time_local] "$request" ...`) becomes one regular
expression: each variable matches up to the literal text that follows it, and the variables nginx
fills with lists (`$upstream_addr` and friends: `a, b` after a retry, `a : b` after an internal
redirect) match the whole list. Only the variables the replay reads are captured. Files are read
line by line, gzip or plain (told apart by their first bytes), so memory does not grow with the
log. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import re
import zlib

from .errors import InputError

# ingress-nginx's default `log-format-upstream` (the `upstreaminfo` format of its ConfigMap).
UPSTREAMINFO = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
                '"$http_user_agent" $request_length $request_time [$proxy_upstream_name] '
                '[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length '
                '$upstream_response_time $upstream_status $req_id')

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_LISTS = frozenset(("upstream_addr", "upstream_status", "upstream_response_time", "upstream_response_length",
                    "upstream_connect_time", "upstream_header_time", "upstream_bytes_received",
                    "upstream_bytes_sent", "upstream_cache_status"))
# What the replay reads when logged. `http_*` request headers are read too (canary headers).
READ = frozenset(("request", "request_method", "request_uri", "uri", "args", "status", "host", "http_host",
                  "server_name", "scheme", "https", "server_port", "proxy_upstream_name",
                  "proxy_alternative_upstream_name", "upstream_addr", "upstream_status", "time_local", "time_iso8601"))
_NOT_HEADERS = frozenset(("http_host", "http_user_agent", "http_referer", "http_x_forwarded_for"))


# How nginx escapes a variable's value in a log line (`log_format ... escape=`): `default` writes
# `"`, `\` and bytes outside printable ASCII as `\xHH`; `json` (ingress-nginx's
# `log-format-escape-json`) writes JSON string escapes; `none` writes the bytes as they are.
ESCAPES = ("default", "json", "none")
# Variables that cannot hold a `/`, matched up to it when another variable follows directly
# (`$host$request_uri`): nothing else tells where one value ends and the next begins.
_NO_SLASH = frozenset(("host", "http_host", "server_name", "scheme", "https", "server_port", "status",
                       "request_method", "remote_addr"))
_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape_default(value):
    if "\\x" not in value:
        return value
    data = bytearray()
    position = 0
    for match in re.finditer(r"\\x([0-9A-Fa-f]{2})", value):
        data += value[position:match.start()].encode("utf-8")
        data.append(int(match.group(1), 16))
        position = match.end()
    data += value[position:].encode("utf-8")
    return data.decode("utf-8", "replace")


def _unescape_json(value):
    if "\\" not in value:
        return value
    out = []
    position = 0
    for match in re.finditer(r"\\(u[0-9A-Fa-f]{4}|.)", value):
        out.append(value[position:match.start()])
        code = match.group(1)
        out.append(chr(int(code[1:], 16)) if len(code) == 5 else _JSON_ESCAPES.get(code, code))
        position = match.end()
    out.append(value[position:])
    return "".join(out)


class LogFormat:
    """A compiled nginx `log_format`: `parse(line)` gives the read variables as a dict, or None.

    `escape` is the format's `escape=` parameter (ingress-nginx's `log-format-escape-json: "true"`
    is `json`); values are read back unescaped."""

    def __init__(self, text, escape="default"):
        if not isinstance(text, str) or "$" not in text:
            raise InputError("", "options", "log_format", "{0!r} names no nginx variable ($name)".format(text))
        if escape not in ESCAPES:
            raise InputError("", "options", "log_escape", "{0!r} is not one of {1}".format(escape, ", ".join(ESCAPES)))
        self.escape = escape
        pieces = []
        self.variables = []
        position = 0
        found = list(_VARIABLE.finditer(text))
        for index, match in enumerate(found):
            pieces.append(re.escape(text[position:match.start()]))
            name = match.group(1) or match.group(2)
            following = text[match.end():found[index + 1].start()] if index + 1 < len(found) else text[match.end():]
            pieces.append(self._group(name, following, index + 1 < len(found)))
            position = match.end()
        pieces.append(re.escape(text[position:]))
        self.pattern = re.compile("".join(pieces) + r"\s*\Z")
        self.headers = sorted(set(v[5:].replace("_", "-") for v in self.variables
                                  if v.startswith("http_") and v not in _NOT_HEADERS))
        if not any(v in self.variables for v in ("request", "request_uri", "uri")):
            raise InputError("", "options", "log_format", "logs no request path ($request, $request_uri or $uri): "
                             "there is nothing to replay")
        if "proxy_upstream_name" not in self.variables:
            raise InputError("", "options", "log_format", "logs no $proxy_upstream_name: the replay cannot tell where "
                             "ingress-nginx sent a request")

    def _group(self, name, following, variable_follows):
        if name in _LISTS:
            # Empty when nothing was proxied: `-` in the default escape, `""` with escape=json.
            body = r"(?:[^\s,\"]+(?:(?:, | : )[^\s,\"]+)*)?"
        elif following:
            stop = re.escape(following[0])
            # An escaped character never ends a value: `\"` (json) or `\x22` (default).
            body = "[^{0}]*".format(stop) if self.escape == "none" else r"(?:[^{0}\\]|\\.)*".format(stop)
        elif variable_follows and name in _NO_SLASH:
            body = r"[^\s/]*"
        else:
            body = r"\S*"
        wanted = name in READ or (name.startswith("http_") and name not in _NOT_HEADERS)
        if wanted and name not in self.variables:
            self.variables.append(name)
            return "(?P<{0}>{1})".format(name, body)
        return "(?:{0})".format(body)

    def parse(self, line):
        match = self.pattern.match(line)
        if not match:
            return None
        fields = match.groupdict()
        if self.escape == "none":
            return fields
        unescape = _unescape_json if self.escape == "json" else _unescape_default
        return dict((name, unescape(value)) for name, value in fields.items())


# nginx writes one request per line, well under this; a longer line is not a log line, and is
# skipped without ever being held whole (memory stays flat on any file, compressed or not).
MAX_LINE = 64 * 1024
_DRAIN = 64 * 1024


def open_log(path):
    """A binary stream over an access log, plain or gzip, whatever its name says."""
    try:
        raw = open(path, "rb")
    except (IOError, OSError) as error:
        raise InputError("log file", path, "", "cannot be read: {0}".format(getattr(error, "strerror", None) or error))
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    return gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw


def log_lines(path, max_line=MAX_LINE):
    """(line number, text) for each line of a log, plain or gzip. The text of a line longer than
    max_line bytes is None (read past in pieces, never held). A file that cannot be read or
    decompressed (corrupt or truncated gzip) is an InputError naming the file and the line."""
    stream = open_log(path)
    number = 0
    try:
        while True:
            try:
                chunk = stream.readline(max_line + 1)
                if not chunk:
                    return
                number += 1
                if len(chunk) > max_line and not chunk.endswith(b"\n"):
                    while chunk and not chunk.endswith(b"\n"):
                        chunk = stream.readline(_DRAIN)
                    text = None
                else:
                    # nginx escapes what is not printable ASCII; anything else is replaced, never fatal.
                    text = chunk.decode("utf-8", "replace")
            except (IOError, OSError, EOFError, zlib.error) as error:
                raise InputError("log file", path, "", "cannot be read at line {0}: {1}".format(
                    number + 1, _reason(error)))
            yield number, text
    finally:
        stream.close()


def _reason(error):
    if isinstance(error, EOFError):
        return "the compressed stream ends before its end marker (a truncated gzip file)"
    if isinstance(error, zlib.error) or type(error).__name__ == "BadGzipFile":
        return "the gzip data is corrupt ({0})".format(error)
    return getattr(error, "strerror", None) or str(error)
