"""A small model of how an Istio ingress gateway routes a request through Gateway + VirtualService.

Used by the tests to state routing equivalence: for a request (scheme, host, path, headers) it
returns where the generated objects send it. It follows Istio's documented semantics:
- the Gateway server is chosen by port (http 80 / https 443) and must list the host;
  `tls.httpsRedirect` on the HTTP server redirects every request;
- the VirtualService is chosen by host: exact host, then the longest matching wildcard
  (`*.example.com`), then `*`;
- its `http` entries are tried in order and the first whose any `match` matches wins
  (`uri.exact`, `uri.prefix`, `uri.regex` as an RE2 full match, `headers.exact`, `port`,
  `authority.regex`); a `directResponse` 404 is no route.
"""

import re


class Outcome:
    def __init__(self, kind, destinations=None, location=None, code=None, path=None, entry=None):
        self.kind = kind  # route | redirect | none
        self.destinations = destinations or []
        self.location = location
        self.code = code
        self.path = path  # the path the backend sees after rewrites
        self.entry = entry

    @property
    def service(self):
        """`service.namespace:port` of the single (or heaviest) destination."""
        if not self.destinations:
            return None
        fqdn, port = max(self.destinations, key=lambda d: d[2] if d[2] is not None else 100)[:2]
        return "{0}:{1}".format(".".join(fqdn.split(".")[:2]), port)

    def __repr__(self):
        return "Outcome({0}, {1}, {2}, {3})".format(self.kind, self.destinations, self.location, self.path)


def _host_matches(pattern, host):
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return pattern == host


def _specificity(pattern):
    if pattern == "*":
        return (0, 0)
    if pattern.startswith("*."):
        return (1, len(pattern))
    return (2, len(pattern))


def _uri_matches(uri, path):
    if "exact" in uri:
        return path == uri["exact"]
    if "prefix" in uri:
        return path.startswith(uri["prefix"])
    if "regex" in uri:
        return re.fullmatch(uri["regex"], path) is not None
    return True


def _match(match, path, headers, port, host=""):
    if "uri" in match and not _uri_matches(match["uri"], path):
        return False
    if "authority" in match and not _uri_matches(match["authority"], host):
        return False
    for name, condition in (match.get("headers") or {}).items():
        if headers.get(name.lower()) != condition.get("exact"):
            return False
    if "port" in match and match["port"] != port:
        return False
    return True


def evaluate(resources, host, path, headers=None, scheme="http"):
    headers = dict((k.lower(), v) for k, v in (headers or {}).items())
    port = 80 if scheme == "http" else 443
    gateways = [r for r in resources if r["kind"] == "Gateway"]
    servers = [s for g in gateways for s in g["spec"]["servers"] if s["port"]["number"] == port]
    server = next((s for s in servers if any(_host_matches(h, host) for h in s["hosts"])), None)
    if server is None:
        return Outcome("none")
    if scheme == "http" and (server.get("tls") or {}).get("httpsRedirect"):
        return Outcome("redirect", location="https://{0}{1}".format(host, path), code=301)
    services = [r for r in resources if r["kind"] == "VirtualService"]
    candidates = [(pattern, vs) for vs in services for pattern in vs["spec"]["hosts"] if _host_matches(pattern, host)]
    if not candidates:
        return Outcome("none")
    virtual_service = max(candidates, key=lambda c: _specificity(c[0]))[1]
    for entry in virtual_service["spec"].get("http", []):
        matches = entry.get("match") or [{}]
        if not any(_match(m, path, headers, port, host) for m in matches):
            continue
        if "directResponse" in entry:
            # Only the 404 the wildcard depth rule answers: the same as no route for a client.
            assert entry["directResponse"]["status"] == 404, entry
            return Outcome("none", entry=entry)
        if "redirect" in entry:
            redirect = entry["redirect"]
            location = "{0}://{1}{2}".format(redirect.get("scheme", scheme), redirect.get("authority", host),
                                             redirect.get("uri", path))
            return Outcome("redirect", location=location, code=redirect.get("redirectCode", 301), entry=entry)
        new_path = path
        rewrite = (entry.get("rewrite") or {}).get("uriRegexRewrite")
        if rewrite:
            replacement = re.sub(r"\\(\d)", r"\\\1", rewrite["rewrite"])
            new_path = re.sub(rewrite["match"], replacement, path, count=1)
        destinations = [(r["destination"]["host"], r["destination"]["port"]["number"], r.get("weight"))
                        for r in entry.get("route", [])]
        return Outcome("route", destinations=destinations, path=new_path, entry=entry)
    return Outcome("none")
