# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an Istio ingress gateway sends a request, given the objects that configure it.

Follows what istiod compiles from the objects and how Envoy then matches, for both outputs of the
translation:
- Istio API (networking.istio.io Gateway + VirtualService): the server on the request's port whose
  hosts cover the Host (`tls.httpsRedirect` answers plain HTTP with a 301); the VirtualService
  bound to a Gateway with such a server whose host is the most specific match (exact, then the
  longest `*.` wildcard, then `*`); its `http` entries in order, the first whose any `match` holds
  winning (`uri` exact / prefix on the path with its query / regex as a full match, `ignoreUriCase`,
  `headers`, `withoutHeaders`, `queryParams`, `method`, `authority`, `port`);
- Gateway API (gateway.networking.k8s.io Gateway + HTTPRoute): the Gateway whose listener on the
  port covers the Host most specifically (each Gateway has its own proxies), its listener, the
  HTTPRoutes attached to it whose hostname covers the Host most specifically, their rules merged
  oldest route first and ordered as istiod orders them (Exact before PathPrefix before
  RegularExpression, longer first, then methods, headers and query parameters; stable otherwise),
  PathPrefix matching per path segment; filters RequestRedirect and backendRefs with weights.

The replay (`replay.py`) uses it to say where the translation sends each logged request; the
tests prove it against the Envoy configuration istiod generates (tests/integration). No Ansible
imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .regex import RegexError, compile_re2
from .shapes import API_GATEWAY, HTTP_ROUTE, ISTIO_GATEWAY, VIRTUAL_SERVICE, check

ISTIO_GROUP = "networking.istio.io/"
GATEWAY_API_GROUP = "gateway.networking.k8s.io/"
HTTP_PORT, HTTPS_PORT = 80, 443
# What each output's match may carry that this module evaluates; anything else is refused, not guessed.
# (`name` only labels a match.) A match's own `gateways` list is not among them: refused.
_ISTIO_MATCH_KEYS = frozenset(("uri", "ignoreUriCase", "headers", "withoutHeaders", "queryParams", "method",
                               "authority", "port", "name", "scheme"))


class RoutingError(ValueError):
    """The objects use something this evaluator does not model; the object and field are named."""


class Outcome:
    """Where one request goes: `route` (destinations with weights), `redirect` (code, location) or `none`.

    `destinations` are `(service, namespace, port, weight)`; a weight-0 destination is left out,
    as istiod leaves it out of Envoy's weighted clusters. `path` is the path the backend receives
    where the route rewrites it (None: the request's own) and `rule` the VirtualService `http`
    entry or HTTPRoute rule that decided; both are details, not part of the outcome's identity.
    """

    __slots__ = ("kind", "destinations", "code", "location", "path", "rule")

    def __init__(self, kind, destinations=(), code=None, location=None, path=None, rule=None):
        self.kind = kind
        self.destinations = tuple(destinations)
        self.code = code
        self.location = location
        self.path = path
        self.rule = rule

    def targets(self):
        """`service.namespace:port` of every destination that receives traffic."""
        return tuple(sorted("{0}.{1}:{2}".format(s, n, p) for s, n, p, _w in self.destinations))

    def describe(self):
        if self.kind == "route":
            if len(self.destinations) == 1:
                return self.targets()[0]
            return ", ".join("{0}.{1}:{2} ({3}%)".format(s, n, p, w) for s, n, p, w in self.destinations)
        if self.kind == "redirect":
            return "redirect {0}".format(self.code)
        return "no route (404)"

    def __eq__(self, other):
        return isinstance(other, Outcome) and (self.kind, self.destinations, self.code, self.location) == (
            other.kind, other.destinations, other.code, other.location)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.kind, self.destinations, self.code, self.location))

    def __repr__(self):
        return "Outcome({0}, {1}, {2}, {3})".format(self.kind, list(self.destinations), self.code, self.location)


NO_ROUTE = Outcome("none")
_HTTPS_REDIRECT = Outcome("redirect", code=301)


class Request:
    """One request as the gateway sees it. `headers` None means "not known" (a log without them)."""

    __slots__ = ("host", "path", "scheme", "method", "headers")

    def __init__(self, host, path, scheme="http", method="GET", headers=None):
        self.host = host
        self.path = path
        self.scheme = scheme
        self.method = method
        self.headers = None if headers is None else dict((k.lower(), v) for k, v in headers.items())


