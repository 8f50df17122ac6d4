"""Routing proven on both sides: ingress-nginx's own code and a real nginx against istiod.

For every set of Ingresses the translation tests use (recorded as in test_route_oracle.py),
ingress-nginx's answer comes from its own controller (nginx_oracle.controller) and Debian's nginx
running the configuration it renders; Istio's answer
comes from the Envoy configuration istiod generates for the translation (route_oracle). The two
must agree on every request, for the Istio output and the Gateway API output, except where a
finding of the translation documents the difference (`known_difference`, the list in
docs/ingress-translation.md). Besides the recorded requests, every set gets the
requests nginx_oracle.requests_for probes its rules with. A set whose rendered configuration nginx
refuses must be flagged by the translation (`duplicate-nginx-location`), and no other set may be.
The generated corpus has a file of its own (test_nginx_corpus.py), so that the two run side by side.
"""

import collections
import json
import os
import random
import re
import sys

import nginx_oracle
import route_oracle
from route_oracle import Request, Verdict

REPO = route_oracle.REPO
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator  # noqa: E402

N = "nginx.ingress.kubernetes.io/"


def nginx_verdict(config, reply):
    """A reply of the derived nginx in the terms the Istio side is judged in."""
    if reply.status == 200 and reply.fields:
        upstream = reply.fields["upstream"]
        if upstream == nginx_oracle.DEFAULT_BACKEND:
            return Verdict("none")
        decision = reply.fields.get("decision") or "primary"
        primary = config.target(upstream)
        # The path and query the backend got (the echo server's $request_uri).
        path = reply.fields.get("uri")
        if decision == "canary":
            return Verdict("route", ((config.target(reply.fields["alternative"]), 100),), path=path)
        if decision == "weight":
            weight, total = (int(n) for n in reply.fields["weight"].split("/"))
            share = round(100.0 * weight / total)
            destinations = [(primary, 100 - share), (config.target(reply.fields["alternative"]), share)]
            return Verdict("route", tuple(sorted(d for d in destinations if d[1] > 0)), path=path)
        return Verdict("route", ((primary, 100),), path=path)
    if reply.status in (301, 302, 303, 307, 308):
        return Verdict("redirect", same_url(reply.location), reply.status)
    if reply.status == 404:
        return Verdict("none")
    return Verdict("refused", code=reply.status)


def same_url(location):
    """An absolute http(s) URL with an empty path gets `/`, the same resource (RFC 3986, 6.2.3)."""
    match = re.match(r"(https?://[^/?#]*)([?#].*)?$", location or "")
    return match.group(1) + "/" + (match.group(2) or "") if match else location


def istio_verdict(answer, index):
    outcome = answer.envoy(index)
    if outcome.kind == "route":
        return Verdict("route", tuple(sorted((route_oracle.cluster_target(c), w) for c, w in outcome.clusters)),
                       path=outcome.path)
    if outcome.kind == "redirect":
        return Verdict("redirect", same_url(outcome.location), outcome.code)
    if outcome.kind == "direct":
        # The translation's 404 for names deeper than an nginx wildcard: what a client of nginx got.
        return Verdict("none") if outcome.code == 404 else Verdict("refused", code=outcome.code)
    return Verdict("none")


def is_nginx_estate(inputs):
    if inputs is None or not inputs["ingresses"]:
        return False
    options = inputs["options"]
    if set(options) - {"include_classless", "classless_controller"}:
        return False  # translation options that describe another controller's behaviour
    return all(translator.ingress_class(i) == "nginx" for i in inputs["ingresses"])


def _ingress(name, host, paths, annotations=None, tls=False, created="2024-01-01T00:00:00Z"):
    spec = {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
        {"path": path, "pathType": path_type, "backend": {"service": {"name": service, "port": {"number": 80}}}}
        for path, path_type, service in paths]}}]}
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": name + "-tls"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "ns1", "creationTimestamp": created,
                         "annotations": dict((N + k, v) for k, v in (annotations or {}).items())}, "spec": spec}


