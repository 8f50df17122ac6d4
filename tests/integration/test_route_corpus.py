"""A generated corpus of Ingress sets, each translated and judged by istiod.

Hypothesis draws 2,000 Ingress sets (class nginx with regexes, rewrites, TLS redirects, canaries,
app-root and default backends; class istio with every path form Istio's Ingress support reads) and
a sample of requests for each. Every request must be judged the same way by:
- the in-repo evaluator (plugins/module_utils/gateway_routing.py) on the Istio objects, and
- Envoy's matching on the RouteConfiguration istiod generates from those objects, and from the
  Gateway API objects of the same translation;
and for class istio, the translation must route as istiod's own Ingress support routes the source.
The examples are derandomized: every run judges the same corpus.
"""

import functools
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

import route_oracle
from route_oracle import Request
from test_route_oracle import oracle_verdict, recorded_verdict

REPO = route_oracle.REPO
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "module_utils"))

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator  # noqa: E402
import route_cases  # noqa: E402
import route_evaluator  # noqa: E402

SETS = 2000
REQUESTS_PER_SET = 40
N = "nginx.ingress.kubernetes.io/"
HOSTS = ["a.example.com", "b.example.com", "*.example.com", None]
NGINX_PATHS = [("/", "Prefix"), ("/a", "Prefix"), ("/a/", "Prefix"), ("/a/b", "Prefix"), ("/ab", "Prefix"),
               ("/b", "Prefix"), ("/a", "Exact"), ("/a/b", "Exact"), ("/", "Exact"),
               ("/a", "ImplementationSpecific")]
NGINX_REGEX_PATHS = [("/a.*", "ImplementationSpecific"), ("/b/[0-9]+", "ImplementationSpecific"),
                     ("/a(/|$)(.*)", "ImplementationSpecific")]
ISTIO_PATHS = [(p, t) for p in ("/", "/a", "/a/", "/ab", "/b") for t in ("Prefix", "Exact")] + [
    (p, "ImplementationSpecific") for p in ("/a/*", "/a.*", "*", "/*", ".*", "/a", "/b/*", "")]
REQUEST_HOSTS = ["a.example.com", "b.example.com", "c.example.com", "other.org"]
REQUEST_PATHS = ["/", "/a", "/a/", "/a/b", "/A/b", "/ab", "/abc", "/b", "/b/7", "/x", "/app"]
HEADERS = [None, {"X-Canary": "always"}, {"X-Canary": "never"}, {"X-Canary": "beta"}]


def _backend(draw):
    return {"service": {"name": draw(st.sampled_from(["s1", "s2", "s3"])),
                        "port": {"number": draw(st.sampled_from([80, 8080]))}}}


@st.composite
def ingress_sets(draw):
    cls = draw(st.sampled_from(["nginx", "istio"]))
    ingresses = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        annotations = {}
        if cls == "nginx":
            if draw(st.integers(0, 4)) == 0:
                annotations[N + "use-regex"] = "true"
            if draw(st.integers(0, 6)) == 0:
                annotations[N + "rewrite-target"] = draw(st.sampled_from(["/", "/$2", "/new"]))
            if draw(st.integers(0, 6)) == 0:
                annotations[N + "ssl-redirect"] = "false"
            if draw(st.integers(0, 8)) == 0:
                annotations[N + "app-root"] = "/app"
        pool = NGINX_PATHS + (NGINX_REGEX_PATHS if annotations else []) if cls == "nginx" else ISTIO_PATHS
        rules, hosts = [], draw(st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2, unique=True))
        for host in hosts:
            paths = []
            for _number in range(draw(st.integers(min_value=1, max_value=3))):
                value, path_type = draw(st.sampled_from(pool))
                paths.append({"path": value, "pathType": path_type, "backend": _backend(draw)})
            rule = {"http": {"paths": paths}}
            if host:
                rule["host"] = host
            rules.append(rule)
        spec = {"ingressClassName": cls, "rules": rules}
        named = [h for h in hosts if h]
        if named and draw(st.booleans()):
            spec["tls"] = [{"hosts": named, "secretName": "cert-{0}".format(index)}]
        if draw(st.integers(0, 5)) == 0:
            spec["defaultBackend"] = _backend(draw)
        namespace = draw(st.sampled_from(["ns1", "ns2"]))
        created = "2024-01-0{0}T00:00:00Z".format(draw(st.integers(min_value=1, max_value=3)))
        ingresses.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                          "metadata": {"name": "i{0}".format(index), "namespace": namespace,
                                       "creationTimestamp": created, "annotations": annotations},
                          "spec": spec})
    if cls == "nginx" and draw(st.integers(0, 3)) == 0:
        # A canary on one of the stable paths.
        stable = ingresses[0]
        rule = stable["spec"]["rules"][0]
        entry = rule["http"]["paths"][0]
        annotations = {N + "canary": "true"}
        if draw(st.booleans()):
            annotations[N + "canary-weight"] = str(draw(st.sampled_from([0, 30, 100])))
        if draw(st.booleans()) or len(annotations) == 1:
            annotations[N + "canary-by-header"] = "X-Canary"
            if draw(st.booleans()):
                annotations[N + "canary-by-header-value"] = "beta"
        canary_backend = {"service": {"name": "canary", "port": {"number": 80}}}
        canary_rule = {"http": {"paths": [dict(entry, backend=canary_backend)]}}
        if "host" in rule:
            canary_rule["host"] = rule["host"]
        ingresses.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                          "metadata": {"name": "canary", "namespace": stable["metadata"]["namespace"],
                                       "creationTimestamp": "2024-01-04T00:00:00Z", "annotations": annotations},
                          "spec": {"ingressClassName": "nginx", "rules": [canary_rule]}})
    return cls, ingresses


