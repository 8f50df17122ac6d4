"""The replay's routing evaluator (module_utils/gateway_routing.py), judged by istiod.

Every translation test case (the objects the translation unit tests route, for the Istio output and
the Gateway API output) gets a generated corpus of requests on top of the ones the tests route:
every host, with each Ingress path as it is, below it, beside it (`/apix` for `/api`), upper-case,
with and without the canary headers, over HTTP and HTTPS. Istio's own config generation answers
each one (route-oracle, then Envoy's matching on the RouteConfiguration served); the evaluator's
answer must be the same: the same backends with the same weights, the same redirect, or no route.

Then the whole replay is judged the same way: each request becomes an ingress-nginx log line whose
logged upstream is either where istiod sends it or somewhere else, and the replay's verdict (same or
mismatched) must be the one istiod's answer gives.
"""

import collections
import json
import os
import sys

import route_oracle
from route_oracle import Request, Verdict
from test_route_oracle import oracle_verdict

COLLECTIONS = os.path.join(route_oracle.REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.adoptmesh.istio.plugins.module_utils import gateway_routing  # noqa: E402
from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator  # noqa: E402
from ansible_collections.adoptmesh.istio.plugins.module_utils.replay import Replay  # noqa: E402

PER_CASE = 48
LOG_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
              '"$http_user_agent" $host $scheme {headers}[$proxy_upstream_name] [$proxy_alternative_upstream_name] '
              '$upstream_addr $upstream_status $req_id')


def evaluator_verdict(router, request):
    outcome = router.route(gateway_routing.Request(request.host, request.path, request.scheme,
                                                   headers=request.headers))
    if outcome.kind == "route":
        return Verdict("route", tuple(sorted(("{0}.{1}:{2}".format(s, n, p), w) for s, n, p, w in outcome.destinations)))
    if outcome.kind == "redirect":
        return Verdict("redirect", outcome.location, outcome.code)
    return Verdict("none")


def _paths(inputs):
    paths = set()
    for ingress in inputs["ingresses"] if inputs else []:
        spec = ingress.get("spec") or {}
        for rule in spec.get("rules") or []:
            for entry in ((rule or {}).get("http") or {}).get("paths") or []:
                path = (entry or {}).get("path")
                if isinstance(path, str) and path.startswith("/") and "(" not in path and "[" not in path:
                    paths.add(path)
    return sorted(paths)


def _hosts(resources, requests):
    hosts = set(r.host for r in requests)
    for resource in resources:
        spec = resource.get("spec") or {}
        for host in list(spec.get("hosts") or []) + list(spec.get("hostnames") or []):
            hosts.add(host.replace("*", "any-sub", 1) if host.startswith("*") else host)
    hosts.add("not-routed.example.org")
    return sorted(h for h in hosts if h != "*")


def _headers(resources):
    found = set()
    for resource in resources:
        spec = resource.get("spec") or {}
        for entry in spec.get("http") or []:
            for match in entry.get("match") or []:
                for name, condition in (match.get("headers") or {}).items():
                    found.add((name, condition.get("exact", "x")))
        for rule in spec.get("rules") or []:
            for match in rule.get("matches") or []:
                for header in match.get("headers") or []:
                    found.add((header["name"], header.get("value", "x")))
    return sorted(found)