def _snippet(text):
    return {"configuration-snippet": text}


def annotation_sets():
    """One small estate per annotation whose routing the translation keeps, beside what the
    recorded tests and the corpus use: the docs' annotation table points here."""
    web = [("/", "Prefix", "web"), ("/api", "Prefix", "api"), ("/exact/", "Exact", "api")]
    sets = {
        "ssl-redirect": [_ingress("s", "a.example.com", web, tls=True),
                         _ingress("off", "b.example.com", web, {"ssl-redirect": "false"}, tls=True)],
        "force-ssl-redirect": [_ingress("f", "a.example.com", web, {"force-ssl-redirect": "true"})],
        "preserve-trailing-slash": [_ingress("p", "a.example.com", web, {"preserve-trailing-slash": "true"}, tls=True)],
        "permanent-redirect": [_ingress("m", "a.example.com", web, {"permanent-redirect": "https://elsewhere.org/x"}),
                               _ingress("c", "b.example.com", web, {"permanent-redirect": "https://elsewhere.org/",
                                                                    "permanent-redirect-code": "308"})],
        "temporal-redirect": [_ingress("t", "a.example.com", web, {"temporal-redirect": "https://elsewhere.org/t"}),
                              _ingress("c", "b.example.com", web, {"temporal-redirect": "https://elsewhere.org/",
                                                                   "temporal-redirect-code": "307"})],
        "app-root": [_ingress("r", "a.example.com", web, {"app-root": "/app"})],
        "use-regex": [_ingress("x", "a.example.com", [("/api/v[0-9]+", "ImplementationSpecific", "api"),
                                                      ("/", "Prefix", "web")], {"use-regex": "true"})],
        "rewrite-target": [_ingress("w", "a.example.com", [("/api(/|$)(.*)", "ImplementationSpecific", "api"),
                                                           ("/", "Prefix", "web")], {"rewrite-target": "/$2"})],
        "from-to-www-redirect": [_ingress("www", "www.a.example.com", web, {"from-to-www-redirect": "true"})],
        "canary-weight": [_ingress("s", "a.example.com", web),
                          _ingress("k", "a.example.com", [("/", "Prefix", "web-v2")],
                                   {"canary": "true", "canary-weight": "30", "canary-weight-total": "200"},
                                   created="2024-02-01T00:00:00Z")],
        "canary-by-header": [_ingress("s", "a.example.com", web), _ingress("o", "b.example.com", [("/", "Prefix", "web")]),
                             _ingress("k", "a.example.com", [("/", "Prefix", "web-v2")],
                                      {"canary": "true", "canary-by-header": "X-Beta", "canary-by-header-value": "yes"},
                                      created="2024-02-01T00:00:00Z")],
        "server-alias": [
            _ingress("s", "a.example.com", web, {"server-alias": "alias.example.com, second.example.org"}),
            # Another Ingress's paths on the host are the alias's too; b.example.com is an Ingress
            # host, so not an alias; c's own aliases are dropped (s is older on a.example.com).
            _ingress("o", "a.example.com", [("/other", "Prefix", "other")], {"server-alias": "third.example.org"},
                     created="2024-02-01T00:00:00Z"),
            _ingress("b", "b.example.com", [("/", "Prefix", "api")], {"server-alias": "a.example.com,b2.example.com"},
                     tls=True),
            _ingress("k", "b.example.com", [("/", "Prefix", "api-v2")], {"canary": "true", "canary-weight": "100"},
                     created="2024-02-01T00:00:00Z")],
        "canary-by-header-pattern": [
            _ingress("s", "a.example.com", web), _ingress("s2", "b.example.com", [("/", "Prefix", "api")]),
            _ingress("k", "a.example.com", [("/", "Prefix", "web-v2")],
                     {"canary": "true", "canary-by-header": "X-Group", "canary-by-header-pattern": "^(alpha|beta)$"},
                     created="2024-02-01T00:00:00Z"),
            # Unanchored, and beside a weight: a value the pattern does not find goes by the weight.
            _ingress("k2", "b.example.com", [("/", "Prefix", "api-v2")],
                     {"canary": "true", "canary-by-header": "X-Team", "canary-by-header-pattern": "gam+a",
                      "canary-weight": "100"}, created="2024-02-01T00:00:00Z")],
        "canary-by-cookie": [
            _ingress("s", "a.example.com", web), _ingress("s2", "b.example.com", [("/", "Prefix", "api")]),
            _ingress("s3", "c.example.com", [("/", "Prefix", "other")]),
            _ingress("k", "a.example.com", [("/", "Prefix", "web-v2")],
                     {"canary": "true", "canary-by-cookie": "beta_user"}, created="2024-02-01T00:00:00Z"),
            # With a weight, `never` keeps the stable backend; a header without a value comes first.
            _ingress("k2", "b.example.com", [("/", "Prefix", "api-v2")],
                     {"canary": "true", "canary-by-cookie": "Beta_Tester2", "canary-by-header": "X-Beta",
                      "canary-weight": "100"}, created="2024-02-01T00:00:00Z"),
            _ingress("k3", "c.example.com", [("/", "Prefix", "other-v2")],
                     {"canary": "true", "canary-by-cookie": "c", "canary-by-header": "X_C",
                      "canary-by-header-value": "on", "canary-weight": "0"}, created="2024-02-01T00:00:00Z")],
    }
    estates = [({"ingresses": ingresses, "services": None, "options": {}}, [], name) for name, ingresses in sets.items()]
    # Snippets run only where the controller allows them, at the Critical risk level.
    estates.append(({"ingresses": [
        _ingress("d", "a.example.com", web, _snippet("return 403;")),
        _ingress("t", "t.example.com", web, _snippet("return 403;"), tls=True),
        _ingress("r", "b.example.com", web, _snippet("rewrite ^/old/(.*)$ /new/$1 break;")),
        _ingress("i", "i.example.com", web, _snippet("rewrite (?i)/Legacy/ /current/ break;")),
        _ingress("m", "c.example.com", web, _snippet("return 301 https://elsewhere.org/x;")),
        _ingress("o", "d.example.com", web, _snippet('return 200 "ok";')),
        _ingress("p", "e.example.com", web, _snippet("rewrite ^ https://new.example.org/ permanent;"))],
        "services": None, "options": {},
        "configmap": {"allow-snippet-annotations": "true", "annotations-risk-level": "Critical"}},
        [("b.example.com", "/old/x/y?q=1"), ("b.example.com", "/older"), ("i.example.com", "/app/legacy/a"),
         ("i.example.com", "/app/LEGACY/a"), ("i.example.com", "/other")], "configuration-snippet"))
    return estates