# --- hosts ---------------------------------------------------------------------------------------

def bare_host(host):
    """The Host header without its port, lower-cased (Istio's gateways ignore the port)."""
    host = (host or "").lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if re.search(r":\d*\Z", host) else host


def host_matches(pattern, host):
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def specificity(pattern):
    """Sort key: exact hosts before wildcards, longer wildcards before shorter, `*` last."""
    if pattern is None or pattern == "*":
        return (0, 0)
    if pattern.startswith("*"):
        return (1, len(pattern))
    return (2, len(pattern))


def _best(candidates, host):
    """The (pattern, item) pairs whose pattern is the most specific match for host."""
    matching = [(pattern, item) for pattern, item in candidates if host_matches(pattern, host)]
    if not matching:
        return None, []
    top = max(specificity(pattern) for pattern, _item in matching)
    chosen = [(pattern, item) for pattern, item in matching if specificity(pattern) == top]
    return chosen[0][0], [item for _pattern, item in chosen]


# --- matching --------------------------------------------------------------------------------------

def _regex(pattern):
    """The pattern compiled by RE2, as Envoy compiles it (linear time on any input)."""
    try:
        return compile_re2(pattern)
    except RegexError as error:
        raise RoutingError("regex {0!r} does not compile: {1}".format(pattern, error))


def _string_match(condition, value, ignore_case=False):
    """An Istio StringMatch (exact, prefix, regex) against value; None value never matches."""
    if value is None:
        return False
    if "exact" in condition:
        expected = condition["exact"]
        return value.lower() == expected.lower() if ignore_case else value == expected
    if "prefix" in condition:
        expected = condition["prefix"]
        return value.lower().startswith(expected.lower()) if ignore_case else value.startswith(expected)
    if "regex" in condition:
        return _regex(condition["regex"]).fullmatch(value) is not None
    return True  # an empty StringMatch matches everything present


def _split(full_path):
    path, _mark, query = full_path.partition("?")
    return path.split("#", 1)[0], query


def _query(query_text):
    values = {}
    for pair in query_text.split("&") if query_text else ():
        key, _equals, value = pair.partition("=")
        values.setdefault(key, value)
    return values


class _Condition:
    """One compiled match: path test, then header and other tests. `header_tests` may be undecidable."""

    __slots__ = ("path_test", "header_tests", "other_tests", "prefix")

    def __init__(self, path_test, header_tests, other_tests, prefix=None):
        self.path_test = path_test
        self.header_tests = header_tests
        self.other_tests = other_tests
        self.prefix = prefix  # the literal path prefix matched, which a prefix rewrite replaces

    def holds(self, request, full_path, path, query, port):
        """True, False, or None when it depends on headers the request does not carry (unknown)."""
        if self.path_test is not None and not self.path_test(full_path, path):
            return False
        for test in self.other_tests:
            if not test(request, query, port):
                return False
        if not self.header_tests:
            return True
        if request.headers is None:
            return None
        return all(test(request.headers) for test in self.header_tests)


def _istio_uri_test(uri, ignore_case, where):
    if not isinstance(uri, dict) or len(uri) > 1:
        raise RoutingError("{0}.uri must hold one of exact, prefix, regex".format(where))
    if "exact" in uri:
        expected = uri["exact"]
        if ignore_case:
            expected = expected.lower()
            return lambda full, path: path.lower() == expected
        return lambda full, path: path == expected
    if "prefix" in uri:
        expected = uri["prefix"]
        # Envoy's `prefix` compares with the whole :path, query included.
        if ignore_case:
            expected = expected.lower()
            return lambda full, path: full.lower().startswith(expected)
        return lambda full, path: full.startswith(expected)
    if "regex" in uri:
        compiled = _regex(uri["regex"])
        return lambda full, path: compiled.fullmatch(path) is not None
    return None


