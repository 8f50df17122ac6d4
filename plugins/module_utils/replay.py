# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replaying ingress-nginx access logs against a translation, before the cutover.

For every logged request, ingress-nginx already said where it went: the upstream that served it
(`$proxy_upstream_name`, `<namespace>-<service>-<port>`, and `$proxy_alternative_upstream_name`
when a canary took it), its default backend (a 404), or a redirect it answered itself. The
translation's objects say where the gateway will send the same request (`gateway_routing`). The
replay compares the two, request by request, and sums up by request shape and by Ingress.

A log that does not name the host (ingress-nginx's default format) is compared on every host whose
Ingresses route that upstream on a path that could match: "same for every candidate host" when they
all agree, "ambiguous" with the hosts when they do not. A log without the scheme is compared over
HTTP and HTTPS, and agrees when either does. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .access_log import MAX_LINE, UPSTREAMINFO, LogFormat, log_lines
from .errors import InputError, depth_guarded
from .findings import ERROR, WARNING, Finding, sorted_findings
from .gateway_routing import Request, Router, RoutingError, bare_host
from .nginx_paths import Location, choose
from .regex import RegexError, available as regex_available

DEFAULT_BACKEND = "upstream-default-backend"
REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))
# A host no Ingress names: where a request for an unknown host is checked.
UNKNOWN_HOST = "unknown-host.replay.invalid"
EXAMPLES = 3
SAMPLES = 10
SHAPES_KEPT = 5000
CACHE_LIMIT = 200000
NO_INGRESS = "(no Ingress)"