def groups_of(recorded):
    groups = collections.OrderedDict()
    for line in recorded:
        inputs = line["inputs"]
        if not is_nginx_estate(inputs):
            continue
        groups.setdefault(json.dumps(inputs, sort_keys=True), (inputs, []))[1].append(Request(**line["request"]))
    return list(groups.values())


def nginx_answers(groups):
    """[[Verdict per request] per group] from ingress-nginx's controller and a real nginx."""
    configs = nginx_oracle.controller([nginx_oracle.case("group-{0}".format(number), inputs["ingresses"],
                                                         inputs["services"] or (), configmap=inputs.get("configmap"))
                                       for number, (inputs, _requests) in enumerate(groups)])
    answers = []
    for config, (_inputs, requests) in zip(configs, groups):
        try:
            with nginx_oracle.Nginx(config) as nginx:
                answers.append([nginx_verdict(config, nginx.request(r.host, r.path, r.scheme, r.headers))
                                for r in requests])
        except nginx_oracle.NginxRefused as refused:
            answers.append(refused)
    return configs, answers


def _names_host(finding, host):
    """Whether a finding's `hosts` hold the host, or the wildcard that covers it."""
    names = [host] + (["*." + host.split(".", 1)[1]] if "." in host else [])
    return any(name in (finding.details.get("hosts") or ()) for name in names)


