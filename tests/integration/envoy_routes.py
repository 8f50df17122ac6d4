"""Where Envoy sends an HTTP request, given the RouteConfiguration istiod generated.

This follows Envoy's documented matching (api-v3 config.route.v3), not Istio's objects:
- virtual host: exact domain, then the longest suffix wildcard (`*.example.com`, `*-example.com`),
  then the longest prefix wildcard (`example.*`), then `*`; the Host header's port is ignored when
  `ignore_port_in_host_matching` is set; domains compare case-insensitively;
- `require_tls: ALL` on a plain request is a 301 to https;
- routes in order, the first whose match holds wins: `prefix` on the `:path` header (query
  included), `path` and `safe_regex` (a full match) on the path without its query,
  `path_separated_prefix` (the prefix, then `/`, `?`, `#` or the end), `case_sensitive`, then every
  header matcher (`string_match` exact/prefix/suffix/contains/safe_regex, `present_match`,
  `invert_match`) and every query parameter matcher;
- actions: `cluster`, `weighted_clusters`, `redirect` (scheme, host, port, path, prefix and regex
  rewrites, `strip_query`, response code; 301 when unset) and `direct_response`.

The tests use it on the configuration istiod served for a translation, and check it against
Istio's own simulator (pilot/pkg/simulation) on every request that simulator can judge.
"""

import re

REDIRECT_CODES = {"MOVED_PERMANENTLY": 301, "FOUND": 302, "SEE_OTHER": 303, "TEMPORARY_REDIRECT": 307,
                  "PERMANENT_REDIRECT": 308}


class EnvoyOutcome:
    def __init__(self, kind, clusters=None, location=None, code=None, route=None, virtual_host=None, headers=None,
                 path=None):
        self.kind = kind  # route | redirect | direct | none
        self.path = path  # a route's path and query as the backend gets them (after its rewrite)
        self.headers = headers or {}  # request headers set on the way to the backend (lower-case names)
        self.clusters = clusters or []  # [(cluster, weight)]
        self.location = location
        self.code = code
        self.route = route
        self.virtual_host = virtual_host

    @property
    def cluster(self):
        """The single cluster, or the heaviest of weighted clusters."""
        if not self.clusters:
            return None
        return max(self.clusters, key=lambda c: c[1])[0]

    def __repr__(self):
        return "EnvoyOutcome({0}, {1}, {2}, {3})".format(self.kind, self.clusters, self.location, self.code)


def _re2(pattern):
    # Envoy's regexes are RE2; the patterns istiod emits use only syntax Python's re shares.
    return re.compile(pattern)


def virtual_host_for(route_configuration, host):
    host = host.lower()
    if route_configuration.get("ignorePortInHostMatching") and re.search(r":\d+$", host):
        host = host.rsplit(":", 1)[0]
    virtual_hosts = route_configuration.get("virtualHosts", [])
    for vh in virtual_hosts:
        if host in [d.lower() for d in vh.get("domains", [])]:
            return vh
    best, longest = None, 0
    for vh in virtual_hosts:
        for domain in vh.get("domains", []):
            domain = domain.lower()
            if domain != "*" and domain.startswith("*") and len(host) > len(domain) - 1 \
                    and host.endswith(domain[1:]) and len(domain) > longest:
                best, longest = vh, len(domain)
    if best:
        return best
    for vh in virtual_hosts:
        for domain in vh.get("domains", []):
            domain = domain.lower()
            if domain != "*" and domain.endswith("*") and len(host) > len(domain) - 1 \
                    and host.startswith(domain[:-1]) and len(domain) > longest:
                best, longest = vh, len(domain)
    if best:
        return best
    return next((vh for vh in virtual_hosts if "*" in vh.get("domains", [])), None)


def _string_match(matcher, value):
    if value is None:
        return False
    ignore_case = matcher.get("ignoreCase", False)
    folded = value.lower() if ignore_case else value

    def fold(text):
        return text.lower() if ignore_case else text

    if "exact" in matcher:
        return folded == fold(matcher["exact"])
    if "prefix" in matcher:
        return folded.startswith(fold(matcher["prefix"]))
    if "suffix" in matcher:
        return folded.endswith(fold(matcher["suffix"]))
    if "contains" in matcher:
        return fold(matcher["contains"]) in folded
    if "safeRegex" in matcher:
        return _re2(matcher["safeRegex"]["regex"]).fullmatch(value) is not None
    raise ValueError("unknown string matcher {0}".format(matcher))


def _header_match(matcher, headers):
    value = headers.get(matcher["name"].lower())
    if "presentMatch" in matcher:
        result = (value is not None) == matcher["presentMatch"]
    elif "stringMatch" in matcher:
        result = _string_match(matcher["stringMatch"], value)
    elif "exactMatch" in matcher:
        result = value == matcher["exactMatch"]
    elif "prefixMatch" in matcher:
        result = value is not None and value.startswith(matcher["prefixMatch"])
    elif "safeRegexMatch" in matcher:
        result = value is not None and _re2(matcher["safeRegexMatch"]["regex"]).fullmatch(value) is not None
    else:
        result = value is not None  # no specifier: the header must be present
    return result != matcher.get("invertMatch", False)


def _query_match(matcher, query):
    value = query.get(matcher["name"])
    if "presentMatch" in matcher:
        return value is not None
    if "stringMatch" in matcher:
        return _string_match(matcher["stringMatch"], value)
    return value is not None