_ID_SEGMENT = re.compile(r"\A(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                         r"|[0-9a-fA-F]{12,}|(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{20,})\Z")


def path_pattern(path):
    """The path with identifiers (numbers, UUIDs, long hex or tokens) as `{id}`: a request shape."""
    if "/" not in path[1:]:
        return "/{id}" if _ID_SEGMENT.match(path[1:]) else path
    return "/".join("{id}" if segment and _ID_SEGMENT.match(segment) else segment for segment in path.split("/"))


class Backend:
    """One routed path of an Ingress, as ingress-nginx named it in its log."""

    __slots__ = ("ingress", "host", "path", "path_type", "regex", "upstream", "target", "canary", "https_redirect",
                 "redirect_code", "app_root", "_location")

    def __init__(self, ingress, entry, canary):
        self.ingress = ingress
        self.host = entry.get("host")
        self.path = entry.get("path") or "/"
        self.path_type = entry.get("path_type")
        self.regex = bool(entry.get("regex"))
        self.upstream = entry["upstream"]
        self.target = "{0}:{1}".format(entry["service"], entry["port"])
        self.canary = canary
        self.https_redirect = bool(entry.get("https_redirect"))
        self.redirect_code = entry.get("redirect_code")
        self.app_root = bool(entry.get("app_root"))
        self._location = None

    def answers(self, source, path):
        """Whether ingress-nginx could have given this answer itself on this path (a redirect), or
        proxied the request (a route)."""
        kind, _target, code = source
        redirects = set()
        if self.https_redirect:
            redirects.add(308)
        if self.redirect_code:
            redirects.add(self.redirect_code)
        if self.app_root and path == "/":
            redirects.add(302)
        if kind == "redirect":
            return code in redirects
        return not self.redirect_code

    @property
    def location(self):
        if self._location is None:
            self._location = Location(self.path, self.path_type, self.regex)
        return self._location

    def could_match(self, path):
        """Whether ingress-nginx could have sent `path` here: a loose test that picks candidate hosts
        (a regex path is tried on its own, as if its host were in regex mode)."""
        try:
            return self.location.matches(path)
        except RegexError as error:
            # A pattern RE2 refuses may have sent anything here; without RE2 nothing can be judged.
            if not regex_available():
                raise InputError("Ingress", self.ingress, "path", str(error))
            return True


_BACKEND_FIELDS = (("host", (str, type(None))), ("path", (str, type(None))), ("path_type", (str, type(None))),
                   ("upstream", str), ("service", str), ("port", (int, str)), ("redirect_code", (int, type(None))))


def backend_problem(backend):
    """(field suffix, problem) when one entry of a translation's `backends` is not what
    ingress_to_gateway returns, else None."""
    if not isinstance(backend, dict):
        return "", "is not a mapping"
    for field, kinds in _BACKEND_FIELDS:
        value = backend.get(field)
        if field in ("upstream", "service", "port") and value is None:
            return "." + field, "is missing"
        if not isinstance(value, kinds) or isinstance(value, bool):
            return "." + field, "is a {0}, not what ingress_to_gateway returns".format(type(value).__name__)
    return None


class Estate:
    """What the source controller served, from the translation's per-Ingress map (`ingresses`)."""

    def __init__(self, by_ingress):
        self.upstreams = {}
        self.by_host = {}
        if by_ingress is not None and not isinstance(by_ingress, dict):
            raise InputError("", "translation", "ingresses", "is a {0}, not a mapping of Ingress to its routes".format(
                type(by_ingress).__name__))
        self.ingresses = sorted(by_ingress or {}, key=str)
        known = set()
        for ref in self.ingresses:
            entry = by_ingress[ref] or {}
            where = "ingresses[{0!r}]".format(ref)
            if not isinstance(ref, str) or not isinstance(entry, dict):
                raise InputError("", "translation", where, "is not an Ingress entry (a mapping)")
            if "backends" not in entry:
                raise InputError("", "translation", where,
                                 "has no `backends`: give the result of adoptmesh.istio.ingress_to_gateway "
                                 "(this collection's version or later)")
            if not isinstance(entry["backends"], list):
                raise InputError("", "translation", where + ".backends", "is not a list")
            for index, backend in enumerate(entry["backends"]):
                problem = backend_problem(backend)
                if problem:
                    raise InputError("", "translation", "{0}.backends[{1}]{2}".format(where, index, problem[0]),
                                     problem[1])
                item = Backend(ref, backend, bool(entry.get("canary")))
                self.upstreams.setdefault(item.upstream, []).append(item)
                if not item.canary:
                    self.by_host.setdefault(item.host, []).append(item)
                if item.host and not item.host.startswith("*"):
                    known.add(item.host)
        self.known_hosts = known
        self.default_backends = [b for items in self.upstreams.values() for b in items if b.host is None]

    def _location_upstream(self, host, path):
        """The upstream of the location ingress-nginx picks for `path` on `host` (an Exact path,
        else the longest matching prefix), or None when it cannot tell (regex paths, no match)."""
        backends = self.by_host.get(host) or []
        if any(b.regex for b in backends):
            return None
        chosen = choose([b.location for b in backends], path)
        return None if chosen is None else next(b.upstream for b in backends if b.location is chosen)

    def concrete_host(self, pattern):
        """A host to ask the gateway for, standing for an Ingress rule's host (wildcards, no host)."""
        if pattern is None or pattern == "*":
            return UNKNOWN_HOST
        if pattern.startswith("*."):
            candidate = "replay-any" + pattern[1:]
            while candidate in self.known_hosts:
                candidate = "x" + candidate
            return candidate
        return pattern

    def candidates(self, upstream, path, source):
        """{host: owning Ingress} for a request ingress-nginx answered with `source` for `upstream`: the
        hosts of the Ingress paths with that upstream that could match the path and give that answer
        (those that could match, else all of them, when none fits so well)."""
        backends = self.upstreams.get(upstream)
        if not backends:
            return None
        fitting = [b for b in backends if b.could_match(path)] or backends
        fitting = [b for b in fitting if b.answers(source, path)] or fitting
        # A host where ingress-nginx would have picked a location of another upstream for this
        # path did not send it here.
        fitting = [b for b in fitting if self._location_upstream(b.host, path) in (None, upstream)] or fitting
        owners = {}
        for backend in fitting:
            host = self.concrete_host(backend.host)
            best = owners.get(host)
            # ingress-nginx's longest path wins; the oldest Ingress on a tie (the translation's order).
            if best is None or len(backend.path) > len(best.path):
                owners[host] = backend
        return dict((host, backend.ingress) for host, backend in owners.items())


class _Shape:
    """One request shape with a verdict: its count, its first example lines, what each side did."""

    __slots__ = ("key", "requests", "examples", "detail")

    def __init__(self, key, detail):
        self.key = key
        self.requests = 0
        self.examples = []
        self.detail = detail


def _source_text(source):
    kind, target, code = source
    if kind == "route":
        return target
    if kind == "redirect":
        return "redirect {0}".format(code)
    return "default backend (404)"


def _agrees(source, outcomes):
    kind, target, code = source
    for outcome in outcomes:
        if kind == "route" and outcome.kind == "route" and target in outcome.targets():
            return True
        if kind == "redirect" and outcome.kind == "redirect" and outcome.code == code:
            return True
        if kind == "none" and (outcome.kind == "none" or (outcome.kind == "direct" and outcome.code == 404)):
            return True  # a 404 the gateway answers itself is what ingress-nginx's default backend gave
    return False


def _outcomes_text(outcomes):
    texts = [o.describe() for o in outcomes]
    return texts[0] if len(texts) == 1 else " or ".join(texts) + " (by request headers the log does not show)"


class Replay:
    """Compares a stream of log lines with the translation; `result()` sums it up."""

    def __init__(self, resources, by_ingress, log_format=None, max_mismatch_requests=0, log_escape="default"):
        try:
            self.router = Router(resources)
        except RoutingError as error:
            raise InputError("", "translation", "resources", str(error))
        if self.router.empty:
            raise InputError("", "translation", "resources", "holds no Gateway: there is nothing to replay against")
        self.estate = Estate(by_ingress)
        self.format = LogFormat(log_format or UPSTREAMINFO, log_escape)
        self.max_mismatch_requests = max_mismatch_requests
        self.totals = {"lines": 0, "parsed": 0, "skipped": 0, "compared": 0, "same": 0, "mismatched": 0,
                       "ambiguous": 0, "same_for_every_candidate_host": 0, "not_compared": 0}
        self.skipped_reasons = {}
        self.not_compared = {}
        self.samples = []
        self.unknown_upstreams = {}
        self.shapes = {}
        self.shapes_dropped = 0
        self.per_ingress = dict((ref, [0, 0, 0, 0]) for ref in self.estate.ingresses)  # requests, same, mismatched, ambiguous
        self.files = []
        self.found = []  # the findings of the last result(), as Finding objects
        self._cache = {}

    # --- reading ------------------------------------------------------------------------------------
    def read_file(self, path):
        """Replay one log file (plain or gzip). InputError when not one line is in the log format."""
        first_bad = None
        parsed_before, lines_before = self.totals["parsed"], self.totals["lines"]
        for number, line in log_lines(path):
            if line is None:
                self.totals["lines"] += 1
                problem = self._skip("longer than {0} bytes".format(MAX_LINE), path, number, "")
            else:
                problem = self.line(line, path, number)
            if problem and first_bad is None:
                first_bad = (number, (line or "").rstrip("\n"), problem)
        lines, parsed = self.totals["lines"] - lines_before, self.totals["parsed"] - parsed_before
        self.files.append({"path": path, "lines": lines, "parsed": parsed})
        if not lines:
            raise InputError("log file", path, "", "is empty: there is nothing to replay")
        if not parsed:
            number, text, problem = first_bad
            raise InputError("log file", path, "", "no line is an access log line in the given log_format; the "
                             "first, line {0} ({1}): {2!r}".format(number, problem, text[:300]))

    def _skip(self, reason, path, number, line):
        self.totals["skipped"] += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1
        if len(self.samples) < SAMPLES:
            self.samples.append({"file": path, "line": number, "reason": reason, "text": line.rstrip("\n")[:300]})
        return reason

    def _not_compared(self, reason, upstream=None):
        self.totals["not_compared"] += 1
        self.not_compared[reason] = self.not_compared.get(reason, 0) + 1
        if upstream is not None:
            self.unknown_upstreams[upstream] = self.unknown_upstreams.get(upstream, 0) + 1

    @depth_guarded("access log line")
    def line(self, line, path="-", number=0):
        """Replay one line; returns why it was skipped, or None."""
        self.totals["lines"] += 1
        fields = self.format.parse(line)
        if fields is None:
            return self._skip("not in the log format", path, number, line)
        request = _request_of(fields)
        if request is None:
            return self._skip("no request line (a bad or empty request)", path, number, line)
        method, target, host, scheme = request
        try:
            status = int(fields.get("status") or 0)
        except ValueError:
            return self._skip("status is not a number", path, number, line)
        self.totals["parsed"] += 1
        source, reason = _source_of(fields, status)
        if source is None:
            self._not_compared(reason)
            return None
        request_path = target.split("?", 1)[0]
        headers = None
        if self.format.headers:
            headers = dict((name, fields.get("http_" + name.replace("-", "_"))) for name in self.format.headers)
            headers = dict((k, v) for k, v in headers.items() if v not in (None, "", "-"))
        upstream = fields.get("proxy_upstream_name") or ""
        alternative = fields.get("proxy_alternative_upstream_name") or ""
        key = (host, scheme, request_path, method, source, upstream, alternative,
               tuple(sorted(headers.items())) if headers else None)
        verdict = self._cache.get(key)
        if verdict is None:
            verdict = self._judge(source, upstream, alternative, host, scheme, request_path, method, headers)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()  # bounded: memory stays flat however long the log
            self._cache[key] = verdict
        self._count(verdict, method, request_path, line, path, number)
        return None

    # --- judging ----------------------------------------------------------------------------------------
    def _judge(self, source, upstream, alternative, host, scheme, path, method, headers):
        """The verdict on one request, a tuple starting with its result: `same` (with the Ingresses and
        whether several hosts were candidates), `mismatched` or `ambiguous` (with the Ingresses of the
        differing hosts, the hosts, where ingress-nginx sent it and where the translation does), or a
        reason why it is not compared (with the upstream when no translated Ingress names it)."""
        kind = source[0]
        if kind == "none":
            if not host and self.estate.default_backends:
                # ingress-nginx sends unknown hosts to that defaultBackend: this 404 was for a known
                # host, which one the log does not say.
                return ("a 404 of the default backend without a logged host, while an Ingress's defaultBackend "
                        "serves unknown hosts (log $host to compare these)", None)
            owners = {bare_host(host) if host else UNKNOWN_HOST: NO_INGRESS}
        else:
            served = alternative or upstream
            backends = self.estate.upstreams.get(served)
            if not backends:
                return ("upstream not served by the translated Ingresses", served)
            if kind == "route":
                source = ("route", backends[0].target, None)
            owners = None
            if alternative and self.estate.upstreams.get(upstream):
                # ingress-nginx gives a canary every location of its stable upstream, on any host:
                # the canary's Ingress took the request wherever that upstream could have.
                owners = dict((candidate, backends[0].ingress)
                              for candidate in self.estate.candidates(upstream, path, source))
            owners = owners or self.estate.candidates(served, path, source)
            if host:
                host = bare_host(host)
                owners = {host: owners.get(host) or next(iter(owners.values()))}
        hosts = sorted(owners)
        agreeing, differing, seen = [], [], {}
        for candidate in hosts:
            texts, agrees = [], False
            # Without a logged scheme: each scheme the translation serves the host over (either, if none).
            schemes = (scheme,) if scheme else tuple(
                s for s in ("http", "https") if self.router.serves(candidate, s)) or ("http", "https")
            try:
                for each in schemes:
                    outcomes = self.router.possible(Request(candidate, path, each, method, headers))
                    if _agrees(source, outcomes):
                        agrees = True
                        break
                    texts.append((each, _outcomes_text(outcomes)))
            except RoutingError as error:
                return ("the translation uses what the replay does not evaluate: {0}".format(error), None)
            if agrees:
                agreeing.append(candidate)
            else:
                differing.append(candidate)
                if len(texts) == 1 or texts[0][1] == texts[1][1]:
                    seen[candidate] = texts[0][1]
                else:
                    seen[candidate] = ", ".join("{0} over {1}".format(text, each.upper()) for each, text in texts)
        text = _source_text(source)
        if not differing:
            return ("same", tuple(sorted(set(owners.values()))), len(hosts) > 1)
        ingresses = tuple(sorted(set(owners[h] for h in differing)))
        states = tuple(sorted(set(owners[h] for h in agreeing)))
        if not agreeing:
            return ("mismatched", ingresses, hosts, text, "; ".join(sorted(set(seen.values()))), ())
        return ("ambiguous", ingresses, hosts, text, agreeing, differing, seen, states)

    def _count(self, verdict, method, path, line, file_path, number):
        result = verdict[0]
        if result not in ("same", "mismatched", "ambiguous"):
            self._not_compared(result, verdict[1])
            return
        self.totals["compared"] += 1
        if result == "same":
            self.totals["same"] += 1
            if verdict[2]:
                self.totals["same_for_every_candidate_host"] += 1
            for owner in verdict[1]:
                counters = self.per_ingress.setdefault(owner, [0, 0, 0, 0])
                counters[0] += 1
                counters[1] += 1
            return
        slot = 2 if result == "mismatched" else 3
        self.totals[result] += 1
        for owner in verdict[1]:
            counters = self.per_ingress.setdefault(owner, [0, 0, 0, 0])
            counters[0] += 1
            counters[slot] += 1
        for owner in verdict[-1]:
            if owner not in verdict[1]:
                counters = self.per_ingress.setdefault(owner, [0, 0, 0, 0])
                counters[0] += 1
                counters[1] += 1
        key = (result, tuple(verdict[2]), method, path_pattern(path), verdict[3], verdict[1])
        shape = self.shapes.get(key)
        if shape is None:
            if len(self.shapes) >= SHAPES_KEPT:
                self.shapes_dropped += 1
                return
            shape = self.shapes[key] = _Shape(key, verdict[3:])
        shape.requests += 1
        if len(shape.examples) < EXAMPLES:
            shape.examples.append("{0}:{1}: {2}".format(file_path, number, line.rstrip("\n")[:500]))

    # --- the summary -----------------------------------------------------------------------------------------
    def _found(self, mismatches, ambiguous):
        self.found = replay_findings(mismatches, ambiguous)
        return self.found

    def result(self):
        mismatches, ambiguous = [], []
        for shape in sorted(self.shapes.values(), key=lambda s: (-s.requests, s.key[1:4])):
            result, hosts, method, pattern, source_text, owners = shape.key
            entry = {"ingresses": list(owners), "method": method, "path_pattern": pattern, "requests": shape.requests,
                     "source": source_text, "examples": shape.examples}
            entry.update(_hosts_entry(hosts))
            if result == "mismatched":
                entry["translation"] = shape.detail[1]
                entry["error"] = shape.requests > self.max_mismatch_requests
                mismatches.append(entry)
            else:
                agreeing, differing, seen = shape.detail[1:4]
                entry.update(same_on=agreeing, differs_on=dict((h, seen[h]) for h in differing))
                ambiguous.append(entry)
        per_ingress = {}
        for ref, (requests, same, mismatched, unsure) in sorted(self.per_ingress.items()):
            if mismatched:
                verdict = "differs"
            elif unsure:
                verdict = "ambiguous"
            elif requests:
                verdict = "same"
            else:
                verdict = "no traffic"
            per_ingress[ref] = {"requests": requests, "same": same, "mismatched": mismatched, "ambiguous": unsure,
                                "verdict": verdict}
        totals = dict(self.totals)
        totals.update(skipped_reasons=dict(self.skipped_reasons), not_compared_reasons=dict(self.not_compared),
                      shapes_not_listed=self.shapes_dropped)
        return {"totals": totals, "files": self.files, "mismatches": mismatches, "ambiguous": ambiguous,
                "ingresses": per_ingress, "skipped_samples": self.samples,
                "unknown_upstreams": dict(sorted(self.unknown_upstreams.items(), key=lambda i: -i[1])[:50]),
                "findings": [f.as_dict() for f in self._found(mismatches, ambiguous)]}


def replay_findings(mismatches, ambiguous):
    """A finding per Ingress with requests that would go elsewhere, and per Ingress with ambiguous ones."""
    found = []
    for owner, entries, requests in _by_ingress(mismatches):
        worst = entries[0]
        severity = ERROR if any(e["error"] for e in entries) else WARNING
        where = worst.get("host") or "/".join(worst.get("candidate_hosts") or []) or "?"
        found.append(Finding("ingress", owner, severity, "replay-mismatch",
                             "{0} logged request(s) in {1} shape(s) would go elsewhere after the cutover; the "
                             "most frequent, {2} x {3} {4}{5}: ingress-nginx {6}, the translation {7}".format(
                                 requests, len(entries), worst["requests"], worst["method"], where,
                                 worst["path_pattern"], worst["source"], worst["translation"]),
                             host=worst.get("host"), path=worst["path_pattern"], requests=requests))
    for owner, entries, requests in _by_ingress(ambiguous):
        worst = entries[0]
        found.append(Finding("ingress", owner, WARNING, "replay-ambiguous",
                             "{0} logged request(s) route the same on some candidate hosts only (the log has no "
                             "host; log $host to decide): {1} {2}, same on {3}, different on {4}".format(
                                 requests, worst["method"], worst["path_pattern"], worst["same_on"],
                                 sorted(worst["differs_on"])), path=worst["path_pattern"], requests=requests))
    return sorted_findings(found)


@depth_guarded("translation")
def from_translation(translation, log_format=None, max_mismatch_requests=0, log_escape="default"):
    """A Replay against a registered ingress_to_gateway result (its `resources` and `ingresses`)."""
    resources = translation.get("resources") if isinstance(translation, dict) else None
    by_ingress = translation.get("ingresses") if isinstance(translation, dict) else None
    if not isinstance(resources, list) or not isinstance(by_ingress, dict):
        raise InputError("", "translation", "", "needs `resources` (a list) and `ingresses` (a map): give the "
                         "registered result of adoptmesh.istio.ingress_to_gateway")
    return Replay(resources, by_ingress, log_format, max_mismatch_requests, log_escape)


def _by_ingress(shapes):
    """(Ingress, its shapes most requests first, their requests) for each Ingress the shapes name."""
    grouped = {}
    for entry in shapes:
        for owner in entry["ingresses"]:
            grouped.setdefault(owner, []).append(entry)
    return [(owner, entries, sum(e["requests"] for e in entries)) for owner, entries in sorted(grouped.items())]


def _hosts_entry(hosts):
    if len(hosts) == 1:
        return {"host": None if hosts[0] == UNKNOWN_HOST else hosts[0]}
    return {"host": None, "candidate_hosts": list(hosts)}


_REQUEST = re.compile(r"\A([A-Z][A-Z_-]*) (\S+)(?: HTTP/[0-9.]+)?\Z")


def _request_of(fields):
    """(method, target path, host or None, scheme or None), or None without a usable request."""
    method = fields.get("request_method")
    # The path the client sent: $request_uri, else the request line. $uri is the last resort, as
    # nginx logs it after the location's rewrites.
    target = fields.get("request_uri")
    if fields.get("request") is not None:
        match = _REQUEST.match(fields["request"])
        if match is None:
            return None
        method, target = method or match.group(1), target or match.group(2)
    if target is None and fields.get("uri") is not None:
        target = fields["uri"] + ("?" + fields["args"] if fields.get("args") not in (None, "", "-") else "")
    if not method or not target:
        return None
    host = None
    for name in ("host", "http_host"):
        value = fields.get(name)
        if value not in (None, "", "-", "_"):
            host = value
            break
    scheme = fields.get("scheme") if fields.get("scheme") in ("http", "https") else None
    if scheme is None and fields.get("https") is not None:
        scheme = "https" if fields["https"] == "on" else "http"
    if scheme is None and fields.get("server_port") in ("80", "443"):
        scheme = "https" if fields["server_port"] == "443" else "http"
    if target.startswith(("http://", "https://")):
        # The absolute form a client may send: its authority is the host (nginx's $host), but its
        # scheme is only what the client wrote; the connection's scheme is logged, or unknown.
        authority, slash, remainder = target.partition("://")[2].partition("/")
        host, target = host or authority, "/" + remainder if slash else "/"
    if not target.startswith("/"):
        return None
    return method, target, host, scheme


def _source_of(fields, status):
    """(source, None) where ingress-nginx sent the request, or (None, why it is not compared)."""
    upstream = fields.get("proxy_upstream_name") or ""
    addresses = fields.get("upstream_addr")
    proxied = addresses not in (None, "", "-") if "upstream_addr" in fields else None
    if upstream == DEFAULT_BACKEND:
        return ("none", None, None), None
    if upstream in ("", "-"):
        return None, "no upstream named (answered before routing)"
    if upstream.startswith("custom-default-backend-"):
        return None, "custom default backend (the default-backend annotation)"
    if proxied is False or (proxied is None and status in REDIRECT_CODES):
        if status in REDIRECT_CODES:
            return ("redirect", None, status), None
        return None, "answered by ingress-nginx itself with {0} (auth, allow-list, rate limit, no endpoint)".format(
            status)
    return ("route", None, None), None


def replay(resources, by_ingress, paths, log_format=None, max_mismatch_requests=0, log_escape="default"):
    """Replay the log files at `paths` against the translation; returns the summary dict."""
    runner = Replay(resources, by_ingress, log_format, max_mismatch_requests, log_escape)
    for path in paths:
        runner.read_file(path)
    return runner.result()