def _istio_condition(match, where):
    unknown = sorted(set(match) - _ISTIO_MATCH_KEYS)
    if unknown:
        raise RoutingError("{0} uses {1}, which the replay does not evaluate".format(where, ", ".join(unknown)))
    path_test = _istio_uri_test(match["uri"], match.get("ignoreUriCase", False), where) if match.get("uri") else None
    prefix = match["uri"].get("prefix") if match.get("uri") else None
    header_tests = []
    for name, condition in sorted((match.get("headers") or {}).items()):
        header_tests.append(lambda headers, n=name.lower(), c=condition: _string_match(c, headers.get(n)))
    for name, condition in sorted((match.get("withoutHeaders") or {}).items()):
        header_tests.append(lambda headers, n=name.lower(), c=condition: not _string_match(c, headers.get(n)))
    other_tests = []
    if "port" in match:
        other_tests.append(lambda request, query, port, p=match["port"]: port == p)
    if match.get("method"):
        other_tests.append(lambda request, query, port, c=match["method"]: _string_match(c, request.method))
    if match.get("authority"):
        other_tests.append(lambda request, query, port, c=match["authority"]: _string_match(c, request.host))
    if match.get("scheme"):
        other_tests.append(lambda request, query, port, c=match["scheme"]: _string_match(c, request.scheme))
    for name, condition in sorted((match.get("queryParams") or {}).items()):
        other_tests.append(lambda request, query, port, n=name, c=condition: _string_match(c, query.get(n)))
    return _Condition(path_test, header_tests, other_tests, prefix)


class _Entry:
    """One routing decision: conditions (any holds) and the action when one does."""

    __slots__ = ("conditions", "action")

    def __init__(self, conditions, action):
        self.conditions = conditions
        self.action = action  # callable(request, full_path, condition) -> Outcome


def _fqdn_destination(destination, namespace, where):
    host = destination.get("host") if isinstance(destination, dict) else None
    if not isinstance(host, str) or not host:
        raise RoutingError("{0}.destination.host is missing".format(where))
    parts = host.split(".")
    service, service_namespace = parts[0], parts[1] if len(parts) > 1 else namespace
    port = (destination.get("port") or {}).get("number")
    return service, service_namespace, port


def _istio_action(entry, namespace, where):
    if "redirect" in entry:
        redirect = entry["redirect"] or {}
        code = int(redirect.get("redirectCode") or 301)

        def act(request, full_path, condition):
            scheme = redirect.get("scheme") or request.scheme
            authority = redirect.get("authority") or bare_host(request.host)
            if redirect.get("port"):
                authority = "{0}:{1}".format(authority.split(":")[0], redirect["port"])
            path, _mark, query = full_path.partition("?")
            if redirect.get("uri"):
                path = redirect["uri"]
            location = "{0}://{1}{2}{3}".format(scheme, authority, path, "?" + query if query else "")
            return Outcome("redirect", code=code, location=location, rule=entry)
        return act
    if "directResponse" in entry:
        status = int((entry["directResponse"] or {}).get("status") or 200)
        result = Outcome("direct", code=status, rule=entry)
        return lambda request, full_path, condition: result
    routes = entry.get("route") or []
    if not routes:
        raise RoutingError("{0} has neither route, redirect nor directResponse".format(where))
    destinations = []
    for index, route in enumerate(routes):
        service, service_namespace, port = _fqdn_destination(route.get("destination"), namespace,
                                                             "{0}.route[{1}]".format(where, index))
        weight = route.get("weight")
        weight = 100 if weight is None and len(routes) == 1 else (weight or 0)
        if weight > 0:
            destinations.append((service, service_namespace, port, weight))
    return _route_action(destinations, _istio_rewrite(entry.get("rewrite"), where), entry)


def _route_action(destinations, rewrite, rule):
    """The action of a rule that routes: its outcome, with the path a rewrite gives the backend."""
    if rewrite is None:
        # The same answer for every request: one object, not one per request (the replay's pace).
        result = Outcome("route", destinations, rule=rule)
        return lambda request, full_path, condition: result

    def act(request, full_path, condition):
        return Outcome("route", destinations, path=rewrite(full_path, condition), rule=rule)
    return act


def _text(value, where):
    """A path or pattern field of a rewrite: a string, else the object and field are named."""
    if not isinstance(value, str):
        raise RoutingError("{0} is {1}, not a string".format(where, type(value).__name__))
    return value


