"""Realistic ingress-nginx access logs for an estate of Ingresses, for the replay's tests and benchmarks.

For each line it picks a routed path of an Ingress, makes a request that path takes (the path
itself, or below it for prefixes, with numbers and tokens as real APIs have), and writes what
ingress-nginx would log for it in the `upstreaminfo` format (or with `$host` and `$scheme` as well):
- the upstream of the location ingress-nginx picks for it on that host (an Exact path, else the
  longest matching path; on a host in regex mode the longest matching regex);
- canaries: a weighted canary takes its share (`$proxy_alternative_upstream_name`), a header canary
  a few requests (as if the header was sent);
- redirects ingress-nginx answers itself: `ssl-redirect` (308 for plain HTTP on a TLS host),
  `permanent-redirect` / `temporal-redirect`, `app-root` on `/`;
- 404s from the default backend (unknown hosts, unrouted paths), a few 403s (an allow-list),
  backend errors, and noise: lines in other formats, TLS handshakes sent to port 80, cut-off lines.

    .venv/bin/python tools/access_logs.py --ingresses estate.yaml --lines 100000 --output access.log.gz
"""

import argparse
import gzip
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), ".build", "collections"))

from ansible_collections.adoptmesh.istio.plugins.module_utils import nginx_paths  # noqa: E402
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import translate  # noqa: E402
from ansible_collections.adoptmesh.istio.plugins.module_utils.regex import RegexError  # noqa: E402

N = "nginx.ingress.kubernetes.io/"
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "curl/8.11.1", "kube-probe/1.36", "Go-http-client/2.0", "python-requests/2.32.3",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"]
METHODS = ["GET"] * 14 + ["POST"] * 3 + ["PUT", "DELETE", "HEAD"]
NOISE = ['2026/11/20 10:00:00 [error] 31#31: *1 connect() failed (111: Connection refused) while connecting to upstream',
         '10.0.0.9 - - [20/Nov/2026:10:00:00 +0000] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03" 400 150 "-" '
         '"-" 0 0.001 [] [] - - - - 0b8c4f1e2a3d4c5b6a7980f1e2d3c4b5',
         'I1120 10:00:00.000000       7 event.go:377] "Event occurred" object="shop/web" kind="Ingress" reason="Sync"',
         '10.0.0.9 - - [20/Nov/2026:10:00:00 +0000] "GET /cut-off',
         '']


def regex_example(pattern):
    """A path the regex matches from its start (ingress-nginx anchors its regex locations there), or None."""
    try:
        import re._parser as parser  # Python 3.11+
    except ImportError:  # pragma: no cover
        import sre_parse as parser
    try:
        tree = parser.parse(pattern)
    except Exception:  # not a regex Python reads: no example, the location gets no requests
        return None

    def walk(items):
        text = ""
        for op, value in items:
            name = str(op)
            if name == "LITERAL":
                text += chr(value)
            elif name == "ANY":
                text += "x"
            elif name == "IN":
                text += pick(value)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, body = value
                text += walk(body) * max(low, 1 if high else 0)
            elif name == "SUBPATTERN":
                text += walk(value[-1])
            elif name == "BRANCH":
                text += walk(value[1][0])
            elif name == "CATEGORY":
                text += "7" if "DIGIT" in str(value) else "a"
            elif name == "AT":
                continue
            else:
                raise ValueError(name)
        return text

    def pick(members):
        for op, value in members:
            name = str(op)
            if name == "LITERAL":
                return chr(value)
            if name == "RANGE":
                return chr(value[0])
            if name == "CATEGORY":
                return "7" if "DIGIT" in str(value) else "a"
            if name == "NEGATE":
                return "q"
        return "a"

    try:
        example = walk(tree)
    except ValueError:
        return None
    if not example.startswith("/"):
        return None
    return example if re.match("(?i)" + pattern, example) else None