def _strip_slash(location):
    base, mark, query = (location or "").partition("?")
    if base.endswith("/") and base.count("/") > 3:
        base = base[:-1]
    return base + mark + query


def _nginx_names(host, ingresses):
    """Whether an Ingress rule names the host as ingress-nginx reads it (a wildcard: one label)."""
    for ingress in ingresses:
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            name = rule.get("host") or ""
            if name == host or (name.startswith("*.") and host.endswith(name[1:])
                                and "." not in host[:-len(name) + 1]):
                return True
    return False


def known_difference(inputs, request, expected, got, result):
    """The code of the translation's finding that documents this difference, or None. Only the
    differences docs/ingress-translation.md lists are known, each with its finding."""
    host = request.host.split(":")[0].lower()
    if request.scheme == "https" and got.kind == "none" and expected.kind != "none":
        # ingress-nginx answers HTTPS with its default certificate on hosts no tls entry names,
        # and on hosts no rule names (its catch-all server).
        unnamed = not _nginx_names(host, inputs["ingresses"])
        for finding in result.findings:
            if finding.code in ("https-default-certificate", "default-certificate-only") and (
                    _names_host(finding, host) or (unnamed and finding.details.get("host") == "*")):
                return finding.code
    if expected.kind == got.kind == "redirect" and expected.code == 302 and got.target == expected.target:
        # temporal-redirect-code is read from 1.12 on; the oracle is 1.11.
        if any(f.code == "temporal-redirect-code-since-1-12" for f in result.findings):
            return "temporal-redirect-code-since-1-12"
    for finding in result.findings:
        # A server-alias the gateway cannot serve (a server_name pattern): an error naming it.
        alias = finding.details.get("host") or ""
        if finding.code == "serving-would-change" and alias and (
                host == alias or (alias.startswith("*.") and host.endswith(alias[1:]))):
            return finding.code
        # Gateway API hostnames take any depth below a wildcard (the Istio output keeps one label).
        wildcard = finding.details.get("host") or ""
        if finding.code == "wildcard-depth" and host.endswith(wildcard[1:]) and "." in host[:-len(wildcard) + 1]:
            return finding.code
    if expected.kind == got.kind == "route" and expected.target == got.target and expected.path != got.path:
        # A regex rewrite the Gateway API cannot express: an error naming the host, the path kept.
        names = (host, "*." + host.split(".", 1)[1] if "." in host else host,
                 "*" if not _nginx_names(host, inputs["ingresses"]) else host)  # "*": the catch-all server
        for finding in result.findings:
            if finding.code == "rewrite-not-expressible" and finding.details.get("host") in names:
                return finding.code
    if expected.kind == got.kind == "redirect" and expected.code == got.code and expected.target != got.target \
            and _strip_slash(got.target) == expected.target:
        # ingress-nginx's HTTPS redirect drops a trailing slash; Envoy's keeps the path.
        if any(f.code == "https-redirect-keeps-trailing-slash" for f in result.findings):
            return "https-redirect-keeps-trailing-slash"
    return None