def _istio_rewrite(rewrite, where):
    """The path the backend receives: `uriRegexRewrite` substitutes every match of its pattern in
    the path (Envoy's regex_rewrite, `\\1` for a group); `uri` replaces the matched prefix, or the
    whole path where the match was not a prefix. The query string is kept. None: no rewrite."""
    rewrite = rewrite or {}
    if not isinstance(rewrite, dict):
        raise RoutingError("{0}.rewrite is {1}, not a mapping".format(where, type(rewrite).__name__))
    regex = rewrite.get("uriRegexRewrite")
    if regex:
        if not isinstance(regex, dict) or not isinstance(regex.get("match"), str):
            raise RoutingError("{0}.rewrite.uriRegexRewrite.match is missing".format(where))
        compiled = _regex(regex["match"])
        replacement = _text(regex.get("rewrite") or "", where + ".rewrite.uriRegexRewrite.rewrite")
        return lambda full_path, condition: _with_query(full_path, compiled.sub(replacement, full_path.partition("?")[0]))
    uri = rewrite.get("uri")
    if uri:
        uri = _text(uri, where + ".rewrite.uri")
        return lambda full_path, condition: _with_query(full_path, _prefix_replaced(full_path, condition, uri))
    return None


def _prefix_replaced(full_path, condition, replacement):
    path = full_path.partition("?")[0]
    prefix = condition.prefix if condition is not None else None
    if not prefix or not path.startswith(prefix):
        return replacement
    return replacement + path[len(prefix):]


def _with_query(full_path, path):
    _path, mark, query = full_path.partition("?")
    return path + mark + query


# --- the Istio API ---------------------------------------------------------------------------------------

def _name(resource):
    metadata = resource.get("metadata") or {}
    return "{0}/{1}".format(metadata.get("namespace") or "default", metadata.get("name"))


class _IstioRouting:
    def __init__(self, gateways, virtual_services):
        # (port, [(host pattern, (gateway ref, server))])
        self.servers = {}
        for gateway in gateways:
            ref = _name(gateway)
            for server in (gateway.get("spec") or {}).get("servers") or []:
                port = (server.get("port") or {}).get("number")
                protocol = str((server.get("port") or {}).get("protocol") or "").upper()
                if protocol not in ("HTTP", "HTTPS", "HTTP2"):
                    continue  # TLS passthrough and TCP servers carry no HTTP routes
                for host in server.get("hosts") or []:
                    pattern = host.split("/", 1)[1] if "/" in host else host
                    self.servers.setdefault(port, []).append((pattern.lower(), (ref, server)))
        self._chosen = {}  # (scheme, host) -> (entries, early outcome): hosts repeat, requests do not
        self.virtual_services = []
        for service in virtual_services:
            spec = service.get("spec") or {}
            namespace = (service.get("metadata") or {}).get("namespace") or "default"
            bound = set(g if "/" in g else "{0}/{1}".format(namespace, g) for g in spec.get("gateways") or [])
            entries = []
            for index, entry in enumerate(spec.get("http") or []):
                where = "VirtualService {0} spec.http[{1}]".format(_name(service), index)
                conditions = [_istio_condition(m, "{0}.match[{1}]".format(where, i))
                              for i, m in enumerate(entry.get("match") or [])] or [_Condition(None, [], [])]
                entries.append(_Entry(conditions, _istio_action(entry, namespace, where)))
            for host in spec.get("hosts") or []:
                self.virtual_services.append((host.lower(), (bound, entries)))

    def serves(self, host, scheme):
        port = HTTPS_PORT if scheme == "https" else HTTP_PORT
        return bool(_best(self.servers.get(port, []), bare_host(host))[1])

    def entries(self, request):
        """(entries, early outcome): the routes for the request's host, or an outcome without routes."""
        host = bare_host(request.host)
        key = (request.scheme, host)
        found = self._chosen.get(key)
        if found is None:
            found = self._choose(host, request)
            if len(self._chosen) < 100000:
                self._chosen[key] = found
        if found[1] is _HTTPS_REDIRECT:
            return None, Outcome("redirect", code=301, location="https://{0}{1}".format(host, request.path))
        return found

    def _choose(self, host, request):
        port = HTTPS_PORT if request.scheme == "https" else HTTP_PORT
        _pattern, servers = _best(self.servers.get(port, []), host)
        if not servers:
            return None, NO_ROUTE
        if request.scheme == "http" and any((server.get("tls") or {}).get("httpsRedirect") for _ref, server in servers):
            return None, _HTTPS_REDIRECT  # the server's httpsRedirect: a 301 to the same path over HTTPS
        refs = set(ref for ref, _server in servers)
        candidates = [(pattern, entries) for pattern, (bound, entries) in self.virtual_services if bound & refs]
        _pattern, chosen = _best(candidates, host)
        if not chosen:
            return None, NO_ROUTE
        # Two VirtualServices for one host on one gateway: istiod merges them, the older first.
        return [entry for entries in chosen for entry in entries], None