class Location:
    def __init__(self, ingress, backend, annotations, tls_hosts):
        self.ingress = ingress
        self.host = backend["host"]
        self.path = backend["path"] or "/"
        self.path_type = backend["path_type"]
        self.regex = backend["regex"]
        self.upstream = backend["upstream"]
        self.redirect = None
        code = annotations.get(N + "permanent-redirect-code")
        if annotations.get(N + "permanent-redirect"):
            self.redirect = int(code) if code and code.isdigit() else 301
        elif annotations.get(N + "temporal-redirect"):
            self.redirect = 302
        self.app_root = annotations.get(N + "app-root")
        forced = annotations.get(N + "force-ssl-redirect") == "true"
        self.ssl_redirect = forced or (self.host in tls_hosts and annotations.get(N + "ssl-redirect") != "false")
        self.nginx = nginx_paths.Location(self.path, self.path_type, self.regex)
        self.literal = not self.regex or not re.search(r"[\\^$.|?*+()\[\]{}]", self.path)
        self.example = self.path if self.literal else regex_example(self.path)


class Estate:
    """The Ingresses as ingress-nginx serves them: locations per host, canaries per stable location."""

    def __init__(self, ingresses, services=None):
        translation = translate(ingresses, services, include_classless=True)
        by_ref = dict(("{0}/{1}".format(i["metadata"].get("namespace", "default"), i["metadata"]["name"]), i)
                      for i in ingresses)
        self.hosts = {}
        self.canaries = {}  # (host, path) -> [(upstream, weight share or None)]
        self.locations = []
        # The defaultBackend of an Ingress without rules serves the hosts no rule names (the oldest
        # such Ingress's; by_ingress is in age order). One with rules serves only its own hosts.
        self.default_upstream = next((b["upstream"] for e in translation.by_ingress.values()
                                      if e["class"] == "nginx" and not e.get("canary") and not e["hosts"]
                                      for b in e.get("backends", []) if b["host"] is None), None)
        for ref, entry in sorted(translation.by_ingress.items()):
            if entry["class"] != "nginx":
                continue
            ingress = by_ref[ref]
            annotations = ingress["metadata"].get("annotations") or {}
            tls_hosts = set(h for t in ingress["spec"].get("tls") or [] for h in t.get("hosts") or [])
            for backend in entry.get("backends", []):
                if backend["host"] is None:
                    continue
                if entry.get("canary"):
                    weight = annotations.get(N + "canary-weight")
                    total = annotations.get(N + "canary-weight-total") or "100"
                    share = float(weight) / float(total) if weight and weight.isdigit() and total.isdigit() else None
                    self.canaries.setdefault((backend["host"], backend["path"] or "/"), []).append(
                        (backend["upstream"], share))
                    continue
                location = Location(ref, backend, annotations, tls_hosts)
                self.hosts.setdefault(location.host, []).append(location)
                if location.example is not None:
                    self.locations.append(location)

    def serve(self, host, path):
        """The location ingress-nginx picks for host and path, or None (its default backend)."""
        locations = self.hosts.get(host, [])
        try:
            chosen = nginx_paths.choose([loc.nginx for loc in locations], path)
        except RegexError:
            return None  # a pattern nginx would have refused: the default backend
        return next((loc for loc in locations if loc.nginx is chosen), None)


def _request_path(rng, location):
    path = location.example
    if location.path_type == "Exact" and not location.regex:
        return path
    if not location.literal:
        return path if path.endswith("/") or rng.random() < 0.5 else path + "/{0}".format(rng.randrange(1000))
    roll = rng.random()
    base = path.rstrip("/")
    if roll < 0.3:
        return path
    if roll < 0.6:
        return "{0}/{1}".format(base, rng.randrange(1, 100000))
    if roll < 0.8:
        return "{0}/items/{1}/detail".format(base, rng.randrange(1, 5000))
    return "{0}/{1:032x}".format(base, rng.getrandbits(128))


