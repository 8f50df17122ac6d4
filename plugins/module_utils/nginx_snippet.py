# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ingress-nginx's configuration-snippet: the nginx directives it holds, and what each becomes.

A snippet is raw nginx configuration placed in the Ingress's locations. `read` parses it as nginx
does (directives end at `;`, blocks in braces, quotes and `\\` escapes, `#` comments) and sorts every
directive into one of three outcomes:

- headers with literal values are kept: `more_set_headers`, `more_clear_headers`, `add_header`
  (response headers), `proxy_set_header`, `more_set_input_headers` (request headers);
- a directive that can refuse, allow, redirect or answer requests (`deny`, `return`, `rewrite`,
  `auth_*`, `if`, Lua phases...) is an error: the translation cannot keep it, and its loss changes
  who gets what;
- anything else (buffers, gzip, expires...) is a warning naming it.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

Directive = namedtuple("Directive", "name args block")
# What a snippet becomes: request headers to set, response headers to set and to remove, what its
# `return` or `rewrite` makes of every request of the location (an Answer, or None), and the
# directives not kept as (severity, directive, why).
Snippet = namedtuple("Snippet", "request_set response_set response_remove answer lost")
# kind "direct": nginx answers `status` itself (with `body`, or its error page when None);
# kind "redirect": it answers `status` with Location `target` (a URL or a path);
# kind "rewrite": the URI that matches `pattern` (PCRE, searched) becomes `replacement` ($1..$9),
# and the request goes on to the backend (`break`).
Answer = namedtuple("Answer", "kind status target body pattern replacement")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# The directives of ngx_http_rewrite_module: a `return`, or a rewrite's flag, ends them for the
# location, the template's own (rewrite-target, the permanent-redirect `return`) included.
REWRITE_MODULE = frozenset(("return", "rewrite", "set", "if", "break"))

ERROR, WARNING, INFO = "error", "warning", "info"

# Directives whose loss would let through, refuse, redirect or answer requests differently.
ACCESS_DIRECTIVES = frozenset((
    "allow", "deny", "if", "satisfy", "auth_basic", "auth_basic_user_file", "auth_request",
    "auth_request_set", "auth_jwt", "limit_req", "limit_conn", "limit_except", "error_page", "proxy_pass", "internal",
    "try_files", "access_by_lua_block", "access_by_lua", "access_by_lua_file", "rewrite_by_lua_block",
    "rewrite_by_lua", "rewrite_by_lua_file", "content_by_lua_block", "content_by_lua", "content_by_lua_file",
    "ssl_verify_client", "ssl_client_certificate", "secure_link", "valid_referers", "modsecurity",
    "modsecurity_rules", "uwsgi_pass", "grpc_pass", "fastcgi_pass", "alias", "root", "location",
))


# Blocks nested deeper than this are refused: no snippet needs them, and reading them costs stack.
MAX_DEPTH = 32


class SnippetError(ValueError):
    pass


def parse(text):
    """[Directive] of a snippet, or SnippetError when nginx would refuse it."""
    tokens = list(_scan(text))
    position = [0]

    def block(top, depth=0):
        if depth > MAX_DEPTH:
            raise SnippetError("blocks are nested more than {0} deep".format(MAX_DEPTH))
        directives = []
        while position[0] < len(tokens):
            kind, value = tokens[position[0]]
            if kind == "}":
                if top:
                    raise SnippetError("unexpected '}'")
                position[0] += 1
                return directives
            if kind != "word":
                raise SnippetError("unexpected {0!r}".format(value))
            name, args = value, []
            position[0] += 1
            while True:
                if position[0] >= len(tokens):
                    raise SnippetError("directive {0!r} does not end with ';'".format(name))
                kind, value = tokens[position[0]]
                position[0] += 1
                if kind == "word":
                    args.append(value)
                elif kind == ";":
                    directives.append(Directive(name, args, None))
                    break
                elif kind == "{":
                    directives.append(Directive(name, args, block(False, depth + 1)))
                    break
                else:
                    raise SnippetError("unexpected closing brace in directive {0!r}".format(name))
        if not top:
            raise SnippetError("a block is not closed")
        return directives

    return block(True)