# --- the Gateway API ---------------------------------------------------------------------------------------

def _gateway_path_test(path_match, where):
    kind = path_match.get("type") or "PathPrefix"
    value = path_match.get("value") or "/"
    if kind == "Exact":
        return lambda full, path: path == value, 3, len(value)
    if kind == "PathPrefix":
        prefix = value if value == "/" else value.rstrip("/") if value.endswith("/") else value
        if prefix == "/":
            return lambda full, path: True, 2, 1
        # istiod compiles Gateway API prefixes to Envoy's path_separated_prefix: per path segment.
        return (lambda full, path: path == prefix or path.startswith(prefix + "/")), 2, len(prefix)
    if kind == "RegularExpression":
        compiled = _regex(value)
        return lambda full, path: compiled.fullmatch(path) is not None, 1, len(value)
    raise RoutingError("{0}.path.type {1!r} is not Exact, PathPrefix or RegularExpression".format(where, kind))


def _gateway_string_test(condition):
    kind = condition.get("type") or "Exact"
    expected = condition.get("value")
    if kind == "RegularExpression":
        compiled = _regex(expected)
        return lambda value: value is not None and compiled.fullmatch(value) is not None
    return lambda value: value == expected


def _gateway_condition(match, where):
    path_test, rank, length = _gateway_path_test(match.get("path") or {}, where)
    header_tests = [lambda headers, n=h["name"].lower(), t=_gateway_string_test(h): t(headers.get(n))
                    for h in match.get("headers") or []]
    other_tests = [lambda request, query, port, n=q["name"], t=_gateway_string_test(q): t(query.get(n))
                   for q in match.get("queryParams") or []]
    if match.get("method"):
        other_tests.append(lambda request, query, port, m=match["method"]: request.method == m)
    path = match.get("path") or {}
    prefix = (path.get("value") or "/") if (path.get("type") or "PathPrefix") == "PathPrefix" else None
    condition = _Condition(path_test, header_tests, other_tests, prefix)
    order = (-rank, -length, 0 if match.get("method") else 1, -len(header_tests), -len(match.get("queryParams") or []))
    return condition, order


def _gateway_action(rule, namespace, where):
    for rule_filter in rule.get("filters") or []:
        if rule_filter.get("type") == "RequestRedirect":
            redirect = rule_filter.get("requestRedirect") or {}
            code = int(redirect.get("statusCode") or 302)

            def act(request, full_path, condition, redirect=redirect, code=code):
                scheme = redirect.get("scheme") or request.scheme
                name = redirect.get("hostname") or bare_host(request.host)
                port = redirect.get("port")
                authority = "{0}:{1}".format(name, port) if port else name
                path, _mark, query = full_path.partition("?")
                replace = redirect.get("path") or {}
                if replace.get("type") == "ReplaceFullPath":
                    path = replace.get("replaceFullPath")
                location = "{0}://{1}{2}{3}".format(scheme, authority, path, "?" + query if query else "")
                return Outcome("redirect", code=code, location=location, rule=rule)
            return act
    destinations = []
    refs = rule.get("backendRefs") or []
    for index, ref in enumerate(refs):
        if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
            raise RoutingError("{0}.backendRefs[{1}] is not a Service".format(where, index))
        weight = ref.get("weight", 1)
        if weight > 0:
            destinations.append((ref.get("name"), ref.get("namespace") or namespace, ref.get("port"), weight))
    if not destinations:
        return lambda request, full_path, condition: NO_ROUTE
    total = sum(d[3] for d in destinations)
    if len(destinations) == 1:
        destinations = [destinations[0][:3] + (100,)]
    else:
        # As shares of 100, the figure the Istio output and the source controller state.
        destinations = [d[:3] + (int(round(100.0 * d[3] / total)),) for d in destinations]
    return _route_action(destinations, _gateway_rewrite(rule, where), rule)