def corpus(resources, inputs, recorded_requests):
    """The recorded requests, then generated ones, PER_CASE at most per case (the same every run)."""
    requests = list(recorded_requests)
    seen = set((r.host, r.path, r.scheme, json.dumps(r.headers, sort_keys=True)) for r in requests)
    hosts, headers = _hosts(resources, requests), _headers(resources)
    variants = []
    for path in _paths(inputs) or ["/"]:
        base = path.rstrip("/") or ""
        variants += [path, base + "/", base + "/deeper/x", base + "x", path.upper(), base + "/7?q=1"]
    variants = [v for v in variants if v.startswith("/")] + ["/", "/unknown/path"]
    generated = []
    for index, (host, path) in enumerate((h, p) for p in variants for h in hosts):
        scheme = "https" if index % 3 == 0 else "http"
        header_sets = [{}] + [{name: value} for name, value in headers]
        generated.append(Request(host, path, scheme, header_sets[index % len(header_sets)]))
    step = max(1, len(generated) // PER_CASE)
    for request in generated[::step]:
        key = (request.host, request.path, request.scheme, json.dumps(request.headers, sort_keys=True))
        if key not in seen:
            seen.add(key)
            requests.append(request)
    return requests


def cases(recorded, output_api):
    groups = collections.OrderedDict()
    for line in recorded:
        inputs = line["inputs"]
        if output_api == "gateway-api":
            if inputs is None:
                continue
            options = dict(inputs["options"], output_api="gateway-api")
            result = translator.translate(inputs["ingresses"], inputs["services"], **options)
            istio = translator.translate(inputs["ingresses"], inputs["services"], **inputs["options"])
            if len([f for f in result.findings if f.severity == "error"]) > len(
                    [f for f in istio.findings if f.severity == "error"]):
                continue  # the Gateway API cannot say this; the translation refuses it with an error
            resources, by_ingress = result.resources, result.by_ingress
        else:
            resources = line["resources"]
            by_ingress = None
            if inputs is not None:
                by_ingress = translator.translate(inputs["ingresses"], inputs["services"], **inputs["options"]).by_ingress
        key = json.dumps(resources, sort_keys=True)
        entry = groups.setdefault(key, {"resources": resources, "inputs": inputs, "by_ingress": by_ingress,
                                        "requests": [], "tests": set()})
        entry["requests"].append(Request(**line["request"]))
        entry["tests"].add(line["test"])
    built = []
    for number, entry in enumerate(groups.values()):
        entry["requests"] = corpus(entry["resources"], entry["inputs"], entry["requests"])
        entry["case"] = route_oracle.case("replay-{0}-{1}".format(output_api, number), entry["resources"],
                                          entry["requests"])
        built.append(entry)
    return built


def judged(recorded, output_api):
    built = cases(recorded, output_api)
    answers = route_oracle.run([entry["case"] for entry in built])
    return built, answers


def check_evaluator(built, answers):
    disagreements, total = [], 0
    for entry, answer in zip(built, answers):
        router = gateway_routing.Router(entry["resources"])
        for index, request in enumerate(entry["requests"]):
            total += 1
            expected, got = oracle_verdict(answer, index), evaluator_verdict(router, request)
            if expected != got:
                disagreements.append("{0}: {1}: istiod {2}, replay evaluator {3}".format(
                    sorted(entry["tests"])[0], request, expected, got))
    return disagreements, total


def _upstreams(by_ingress):
    """{target `svc.ns:port`: an upstream name ingress-nginx gives it} from the translation's map."""
    found = {}
    for entry in by_ingress.values():
        for backend in entry.get("backends") or []:
            found.setdefault("{0}:{1}".format(backend["service"], backend["port"]), backend["upstream"])
    return found


def log_line(request, upstream, status, proxied, header_names):
    sent = dict((name.lower(), value) for name, value in request.headers.items())
    headers = "".join('"{0}" '.format(sent.get(name, "-")) for name in header_names)
    return ('10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET {0} HTTP/1.1" {1} 0 "-" "oracle" {2} {3} {4}[{5}] [] '
            '{6} {7} 0123456789abcdef\n').format(request.path, status, request.host, request.scheme, headers, upstream,
                                                 "10.1.0.1:80" if proxied else "-", status if proxied else "-")


def check_replay(built, answers):
    """Each request as a log line naming istiod's answer or another one: the replay must tell which."""
    disagreements, total = [], 0
    for number, (entry, answer) in enumerate(zip(built, answers)):
        if not entry["by_ingress"]:
            continue
        upstreams = _upstreams(entry["by_ingress"])
        if not upstreams:
            continue
        header_names = sorted(set(name.lower() for request in entry["requests"] for name in request.headers))
        log_format = LOG_FORMAT.format(headers="".join('"$http_{0}" '.format(n.replace("-", "_")) for n in header_names))
        for index, request in enumerate(entry["requests"]):
            if "?" in request.path or ":" in request.host or not request.path.startswith("/"):
                continue
            verdict = oracle_verdict(answer, index)
            served = [target for target, weight in verdict.target if weight > 0] if verdict.kind == "route" else []
            others = sorted(t for t in upstreams if t not in served)
            # Alternate: the line names where istiod sends the request, or somewhere it does not.
            truthful = (number + index) % 2 == 0 or not others
            if verdict.kind == "route" and truthful and served[0] in upstreams:
                line, expected = log_line(request, upstreams[served[0]], 200, True, header_names), "same"
            elif verdict.kind == "redirect" and truthful:
                line, expected = log_line(request, next(iter(upstreams.values())), verdict.code, False,
                                          header_names), "same"
            elif verdict.kind == "none" and truthful:
                line, expected = log_line(request, "upstream-default-backend", 404, True, header_names), "same"
            elif others:
                line, expected = log_line(request, upstreams[others[index % len(others)]], 200, True,
                                          header_names), "mismatched"
            else:
                continue
            replay = Replay(entry["resources"], entry["by_ingress"], log_format)
            replay.line(line, "oracle.log", index)
            totals = replay.result()["totals"]
            got = "same" if totals["same"] else "mismatched" if totals["mismatched"] else "not compared"
            total += 1
            if got != expected:
                disagreements.append("{0}: {1}: istiod {2}, the log line says {3}, replay {4}: {5}".format(
                    sorted(entry["tests"])[0], request, verdict, expected, got, line.strip()))
    return disagreements, total


def _run(recorded, output_api):
    built, answers = judged(recorded, output_api)
    disagreements, total = check_evaluator(built, answers)
    assert total >= 5000, "only {0} requests judged for {1}".format(total, output_api)
    assert not disagreements, "{0} of {1} requests:\n{2}".format(
        len(disagreements), total, "\n".join(disagreements[:30]))
    replay_disagreements, replayed = check_replay(built, answers)
    assert replayed >= 4000, "only {0} requests replayed for {1}".format(replayed, output_api)
    assert not replay_disagreements, "{0} of {1} log lines:\n{2}".format(
        len(replay_disagreements), replayed, "\n".join(replay_disagreements[:30]))
    print("{0}: {1} cases, {2} requests judged by istiod, {3} log lines replayed".format(
        output_api, len(built), total, replayed))
    return total


def test_the_replay_evaluator_routes_every_translation_case_as_istiod_does(recorded):
    _run(recorded, "istio")


def test_the_replay_evaluator_routes_every_gateway_api_case_as_istiod_does(recorded):
    _run(recorded, "gateway-api")