SOURCE = "istiod's Ingress support"


def istio_ingress_merges_hosts(answer, index):
    """True where istiod's own Ingress support answers an HTTPS request with another host's routes.

    istiod binds each host's routes to the Gateway of the oldest Ingress that names the host, and
    a certificate's server takes, by intersection, the routes of `*` and of wildcards that cover
    its hosts, ahead of the host's own when their names sort first; or the certificate chosen by
    SNI belongs to an Ingress whose Gateway does not carry the host at all. The translation keeps
    each host on its own routes (docs/ingress-translation.md, "class istio over HTTPS").
    """
    request = answer.requests[index]
    if request.scheme != "https":
        return False
    domains, sources = answer.virtual_host_sources(index)
    if request.host not in domains:
        return True
    prefix = request.host.replace(".", "-") + "-"
    return any(not source.startswith(prefix) for source in sources if source)


def in_repo_verdict(resources, request):
    outcome = route_evaluator.evaluate(resources, request.host, request.path, headers=request.headers,
                                       scheme=request.scheme)
    return recorded_verdict({"verdict": route_cases.verdict_of(outcome)})


def _errors(result):
    return sum(1 for finding in result.findings if finding.severity == "error")


@functools.lru_cache(maxsize=1)
def draw_corpus():
    corpus = []

    @settings(max_examples=SETS, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(ingress_sets(), st.randoms(use_true_random=False))
    def collect(drawn, rng):
        cls, ingresses = drawn
        everything = [Request(h, p, s, hd) for h in REQUEST_HOSTS for p in REQUEST_PATHS
                      for s in ("http", "https") for hd in HEADERS]
        corpus.append((cls, ingresses, rng.sample(everything, REQUESTS_PER_SET)))

    collect()
    return corpus


def test_generated_corpus_routes_the_same_in_repo_and_through_istiod():
    corpus = draw_corpus()
    assert len(corpus) >= SETS
    cases, checks = [], []
    for number, (cls, ingresses, requests) in enumerate(corpus):
        istio_output = translator.translate(ingresses, None)
        if not any(r["kind"] == "Gateway" for r in istio_output.resources):
            continue  # nothing routable was produced (every path refused with an error)
        if any(f.code == "duplicate-nginx-location" for f in istio_output.findings):
            # ingress-nginx itself refuses this set (nginx -t); there is no routing to keep, and
            # the Gateway API cannot tell its Prefix /a/ from /a (test_nginx_oracle.py checks the refusal).
            continue
        expected = [in_repo_verdict(istio_output.resources, r) for r in requests]
        cases.append(route_oracle.case("istio-{0}".format(number), istio_output.resources, requests))
        checks.append(("istio objects", number, expected))
        api_output = translator.translate(ingresses, None, output_api="gateway-api")
        if _errors(api_output) == _errors(istio_output):
            cases.append(route_oracle.case("gateway-api-{0}".format(number), api_output.resources, requests))
            checks.append(("gateway api objects", number, expected))
        if cls == "istio" and not _errors(istio_output):
            cases.append(route_oracle.istio_ingress_case("source-{0}".format(number), ingresses, None, requests))
            checks.append((SOURCE, number, expected))
    assert len(cases) >= SETS * 2, "the corpus must put at least {0} translations through istiod".format(SETS * 2)
    answers = route_oracle.run(cases)
    failures, merged = [], 0
    for (what, number, expected), answer in zip(checks, answers):
        for index, request in enumerate(answer.requests):
            got = oracle_verdict(answer, index)
            if got == expected[index]:
                continue
            if what == SOURCE and istio_ingress_merges_hosts(answer, index):
                merged += 1  # a documented difference (docs/ingress-translation.md), counted below
                continue
            failures.append((what, number, request, expected[index], got))
    report = ["set {1} ({0}): {2}: in-repo {3}, istiod {4}\n  ingresses: {5}".format(
        what, number, request, expected, got, corpus[number][1]) for what, number, request, expected, got in failures[:8]]
    assert not failures, "{0} requests judged differently:\n{1}".format(len(failures), "\n".join(report))
    # Those differences need HTTPS on a host that several class istio Ingresses share, with a
    # wildcard among them; the generator draws that often (about 6 % of its requests), real
    # estates far less. The bound catches a classification that would hide everything.
    source_requests = sum(len(c["requests"]) for c in cases if c["id"].startswith("source-"))
    assert merged < source_requests // 10, "{0} of {1}".format(merged, source_requests)


def test_the_corpus_reaches_every_feature():
    """The generator is worth its time only if it draws what the translation handles."""
    corpus = draw_corpus()
    annotations = set()
    path_types = set()
    for _cls, ingresses, _requests in corpus:
        for ingress in ingresses:
            annotations.update(ingress["metadata"]["annotations"])
            for rule in ingress["spec"]["rules"]:
                path_types.update((ingress["spec"]["ingressClassName"], p["pathType"]) for p in rule["http"]["paths"])
    for key in ("use-regex", "rewrite-target", "ssl-redirect", "app-root", "canary", "canary-weight",
                "canary-by-header", "canary-by-header-value"):
        assert N + key in annotations, key
    assert {(c, t) for c in ("nginx", "istio") for t in ("Prefix", "Exact", "ImplementationSpecific")} <= path_types