def _gateway_rewrite(rule, where):
    """URLRewrite's path: ReplaceFullPath, or ReplacePrefixMatch in place of the PathPrefix matched; None: no rewrite."""
    for rule_filter in rule.get("filters") or []:
        if rule_filter.get("type") != "URLRewrite":
            continue
        url_rewrite = rule_filter.get("urlRewrite") or {}
        if not isinstance(url_rewrite, dict):
            raise RoutingError("{0}.filters.urlRewrite is {1}, not a mapping".format(where, type(url_rewrite).__name__))
        replace = url_rewrite.get("path") or {}
        if not isinstance(replace, dict):
            raise RoutingError("{0}.filters.urlRewrite.path is {1}, not a mapping".format(where, type(replace).__name__))
        if replace.get("type") == "ReplaceFullPath":
            value = _text(replace.get("replaceFullPath") or "/", where + ".filters.urlRewrite.path.replaceFullPath")
            return lambda full_path, condition: _with_query(full_path, value)
        if replace.get("type") == "ReplacePrefixMatch":
            value = _text(replace.get("replacePrefixMatch") or "/", where + ".filters.urlRewrite.path.replacePrefixMatch")
            return lambda full_path, condition: _with_query(full_path, _replaced_segments(full_path, condition, value))
    return None


def _replaced_segments(full_path, condition, replacement):
    path = full_path.partition("?")[0]
    prefix = (condition.prefix or "/") if condition is not None else "/"
    rest = path[len(prefix.rstrip("/")):] if prefix != "/" else path
    if not rest or rest == "/":
        return replacement
    return replacement.rstrip("/") + rest


class _GatewayApiRouting:
    def __init__(self, gateways, routes):
        self.listeners = {}  # port -> [(pattern, (gateway ref, listener name, protocol))]
        for gateway in gateways:
            ref = _name(gateway)
            for listener in (gateway.get("spec") or {}).get("listeners") or []:
                protocol = str(listener.get("protocol") or "").upper()
                if protocol not in ("HTTP", "HTTPS"):
                    continue
                pattern = (listener.get("hostname") or "*").lower()
                self.listeners.setdefault(listener.get("port"), []).append(
                    (pattern, (ref, listener.get("name"), protocol)))
        # Oldest route first: istiod merges the rules of routes for one host in creation order.
        routes = sorted(routes, key=lambda r: ((r.get("metadata") or {}).get("creationTimestamp") or "", _name(r)))
        self.routes = []  # (parents {(gateway ref, section or None)}, hostnames, [(order, index, _Entry)])
        for route in routes:
            spec = route.get("spec") or {}
            namespace = (route.get("metadata") or {}).get("namespace") or "default"
            parents = set()
            for parent in spec.get("parentRefs") or []:
                parents.add(("{0}/{1}".format(parent.get("namespace") or namespace, parent.get("name")),
                             parent.get("sectionName")))
            entries = []
            for index, rule in enumerate(spec.get("rules") or []):
                where = "HTTPRoute {0} spec.rules[{1}]".format(_name(route), index)
                action = _gateway_action(rule, namespace, where)
                for match_index, match in enumerate(rule.get("matches") or [{"path": {"type": "PathPrefix",
                                                                                      "value": "/"}}]):
                    condition, order = _gateway_condition(match, "{0}.matches[{1}]".format(where, match_index))
                    entries.append((order, _Entry([condition], action)))
            hostnames = [h.lower() for h in spec.get("hostnames") or []] or ["*"]
            self.routes.append((parents, hostnames, entries))
        self._merged = {}

    def _listeners(self, host, scheme):
        port = HTTPS_PORT if scheme == "https" else HTTP_PORT
        wanted = "HTTPS" if scheme == "https" else "HTTP"
        listeners = [(p, l) for p, l in self.listeners.get(port, []) if l[2] == wanted]
        return _best(listeners, host)[1]

    def serves(self, host, scheme):
        return bool(self._listeners(bare_host(host), scheme))

    def entries(self, request):
        host = bare_host(request.host)
        chosen = self._listeners(host, request.scheme)
        if not chosen:
            return None, NO_ROUTE
        gateway_ref = chosen[0][0]  # the Gateway whose proxies the host's address leads to
        names = set(name for ref, name, _protocol in chosen if ref == gateway_ref)
        key = (gateway_ref, tuple(sorted(names)), host)
        merged = self._merged.get(key)
        if merged is None:
            candidates = []
            for parents, hostnames, entries in self.routes:
                if not any(ref == gateway_ref and (section is None or section in names) for ref, section in parents):
                    continue
                for pattern in hostnames:
                    candidates.append((pattern, entries))
            _pattern, selected = _best(candidates, host)
            flat = [entry for entries in selected for entry in entries]
            ordered = sorted(range(len(flat)), key=lambda i: (flat[i][0], i))  # stable, as sort.SliceStable
            merged = [flat[i][1] for i in ordered]
            if len(self._merged) < 100000:
                self._merged[key] = merged
        if not merged:
            return None, NO_ROUTE
        return merged, None