def _lua_end(text, start):
    """The index just after the `}` that closes a Lua block whose body starts at `start`."""
    depth, index = 1, start
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index += 1
            while index < len(text) and text[index] != char:
                index += 2 if text[index] == "\\" else 1
        elif text.startswith("--", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise SnippetError("a Lua block is not closed")


def _scan(text):
    """(kind, value) tokens of nginx configuration text; a *_by_lua_block's Lua body is skipped (an
    empty block), as nginx hands it to Lua unread."""
    index, length, lua = 0, len(text), False
    while index < length:
        char = text[index]
        if lua and char == "{":
            index, lua = _lua_end(text, index + 1), False
            yield "{", "{"
            yield "}", "}"
        elif char.isspace():
            index += 1
        elif char == "#":
            end = text.find("\n", index)
            index = length if end < 0 else end
        elif char in ";{}":
            lua = False
            yield char, char
            index += 1
        else:
            quote = char if char in "\"'" else None
            index += 1 if quote else 0
            word = []
            while True:
                if index >= length:
                    if quote:
                        raise SnippetError("a quoted string is not closed")
                    break
                char = text[index]
                if char == "\\" and index + 1 < length:
                    following = text[index + 1]
                    word.append(following if following in "\"'\\" else "\\" + following)
                    index += 2
                    continue
                if quote and char == quote:
                    index += 1
                    break
                if not quote and (char.isspace() or char in ";{}"):
                    break
                word.append(char)
                index += 1
            value = "".join(word)
            lua = value.endswith("_by_lua_block")
            yield "word", value


def _header_line(text):
    """(name, value) of a headers-more `Name: value` argument; value None for `Name:` (clear)."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or " " in name.strip():
        return None
    value = value.strip()
    return name.strip(), (value if value else None)


def _variable(value):
    return "$" in value


def _return(args):
    """(Answer, None) of a `return`, or (None, why it is not kept)."""
    if not args or len(args) > 2:
        return None, "arguments {0!r} are not `code [text]`, `code URL` or `URL`".format(" ".join(args)[:60])
    if len(args) == 1 and not args[0].isdigit():
        args = ["302"] + args  # `return URL`: a 302, when the URL starts with http://, https:// or $scheme
        if not args[1].startswith(("http://", "https://", "$scheme")):
            return None, "{0!r} is not a status code or an absolute URL".format(args[1][:60])
    if not args[0].isdigit() or not 200 <= int(args[0]) <= 599:
        return None, "status {0!r} is not one the gateway can answer".format(args[0][:10])
    status, rest = int(args[0]), args[1] if len(args) == 2 else None
    if status == 444:
        return None, "444 closes the connection without an answer, which the gateway cannot do"
    if rest is not None and _variable(rest):
        return None, "{0!r} uses an nginx variable, which Envoy does not know".format(rest[:60])
    if status in REDIRECT_STATUSES:
        if not rest:
            return Answer("direct", status, None, None, None, None), None
        return Answer("redirect", status, rest, None, None, None), None
    return Answer("direct", status, None, rest, None, None), None


def _rewrite(args):
    """(Answer, None) of a `rewrite`, or (None, why it is not kept)."""
    if len(args) not in (2, 3):
        return None, "arguments {0!r} are not `regex replacement [flag]`".format(" ".join(args)[:60])
    pattern, replacement, flag = args[0], args[1], args[2] if len(args) == 3 else None
    if flag not in ("break", "redirect", "permanent"):
        return None, ("{0}: nginx searches the locations again with the new URI, which can reach another "
                      "Ingress's backend".format("flag last" if flag == "last" else "without a flag"
                                                 if flag is None else "flag {0!r}".format(flag)))
    if "$" in re.sub(r"\$[1-9]", "", replacement):
        return None, "{0!r} uses an nginx variable, which Envoy does not know".format(replacement[:60])
    if "?" in replacement:
        return None, "{0!r} sets query arguments, which Envoy's path rewrite cannot".format(replacement[:60])
    absolute = replacement.startswith(("http://", "https://"))
    if flag == "break" and not absolute:
        return Answer("rewrite", None, None, None, pattern, replacement), None
    if "$" in replacement:
        return None, "a redirect to {0!r} takes parts of the path, which Istio's redirects cannot".format(
            replacement[:60])
    status = 301 if flag == "permanent" else 302
    return Answer("redirect", status, replacement, None, pattern, None), None


# Regexes every URI matches (a URI starts with /).
_EVERY_URI = re.compile(r"\^?/?(\(\.\*\)|\.\*)?\$?\Z")


def every_uri(pattern):
    """Whether nginx's regex finds a match in every URI (`^`, `/`, `^(.*)$`, `.*`...)."""
    return bool(_EVERY_URI.match(pattern)) and not (pattern.endswith("$") and ".*" not in pattern)


def read(text):
    """The Snippet a configuration-snippet becomes; SnippetError when nginx would refuse it."""
    request_set, response_set, response_remove, lost = {}, {}, [], []
    answer, ended, conditional = None, None, None
    for directive in parse(text):
        name, args = directive.name, directive.args
        if ended and name in REWRITE_MODULE:
            lost.append((INFO, name, "never runs: {0} ends nginx's rewrite directives before it".format(ended)))
        elif conditional and name in REWRITE_MODULE:
            lost.append((ERROR, name, "it runs only for the URIs {0} does not find, which a route cannot tell "
                                      "apart".format(conditional)))
            ended = "the untranslated " + name
        elif name in ("return", "rewrite") and directive.block is None:
            found, why = (_return if name == "return" else _rewrite)(args)
            if found is None:
                lost.append((ERROR, name, why))
                ended = "the untranslated " + name
            elif found.pattern is not None and not every_uri(found.pattern):
                answer, conditional = found, "rewrite {0!r}".format(found.pattern[:60])
            else:
                answer, ended = found, "this " + name
        elif name in ACCESS_DIRECTIVES or name.startswith("auth_") or directive.block is not None:
            lost.append((ERROR, name, "it can refuse, allow, redirect or answer requests, which the translation "
                                      "cannot keep"))
        elif name in ("more_set_headers", "more_clear_headers", "more_set_input_headers"):
            if any(arg.startswith("-") for arg in args):
                lost.append((WARNING, name, "its -s/-t/-r options (only some statuses or types) are not kept"))
                continue
            for arg in args:
                if name == "more_clear_headers":
                    if "*" in arg:
                        lost.append((WARNING, name, "wildcard {0!r} is not kept".format(arg)))
                    else:
                        response_remove.append(arg.lower())
                    continue
                header = _header_line(arg)
                if header is None:
                    lost.append((WARNING, name, "{0!r} is not a 'Name: value' header".format(arg[:60])))
                elif header[1] is not None and _variable(header[1]):
                    lost.append((WARNING, name, "{0!r} uses an nginx variable, which Envoy does not know".format(
                        arg[:60])))
                elif name == "more_set_input_headers":
                    if header[1] is not None:
                        request_set[header[0].lower()] = header[1]
                    else:
                        lost.append((WARNING, name, "clearing request header {0!r} is not kept".format(header[0])))
                elif header[1] is None:
                    response_remove.append(header[0].lower())
                else:
                    response_set[header[0].lower()] = header[1]
        elif name in ("add_header", "proxy_set_header"):
            if len(args) < 2 or len(args) > 3 or (len(args) == 3 and args[2] != "always"):
                lost.append((WARNING, name, "arguments {0!r} are not 'name value'".format(" ".join(args)[:60])))
            elif _variable(args[1]):
                lost.append((WARNING, name, "{0} {1!r} uses an nginx variable, which Envoy does not know".format(
                    args[0], args[1][:60])))
            elif name == "proxy_set_header":
                request_set[args[0].lower()] = args[1]
            else:
                response_set[args[0].lower()] = args[1]
                if len(args) == 2:
                    lost.append((INFO, name, "{0}: nginx adds it to 2xx and 3xx answers only (no `always`); the "
                                             "gateway adds it to every answer".format(args[0])))
        elif name in ("set", "break"):
            lost.append((ERROR, name, "it changes what nginx's rewrite directives do, which the translation cannot "
                                      "keep"))
            ended = ended if name == "set" else "the untranslated break"
        else:
            lost.append((WARNING, name, "not translated"))
    return Snippet(request_set, response_set, sorted(set(response_remove)), answer, lost)


def server_directives(text):
    """[(severity, directive, why)] for a server-snippet, none of which is kept: its directives run
    for every location of the host (a `return` or `rewrite` before any location is chosen), which
    the gateway's routes cannot say. SnippetError when nginx would refuse it."""
    found = []
    for directive in parse(text):
        name = directive.name
        if name in ACCESS_DIRECTIVES or name in REWRITE_MODULE or name.startswith("auth_") \
                or directive.block is not None:
            found.append((ERROR, name, "it can refuse, allow, redirect or answer every request of the host"))
        else:
            found.append((WARNING, name, "not translated (server-level)"))
    return found