def _path_match(match, full_path, path):
    case_sensitive = match.get("caseSensitive", True)

    def fold(text):
        return text if case_sensitive else text.lower()

    if "prefix" in match:
        return fold(full_path).startswith(fold(match["prefix"]))
    if "path" in match:
        return fold(path) == fold(match["path"])
    if "pathSeparatedPrefix" in match:
        prefix = fold(match["pathSeparatedPrefix"])
        candidate = fold(path)
        return candidate == prefix or candidate.startswith(prefix + "/")
    if "safeRegex" in match:
        return _re2(match["safeRegex"]["regex"]).fullmatch(path) is not None
    raise ValueError("unknown path matcher {0}".format(sorted(match)))


def route_matches(match, full_path, headers, query):
    path = full_path.split("?", 1)[0].split("#", 1)[0]
    if not _path_match(match, full_path, path):
        return False
    if not all(_header_match(m, headers) for m in match.get("headers", [])):
        return False
    return all(_query_match(m, query) for m in match.get("queryParameters", []))


def _redirect(redirect, scheme, host, full_path, match):
    new_scheme = "https" if redirect.get("httpsRedirect") else redirect.get("schemeRedirect", scheme)
    authority = redirect.get("hostRedirect", host)
    name, _colon, port = authority.partition(":")
    if "portRedirect" in redirect:
        port = str(redirect["portRedirect"])
    elif new_scheme != scheme and "hostRedirect" not in redirect:
        port = ""  # Envoy drops the original port when only the scheme changes
    if port and ((new_scheme == "http" and port == "80") or (new_scheme == "https" and port == "443")):
        port = ""
    path, _mark, query = full_path.partition("?")
    if redirect.get("pathRedirect"):  # Envoy keeps the request's path when this is empty
        path = redirect["pathRedirect"]
        if "?" in path:
            path, _mark, query = path.partition("?")
    elif redirect.get("prefixRewrite"):
        prefix = match.get("prefix") or match.get("pathSeparatedPrefix") or ""
        path = redirect["prefixRewrite"] + path[len(prefix):]
    elif "regexRewrite" in redirect:
        rewrite = redirect["regexRewrite"]
        # RE2 substitutions write captures as \1, which Python's re.sub reads the same way.
        path = _re2(rewrite["pattern"]["regex"]).sub(rewrite["substitution"], path)
    if redirect.get("stripQuery"):
        query = ""
    location = "{0}://{1}{2}{3}".format(new_scheme, name + (":" + port if port else ""), path,
                                        "?" + query if query else "")
    return location, REDIRECT_CODES.get(redirect.get("responseCode", "MOVED_PERMANENTLY"), 301)


def _rewritten(action, full_path, match):
    """The path and query the backend gets: Envoy rewrites the path only and keeps the query."""
    path, mark, query = full_path.partition("?")
    if "regexRewrite" in action:
        rewrite = action["regexRewrite"]
        path = _re2(rewrite["pattern"]["regex"]).sub(rewrite["substitution"], path)
    elif "prefixRewrite" in action:
        prefix = match.get("prefix") or match.get("pathSeparatedPrefix") or ""
        path = action["prefixRewrite"] + path[len(prefix):]
    return path + mark + query


def evaluate(route_configuration, host, full_path, headers=None, scheme="http", tls=False):
    headers = dict((k.lower(), v) for k, v in (headers or {}).items())
    headers.setdefault(":authority", host)  # the Host header, as Envoy's header matchers see it
    query = {}
    if "?" in full_path:
        for pair in full_path.split("?", 1)[1].split("#", 1)[0].split("&"):
            key, _equals, value = pair.partition("=")
            query.setdefault(key, value)
    vh = virtual_host_for(route_configuration, host)
    if vh is None:
        return EnvoyOutcome("none")
    if vh.get("requireTls") == "ALL" and not tls:
        return EnvoyOutcome("redirect", location="https://{0}{1}".format(host.rsplit(":", 1)[0], full_path),
                            code=301, virtual_host=vh["name"])
    for route in vh.get("routes", []):
        match = route["match"]
        if not route_matches(match, full_path, headers, query):
            continue
        if "route" in route:
            action = route["route"]
            if "cluster" in action:
                clusters = [(action["cluster"], 100)]
            else:
                clusters = [(c["name"], int(c.get("weight", 0))) for c in action["weightedClusters"]["clusters"]]
            headers = dict((h["header"]["key"].lower(), h["header"]["value"])
                           for h in route.get("requestHeadersToAdd", []))
            if "hostRewriteLiteral" in action:
                headers["host"] = action["hostRewriteLiteral"]
            return EnvoyOutcome("route", clusters=clusters, route=route.get("name"), virtual_host=vh["name"],
                                headers=headers, path=_rewritten(action, full_path, match))
        if "redirect" in route:
            location, code = _redirect(route["redirect"], scheme, host, full_path, match)
            return EnvoyOutcome("redirect", location=location, code=code, route=route.get("name"),
                                virtual_host=vh["name"])
        if "directResponse" in route:
            return EnvoyOutcome("direct", code=int(route["directResponse"]["status"]), route=route.get("name"),
                                virtual_host=vh["name"])
        raise ValueError("route {0} has no action this evaluator knows".format(route.get("name")))
    return EnvoyOutcome("none", virtual_host=vh["name"])


def simulation_can_judge(route_configuration, host):
    """True when Istio's simulator judges this host as Envoy does: path-only matches it models.

    pilot/pkg/simulation matches `prefix`, `path`, `path_separated_prefix` (as a plain prefix) and
    `safe_regex` (unanchored) and ignores headers and query parameters, so its answer is Envoy's
    only where the virtual host uses none of those.
    """
    vh = virtual_host_for(route_configuration, host)
    if vh is None:
        return True
    for route in vh.get("routes", []):
        match = route["match"]
        if match.get("headers") or match.get("queryParameters") or "safeRegex" in match \
                or "pathSeparatedPrefix" in match or match.get("caseSensitive") is False:
            return False
    return True