# --- the router ------------------------------------------------------------------------------------------

class Router:
    """Where the translated objects send requests, for the Istio API or the Gateway API output."""

    def __init__(self, resources):
        istio_gateways, virtual_services, api_gateways, http_routes = [], [], [], []
        if resources is not None and not isinstance(resources, list):
            raise RoutingError("the objects to route by are {0}, not a list".format(type(resources).__name__))
        for resource in resources or []:
            if not isinstance(resource, dict):
                continue
            api = str(resource.get("apiVersion") or "")
            kind = resource.get("kind")
            # Each object's fields are checked before they are read: a translation result handed
            # over by a user may have been edited (an InputError naming the object and field).
            if api.startswith(ISTIO_GROUP) and kind == "Gateway":
                istio_gateways.append(check(kind, resource, ISTIO_GATEWAY))
            elif api.startswith(ISTIO_GROUP) and kind == "VirtualService":
                virtual_services.append(check(kind, resource, VIRTUAL_SERVICE))
            elif api.startswith(GATEWAY_API_GROUP) and kind == "Gateway":
                api_gateways.append(check(kind, resource, API_GATEWAY))
            elif api.startswith(GATEWAY_API_GROUP) and kind == "HTTPRoute":
                http_routes.append(check(kind, resource, HTTP_ROUTE))
        self.api = "gateway-api" if api_gateways and not istio_gateways else "istio"
        if self.api == "istio":
            self._routing = _IstioRouting(istio_gateways, virtual_services)
        else:
            self._routing = _GatewayApiRouting(api_gateways, http_routes)
        self.empty = not (istio_gateways or api_gateways)

    def serves(self, host, scheme):
        """Whether the gateway has a server (listener) for the host over the scheme at all."""
        return self._routing.serves(host, scheme)

    def possible(self, request):
        """Every outcome the request can have, in route order.

        With headers known (`request.headers` a dict) that is exactly one outcome. Unknown headers
        leave routes that test headers open: each such route's outcome is possible, until the first
        route that matches whatever the headers are.
        """
        entries, early = self._routing.entries(request)
        if entries is None:
            return [early]
        full_path = request.path or "/"
        path, query_text = _split(full_path)
        query = _query(query_text) if query_text else {}
        port = HTTPS_PORT if request.scheme == "https" else HTTP_PORT
        outcomes = []
        for entry in entries:
            verdicts = [condition.holds(request, full_path, path, query, port) for condition in entry.conditions]
            if True in verdicts:
                outcome = entry.action(request, full_path, entry.conditions[verdicts.index(True)])
                if outcome not in outcomes:
                    outcomes.append(outcome)
                return outcomes
            if None in verdicts:
                outcome = entry.action(request, full_path, entry.conditions[verdicts.index(None)])
                if outcome not in outcomes:
                    outcomes.append(outcome)
        if NO_ROUTE not in outcomes:
            outcomes.append(NO_ROUTE)
        return outcomes

    def route(self, request):
        """The one outcome of a request whose headers are known (none given counts as none sent)."""
        if request.headers is None:
            request = Request(request.host, request.path, request.scheme, request.method, {})
        return self.possible(request)[0]