class Generator:
    def __init__(self, estate, seed=0, with_host=False, not_found=0.03, noise=0.01, denied=0.005):
        if not estate.locations:
            raise ValueError("the estate has no routed nginx paths to make requests for")
        self.estate = estate
        self.rng = random.Random(seed)
        self.with_host = with_host
        self.not_found = not_found
        self.noise = noise
        self.denied = denied
        self.second = 0

    def line(self):
        rng = self.rng
        roll = rng.random()
        if roll < self.noise:
            return rng.choice(NOISE)
        self.second += 1
        method = rng.choice(METHODS)
        scheme = "https" if rng.random() < 0.8 else "http"
        upstream, alternative, status, address = "upstream-default-backend", "", 404, "127.0.0.1:8181"
        if roll < self.noise + self.not_found:
            host = "scanner-{0}.example.net".format(rng.randrange(50)) if rng.random() < 0.7 else \
                rng.choice(self.estate.locations).host
            path = rng.choice(["/wp-login.php", "/.env", "/admin/config.php", "/favicon.ico", "/robots.txt"])
            location = self.estate.serve(host, path)
            if location is not None:
                host = "scanner.example.net"
            if host not in self.estate.hosts and self.estate.default_upstream:
                upstream, status, address = self.estate.default_upstream, 404, "10.96.0.80:8080"
        else:
            location = rng.choice(self.estate.locations)
            host, path = location.host, _request_path(rng, location)
            location = self.estate.serve(host, path)
            upstream, status, address = location.upstream, 200, "10.{0}.{1}.{2}:8080".format(
                rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
            if location.ssl_redirect and scheme == "http":
                status, address = 308, "-"
            elif location.redirect:
                status, address = location.redirect, "-"
            elif location.app_root and path == "/":
                status, address = 302, "-"
            elif rng.random() < self.denied:
                status, address = 403, "-"
            else:
                for canary, share in self.estate.canaries.get((host, location.path), []):
                    if (share is None and rng.random() < 0.05) or (share is not None and rng.random() < share):
                        alternative = canary
                        break
                if rng.random() < 0.01:
                    status = rng.choice([500, 502, 504, 499])
        if rng.random() < 0.1:
            path += "?page={0}".format(rng.randrange(20))
        stamp = "20/Nov/2026:{0:02d}:{1:02d}:{2:02d} +0000".format(
            (self.second // 3600) % 24, (self.second // 60) % 60, self.second % 60)
        agent = rng.choice(AGENTS)
        client = "10.{0}.{1}.{2}".format(rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
        sent = 0 if address == "-" else rng.randrange(100, 20000)
        upstream_fields = "- - - -" if address == "-" else "{0} {1} 0.{2:03d} {3}".format(
            address, sent, rng.randrange(1000), status)
        where = " {0} {1}".format(host, scheme) if self.with_host else ""
        return ('{0} - - [{1}] "{2} {3} HTTP/1.1" {4} {5} "-" "{6}" {7} 0.{8:03d}{9} [{10}] [{11}] {12} {13:032x}'
                .format(client, stamp, method, path, status, sent, agent, rng.randrange(200, 900),
                        rng.randrange(1000), where, upstream, alternative, upstream_fields, rng.getrandbits(128)))

    def write(self, path, lines):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "wt") as handle:
            for _index in range(lines):
                handle.write(self.line() + "\n")


# The upstreaminfo format with the host and scheme logged too (what --with-host writes).
WITH_HOST = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
             '"$http_user_agent" $request_length $request_time $host $scheme [$proxy_upstream_name] '
             '[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time '
             '$upstream_status $req_id')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingresses", required=True, help="a YAML or JSON file of Ingresses (a List or documents)")
    parser.add_argument("--lines", type=int, default=100000)
    parser.add_argument("--output", required=True, help="the log to write; gzip when it ends in .gz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-host", action="store_true", help="log $host and $scheme as well")
    args = parser.parse_args()
    import yaml
    with open(args.ingresses) as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d]
    objects = []
    for document in documents:
        objects.extend(document.get("items", []) if document.get("kind", "").endswith("List") else [document])
    ingresses = [o for o in objects if o.get("kind") == "Ingress"]
    services = [o for o in objects if o.get("kind") == "Service"]
    Generator(Estate(ingresses, services or None), args.seed, args.with_host).write(args.output, args.lines)
    print(json.dumps({"output": args.output, "lines": args.lines}))


if __name__ == "__main__":
    main()