def differences(groups, output_apis, known=None):
    """{output API: [(inputs, request, ingress-nginx's verdict, istiod's, translation)]} of the
    requests where the two disagree and no finding documents it; `known` counts those that do."""
    configs, nginx = nginx_answers(groups)
    found = dict((api, []) for api in output_apis)
    for output_api in output_apis:
        cases, translations = [], []
        for number, (inputs, requests) in enumerate(groups):
            result = translator.translate(inputs["ingresses"], inputs["services"], output_api=output_api,
                                          **inputs["options"])
            translations.append(result)
            cases.append(route_oracle.case("group-{0}".format(number), result.resources, requests))
        istio = route_oracle.run(cases)
        for (inputs, requests), nginx_side, istio_side, result in zip(groups, nginx, istio, translations):
            flagged = any(f.code == "duplicate-nginx-location" for f in result.findings)
            if isinstance(nginx_side, nginx_oracle.NginxRefused) or flagged:
                # ingress-nginx cannot run this set; the translation must say so with an error.
                if not (isinstance(nginx_side, nginx_oracle.NginxRefused) and flagged):
                    refused = nginx_oracle.refusal(nginx_side) if not isinstance(nginx_side, list) else "loads"
                    found[output_api].append((inputs, None, "nginx: " + refused,
                                              "translation flags it: {0}".format(flagged), result))
                continue
            for index, request in enumerate(requests):
                expected, got = nginx_side[index], istio_verdict(istio_side, index)
                if expected == got:
                    continue
                code = known_difference(inputs, request, expected, got, result)
                if code is None:
                    found[output_api].append((inputs, request, expected, got, result))
                elif known is not None:
                    known[(output_api, code)] = known.get((output_api, code), 0) + 1
    return found


GENERATED_PER_SET = 48


def with_generated_requests(groups):
    """Each group's requests and up to GENERATED_PER_SET of those nginx_oracle.requests_for probes
    its rules with (a sample fixed by the group's place, so every run sends the same)."""
    extended = []
    for number, (inputs, requests) in enumerate(groups):
        seen = set(repr(r) for r in requests)
        more = [Request(host, path, scheme, headers)
                for host, path, scheme, headers in nginx_oracle.requests_for(inputs["ingresses"])]
        more = [r for r in more if repr(r) not in seen]
        if len(more) > GENERATED_PER_SET:
            more = random.Random(number).sample(more, GENERATED_PER_SET)
        extended.append((inputs, list(requests) + more))
    return extended


def check(found, name):
    report = ["{0} {1}: ingress-nginx {2}, istiod {3}".format(
        ",".join(i["metadata"]["name"] for i in inputs["ingresses"]), request, expected, got)
        for inputs, request, expected, got, _result in found]
    # The whole list, for a look after a failure (CI keeps tests/output).
    os.makedirs(os.path.join(REPO, "tests", "output"), exist_ok=True)
    with open(os.path.join(REPO, "tests", "output", "nginx-differences-{0}.txt".format(name)), "w") as handle:
        entries = [line + "\n  " + json.dumps(entry[0]["ingresses"]) for line, entry in zip(report, found)]
        handle.write("\n\n".join(entries) + "\n")
    assert not report, "{0} requests:\n{1}".format(len(report), "\n".join(report[:60]))


def annotations_in(groups):
    return set(key[len(N):] for inputs, _requests in groups for ingress in inputs["ingresses"]
               for key in (ingress["metadata"].get("annotations") or {}) if key.startswith(N))


def test_every_translation_test_routes_as_ingress_nginx_does(recorded):
    # The estates of the annotation table get every probing request.
    annotation_groups = [(inputs, [Request(*probe) for probe in nginx_oracle.requests_for(inputs["ingresses"])]
                          + [Request(*probe) for probe in extra])
                         for inputs, extra, _name in annotation_sets()]
    groups = with_generated_requests(groups_of(recorded)) + annotation_groups
    assert len(groups) > 200
    known = {}
    found = differences(groups, ["istio", "gateway-api"], known)
    print("known differences, with their findings:", sorted(known.items()))
    for output_api, listed in found.items():
        check(listed, "recorded-" + output_api)
    # The annotation table says which annotations this test proves the routing of: every one it
    # names must have been here.
    proven = documented_as_proven()
    assert proven and proven <= annotations_in(groups), sorted(proven - annotations_in(groups))


def documented_as_proven():
    """The annotations the decision table (ingress_annotation_decisions, rendered into
    docs/ingress-translation.md) says this test proves the routing of."""
    from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress_annotation_decisions as decisions
    return set(name for name, decision in decisions.DECISIONS.items() if decision.proof == decisions.NGINX_DIFFERENTIAL)
