"""Ingress -> Gateway + VirtualService: routing equivalence, rule by rule of the spec.

Each case states where ingress-nginx (class nginx) or Istio's Ingress support (class istio)
sends a request, and asserts that the generated objects, run through the route evaluator, send
it to the same place.
"""

import copy
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator
from ansible_collections.adoptmesh.istio.plugins.module_utils.gateway_routing import Request, Router
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import is_dns1123_label

from . import route_cases
from .route_evaluator import evaluate

N = "nginx.ingress.kubernetes.io/"


def backend(service, port=80):
    return {"service": {"name": service, "port": {"name": port} if isinstance(port, str) else {"number": port}}}


def path(value, service, port=80, path_type="Prefix"):
    entry = {"path": value, "backend": backend(service, port)}
    if path_type is not None:
        entry["pathType"] = path_type
    return entry


def rule(host, *paths):
    result = {"http": {"paths": list(paths)}}
    if host is not None:
        result["host"] = host
    return result


def ingress(name, *rules, namespace="shop", cls="nginx", annotations=None, tls=None, created="2024-01-01T00:00:00Z",
            default_backend=None, class_annotation=False):
    spec = {"rules": list(rules)}
    metadata = {"name": name, "namespace": namespace, "creationTimestamp": created, "annotations": dict(annotations or {})}
    if cls and class_annotation:
        metadata["annotations"][translator.CLASS_ANNOTATION] = cls
    elif cls:
        spec["ingressClassName"] = cls
    if tls is not None:
        spec["tls"] = tls
    if default_backend is not None:
        spec["defaultBackend"] = default_backend
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def service(name, namespace="shop", ports=(("http", 80),)):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"name": port_name, "port": number} for port_name, number in ports]}}


def translate(ingresses, services=None, **options):
    result = translator.translate(ingresses, services, **options)
    route_cases.remember_inputs(result, ingresses, services, options)
    return result


def where(result, host, request_path, scheme="http", headers=None):
    outcome = evaluate(result.resources, host, request_path, headers=headers, scheme=scheme)
    route_cases.record(result, host, request_path, scheme, headers, outcome)
    if outcome.kind == "route":
        return outcome.service
    if outcome.kind == "redirect":
        return "redirect " + outcome.location
    return None


def where_in(output_api, result, host, request_path, headers=None):
    """where() for either output: the Gateway API's through gateway_routing, which sorts rules as
    istiod does."""
    if output_api == "istio":
        return where(result, host, request_path, headers=headers)
    outcome = Router(result.resources).route(Request(host, request_path, headers=headers))
    return outcome.targets()[0] if outcome.kind == "route" else outcome.kind


def codes(result):
    return sorted((f.ref, f.severity, f.code) for f in result.findings)


def kinds(result):
    return [(r["kind"], r["metadata"]["name"]) for r in result.resources]


# --- rule 1: selection -----------------------------------------------------------------------

def test_rule1_selects_configured_classes_and_reports_every_skip():
    ingresses = [
        ingress("a", rule("a.example.com", path("/", "web")), cls="nginx"),
        ingress("b", rule("b.example.com", path("/", "web")), cls="traefik"),
        ingress("c", rule("c.example.com", path("/", "web")), cls=None),
        ingress("d", rule("d.example.com", path("/", "web")), cls="nginx", class_annotation=True),
    ]
    result = translate(ingresses, ingress_classes=["nginx"])
    assert sorted(result.by_ingress) == ["shop/a", "shop/d"]
    assert result.not_translated == [
        {"ingress": "shop/b", "reason": "class 'traefik' is not in ['nginx']"},
        {"ingress": "shop/c", "reason": "no ingress class (include_classless is false)"},
    ]
    assert where(translate(ingresses, include_classless=True), "c.example.com", "/") == "web.shop:80"


# --- rule 2: gateway servers -----------------------------------------------------------------

def test_rule2_one_https_server_per_secret_with_only_its_own_hosts():
    tls = [{"hosts": ["a.example.com"], "secretName": "a-cert"}, {"hosts": ["b.example.com"], "secretName": "b-cert"}]
    result = translate([ingress("web", rule("a.example.com", path("/", "a")), rule("b.example.com", path("/", "b")),
                                namespace="istio-ingress", tls=tls)])
    gateway = result.resources[0]
    servers = gateway["spec"]["servers"]
    assert [s["port"]["number"] for s in servers] == [80, 443, 443]
    assert [(s["tls"].get("credentialName"), s["hosts"]) for s in servers[1:]] == [
        ("a-cert", ["a.example.com"]), ("b-cert", ["b.example.com"])]
    assert len({s["port"]["name"] for s in servers}) == 3
    assert where(result, "a.example.com", "/", scheme="https") == "a.istio-ingress:80"


def test_rule2_tls_without_hosts_takes_the_rule_hosts_with_a_finding():
    result = translate([ingress("web", rule("a.example.com", path("/", "a")), tls=[{"secretName": "cert"}],
                                namespace="istio-ingress")])
    assert result.resources[0]["spec"]["servers"][1]["hosts"] == ["a.example.com"]
    assert ("istio-ingress/web", "warning", "tls-without-hosts") in codes(result)


def test_rule2_tls_without_secret_gets_no_https_server_but_the_redirect_and_an_error():
    # ingress-nginx serves such a host with its self-signed default certificate, and redirects to it.
    result = translate([ingress("web", rule("a.example.com", path("/", "a")), tls=[{"hosts": ["a.example.com"]}])])
    assert [s["port"]["number"] for s in result.resources[0]["spec"]["servers"]] == [80]
    assert ("shop/web", "warning", "tls-without-secret") in codes(result)
    assert ("shop/web", "error", "default-certificate-only") in codes(result)
    assert [f.details["hosts"] for f in result.findings if f.code == "default-certificate-only"] == [["a.example.com"]]
    assert where(result, "a.example.com", "/") == "redirect https://a.example.com/"


def test_rule2_unmatched_paths_of_a_tls_host_are_redirected_then_not_found():
    # ingress-nginx's default location `/` takes the annotations of the host's oldest Ingress, so
    # over HTTP it redirects to HTTPS like the routed paths do; over HTTPS it answers 404.
    tls = [{"hosts": ["a.example.com"], "secretName": "a"}]
    for output_api in ("istio", "gateway-api"):
        result = translate([ingress("web", rule("a.example.com", path("/api", "api")), tls=tls)], output_api=output_api)
        if output_api == "istio":
            assert where(result, "a.example.com", "/other") == "redirect https://a.example.com/other"
            assert where(result, "a.example.com", "/other", scheme="https") is None
            assert where(result, "a.example.com", "/api", scheme="https") == "api.shop:80"
        else:
            routes = [r for r in result.resources if r["kind"] == "HTTPRoute"]
            assert any(rule.get("filters") and rule["matches"][0]["path"]["value"] == "/" and "backendRefs" not in rule
                       for r in routes for rule in r["spec"]["rules"])
    result = translate([ingress("web", rule("a.example.com", path("/api", "api")), tls=tls,
                                annotations={N + "ssl-redirect": "false"})])
    assert where(result, "a.example.com", "/other") is None


def test_rule2_every_host_of_an_ingress_with_tls_is_redirected():
    result = translate([ingress("web", rule("a.example.com", path("/", "a")), rule("b.example.com", path("/", "b")),
                                tls=[{"hosts": ["a.example.com"], "secretName": "a"}])])
    assert where(result, "b.example.com", "/") == "redirect https://b.example.com/"
    assert ("shop/web", "error", "default-certificate-only") in codes(result)


# --- rule 3: secrets -----------------------------------------------------------------------------

def test_rule3_secret_in_another_namespace_is_reported_for_copying_under_a_collision_free_name():
    tls = [{"hosts": ["a.example.com"], "secretName": "tls"}]
    result = translate([ingress("x", rule("a.example.com", path("/", "a")), tls=tls, namespace="team-a"),
                        ingress("y", rule("b.example.com", path("/", "b")),
                                tls=[{"hosts": ["b.example.com"], "secretName": "tls"}], namespace="team-b")])
    copies = result.secrets_to_copy
    assert [(c["source_namespace"], c["source_name"]) for c in copies] == [("team-a", "tls"), ("team-b", "tls")]
    assert copies[0]["target_name"] != copies[1]["target_name"]
    credentials = [s["tls"]["credentialName"] for s in result.resources[0]["spec"]["servers"][1:]]
    assert sorted(credentials) == sorted(c["target_name"] for c in copies)


def test_rule3_never_points_at_a_missing_secret_silently():
    tls = [{"hosts": ["a.example.com"], "secretName": "gone"}]
    result = translate([ingress("x", rule("a.example.com", path("/", "a")), tls=tls)], known_secrets=set())
    assert ("shop/x", "error", "secret-not-found") in codes(result)
    assert [s["port"]["number"] for s in result.resources[0]["spec"]["servers"]] == [80]


# --- rule 4: one VirtualService per host ---------------------------------------------------------

def test_rule4_one_virtualservice_per_host_gathering_two_namespaces():
    result = translate([
        ingress("shop", rule("example.com", path("/shop", "web")), namespace="shop"),
        ingress("blog", rule("example.com", path("/blog", "blog", 8080)), namespace="blog"),
    ])
    services = [r for r in result.resources if r["kind"] == "VirtualService"]
    assert len(services) == 1 and services[0]["spec"]["hosts"] == ["example.com"]
    assert where(result, "example.com", "/shop/cart") == "web.shop:80"
    assert where(result, "example.com", "/blog") == "blog.blog:8080"
    destination = services[0]["spec"]["http"][0]["route"][0]["destination"]
    assert destination["host"].endswith(".svc.cluster.local") and isinstance(destination["port"]["number"], int)


# --- rules 5-8: matching and order -----------------------------------------------------------------

ORDER_CASES = [
    # (request path, expected service) under ingress-nginx semantics, no regex on the host
    ("/", "root.shop:80"), ("/other", "root.shop:80"),
    ("/api", "api.shop:80"), ("/api/", "api.shop:80"), ("/api/users", "api.shop:80"),
    ("/apix", "root.shop:80"),  # Prefix is per segment
    ("/API", "root.shop:80"),  # and case-sensitive
    ("/api/v1", "v1exact.shop:80"), ("/api/v1/", "v1.shop:80"), ("/api/v1/x", "v1.shop:80"),
]

# The same host once another Ingress on it sets use-regex: every path is `location ~* "^path"`,
# tried longest first.
REGEX_HOST_CASES = [
    ("/", "root.shop:80"), ("/other", "root.shop:80"),
    ("/api", "api.shop:80"), ("/api/users", "api.shop:80"),
    ("/apix", "api.shop:80"), ("/API/users", "api.shop:80"),  # not per segment, any case
    ("/api/v1", "v1exact.shop:80"), ("/api/v1/", "v1.shop:80"), ("/api/v1/x", "v1.shop:80"),
    ("/static/app.js", "static.shop:80"), ("/STATIC/app.js", "static.shop:80"),
]


def _order_ingresses():
    return [ingress("a", rule("example.com", path("/", "root"), path("/api", "api"), path("/api/v1/", "v1"),
                              path("/api/v1", "v1exact", path_type="Exact")))]


@pytest.mark.parametrize("request_path,expected", ORDER_CASES)
def test_rules5_to_7_order_and_prefix_segments(request_path, expected):
    assert where(translate(_order_ingresses()), "example.com", request_path) == expected


@pytest.mark.parametrize("request_path,expected", REGEX_HOST_CASES)
def test_rules5_to_7_order_on_a_host_with_a_regex(request_path, expected):
    result = translate(_order_ingresses() + [
        ingress("b", rule("example.com", path("/static/.+\\.js", "static", path_type="ImplementationSpecific")),
                annotations={N + "use-regex": "true"}, created="2024-01-02T00:00:00Z")])
    assert where(result, "example.com", request_path) == expected


def test_rule5_virtualservice_lists_literals_longest_first_exact_first_then_catch_all():
    result = translate([ingress("a", rule("example.com", path("/", "root"), path("/a", "a"), path("/a/b", "ab"),
                                          path("/a/b", "abx", path_type="Exact")))])
    http = [r for r in result.resources if r["kind"] == "VirtualService"][0]["spec"]["http"]
    services = [entry["route"][0]["destination"]["host"].split(".")[0] for entry in http]
    assert services == ["abx", "ab", "a", "root"]


def test_rule5_on_a_regex_host_every_path_is_a_regex_longest_first():
    result = translate([
        ingress("a", rule("example.com", path("/", "root"), path("/a", "a"), path("/a/b", "ab"),
                          path("/a/b", "abx", path_type="Exact"))),
        ingress("b", rule("example.com", path("/regex/.*", "re", path_type="ImplementationSpecific")),
                annotations={N + "use-regex": "true"})])
    http = [r for r in result.resources if r["kind"] == "VirtualService"][0]["spec"]["http"]
    services = [entry["route"][0]["destination"]["host"].split(".")[0] for entry in http]
    # Exact /a/b is `~* "^/a/b"`; beside it the Prefix /a/b is `/a/b/` alone (updateServerLocations),
    # `~* "^/a/b/"`, tried first. Checked against ingress-nginx and nginx: /a/b and /A/Bc go to abx.
    assert services == ["re", "ab", "abx", "a", "root"]
    assert where(result, "example.com", "/a/b") == "abx.shop:80"
    assert where(result, "example.com", "/A/Bc") == "abx.shop:80"
    assert where(result, "example.com", "/a/b/c") == "ab.shop:80"


def test_rule6_exact_keeps_the_trailing_slash_significant():
    result = translate([ingress("a", rule("example.com", path("/foo/", "slash", path_type="Exact")))])
    assert where(result, "example.com", "/foo/") == "slash.shop:80"
    # nginx answers a path one `/` short of a proxy_pass location itself: 301 to the location.
    assert where(result, "example.com", "/foo") == "redirect http://example.com/foo/"
    assert where(result, "example.com", "/foo/x") is None


def test_rule7_prefix_with_trailing_slash_serves_below_it_and_redirects_to_it():
    # ingress-nginx renders Prefix /foo/ as `location /foo/` and `location = /foo/`; for /foo nginx
    # answers 301 to /foo/, unless a location /foo exists.
    result = translate([ingress("a", rule("example.com", path("/foo/", "foo")))])
    assert where(result, "example.com", "/foo") == "redirect http://example.com/foo/"
    assert where(result, "example.com", "/foo/") == "foo.shop:80"
    assert where(result, "example.com", "/foo/bar") == "foo.shop:80"
    assert where(result, "example.com", "/foobar") is None
    result = translate([ingress("a", rule("example.com", path("/foo/", "foo"), path("/foo", "exact", path_type="Exact")))])
    assert where(result, "example.com", "/foo") == "exact.shop:80"


def test_rule7_implementation_specific_is_prefix_so_the_same_path_is_a_conflict():
    # ingress-nginx reads ImplementationSpecific as Prefix (SetDefaultNGINXPathType): the older path wins.
    result = translate([ingress("a", rule("example.com", path("/foo", "first", path_type="ImplementationSpecific"),
                                          path("/foo", "second")))])
    assert where(result, "example.com", "/foo/x") == "first.shop:80"
    assert where(result, "example.com", "/foobar") is None


@pytest.mark.parametrize("ingress_path,request_path,expected", [
    ("/*", "/anything", "svc.shop:80"), ("", "/anything", "svc.shop:80"), (".*", "/x", "svc.shop:80"),
    # istiod turns `/api/*` and `/api.*` into the prefix /api, which it matches per path segment.
    ("/api/*", "/api/x", "svc.shop:80"), ("/api/*", "/api", "svc.shop:80"), ("/api/*", "/apix", None),
    ("/api.*", "/api/x", "svc.shop:80"), ("/api.*", "/apix", None), ("/exact", "/exact", "svc.shop:80"), ("/exact", "/exact/x", None),
])
def test_rule8_istio_class_implementation_specific_paths(ingress_path, request_path, expected):
    result = translate([ingress("a", rule("example.com", path(ingress_path, "svc", path_type="ImplementationSpecific")),
                                cls="istio")])
    assert where(result, "example.com", request_path) == expected


def test_class_istio_orders_routes_by_the_length_of_istios_match_string():
    # istiod ranks Prefix /ab/ (4 characters) above Exact /ab (3): /ab goes to the prefix's backend.
    result = translate([ingress("a", rule("example.com", path("/ab", "exact", path_type="Exact"),
                                          path("/ab/", "prefix", path_type="Prefix")), cls="istio")])
    assert where(result, "example.com", "/ab") == "prefix.shop:80"
    # Prefix / (1 character) comes before a match-everything `*` (none), whichever is older.
    result = translate([ingress("a", rule("example.com", path("*", "star", path_type="ImplementationSpecific"),
                                          path("/", "root", path_type="Prefix")), cls="istio")])
    assert where(result, "example.com", "/x") == "root.shop:80"


def test_class_istio_ignores_nginx_annotations_tls_redirects_and_default_backends():
    tls = [{"hosts": ["a.com"], "secretName": "cert"}]
    result = translate([ingress("a", rule("a.com", path("/", "web")), cls="istio", tls=tls,
                                annotations={N + "force-ssl-redirect": "true", N + "rewrite-target": "/x"},
                                default_backend=backend("fallback"))])
    assert where(result, "a.com", "/page") == "web.shop:80"  # plain HTTP is served, not redirected
    assert evaluate(result.resources, "a.com", "/page").path == "/page"
    assert where(result, "elsewhere.com", "/") is None
    assert ("shop/a", "info", "annotations-ignored-by-class") in codes(result)
    assert ("shop/a", "info", "default-backend-ignored") in codes(result)


def test_rule8_nginx_implementation_specific_is_prefix_and_missing_path_type_is_reported():
    result = translate([ingress("a", rule("example.com", path("/foo", "svc", path_type=None)))])
    assert where(result, "example.com", "/foo/x") == "svc.shop:80"
    assert where(result, "example.com", "/foox") is None
    assert ("shop/a", "warning", "path-type-missing") in codes(result)


def test_rule8_a_regex_that_does_not_compile_is_an_error():
    result = translate([ingress("a", rule("example.com", path("/(unclosed", "svc", path_type="ImplementationSpecific")),
                                annotations={N + "use-regex": "true"})])
    assert ("shop/a", "error", "invalid-regex") in codes(result)


# --- rule 9: backends --------------------------------------------------------------------------------

def test_rule9_named_ports_resolve_through_the_service():
    result = translate([ingress("a", rule("example.com", path("/", "web", "http")))],
                       [service("web", ports=(("http", 8080), ("metrics", 9090)))])
    assert where(result, "example.com", "/") == "web.shop:8080"


@pytest.mark.parametrize("backend_spec,code", [
    (backend("missing", 80), "service-not-found"),
    (backend("web", "nope"), "named-port-unresolved"),
    ({"resource": {"kind": "StorageBucket", "name": "b"}}, "resource-backend-unsupported"),
])
def test_rule9_unroutable_backends_are_errors_naming_ingress_and_path(backend_spec, code):
    bad = ingress("a", rule("example.com", {"path": "/x", "pathType": "Prefix", "backend": backend_spec}))
    result = translate([bad], [service("web")])
    [finding] = [f for f in result.findings if f.code == code]
    assert finding.severity == "error" and finding.ref == "shop/a"
    assert "spec.rules[0].http.paths[0].backend" in finding.message


# --- rule 10: default backends ----------------------------------------------------------------------------

def test_rule10_default_backend_serves_the_unmatched_paths_of_its_own_hosts_only():
    # ingress-nginx (createServers): an Ingress with rules puts its defaultBackend at `/` of the
    # hosts it is the oldest Ingress on; unknown hosts still get the controller's 404.
    result = translate([ingress("a", rule("example.com", path("/app", "app")), default_backend=backend("fallback"))])
    assert where(result, "example.com", "/other") == "fallback.shop:80"
    assert where(result, "example.com", "/app") == "app.shop:80"
    assert where(result, "unknown.example.org", "/x") is None
    # Not on a host an older Ingress brought, and any Ingress's path / replaces it.
    result = translate([ingress("old", rule("example.com", path("/x", "x")), created="2024-01-01T00:00:00Z"),
                        ingress("new", rule("example.com", path("/app", "app")), rule("new.com", path("/app", "app")),
                                default_backend=backend("fallback"), created="2024-02-01T00:00:00Z"),
                        ingress("root", rule("new.com", path("/", "root")), created="2024-03-01T00:00:00Z")])
    assert where(result, "example.com", "/other") is None
    assert where(result, "new.com", "/other") == "root.shop:80"


def test_rule10_default_backend_without_rules_serves_unknown_hosts_and_the_oldest_wins():
    result = translate([
        ingress("new", default_backend=backend("new-default"), created="2024-02-01T00:00:00Z"),
        ingress("old", default_backend=backend("old-default"), created="2024-01-01T00:00:00Z"),
        ingress("web", rule("b.com", path("/b", "b")), created="2024-01-01T00:00:00Z"),
    ])
    assert where(result, "elsewhere.com", "/") == "old-default.shop:80"
    assert where(result, "b.com", "/other") is None
    assert ("shop/new", "warning", "default-backend-conflict") in codes(result)


# --- rules 11-12 ----------------------------------------------------------------------------------------------

def test_rule11_rules_without_http_are_skipped_with_a_finding():
    result = translate([ingress("a", {"host": "empty.com"}, rule("a.com", path("/", "a")))])
    assert ("shop/a", "info", "rule-without-http") in codes(result)
    assert where(result, "a.com", "/") == "a.shop:80"


def test_rule12_conflicts_go_to_the_oldest_ingress_never_a_split():
    result = translate([
        ingress("younger", rule("a.com", path("/", "young")), created="2024-03-01T00:00:00Z"),
        ingress("older", rule("a.com", path("/", "old")), created="2024-01-01T00:00:00Z"),
    ])
    assert where(result, "a.com", "/") == "old.shop:80"
    http = [r for r in result.resources if r["kind"] == "VirtualService"][0]["spec"]["http"]
    assert len(http) == 1 and len(http[0]["route"]) == 1
    assert ("shop/younger", "warning", "route-conflict") in codes(result)


def test_rule12_same_age_breaks_ties_by_namespace_and_name_last_first():
    # ingress-nginx's sortIngressSlice orders Ingresses created at the same second by
    # "namespace/name" descending, so "shop/b" is read before "shop/a" and its path wins.
    result = translate([ingress("a", rule("a.com", path("/", "from-a"))), ingress("b", rule("a.com", path("/", "from-b")))])
    assert where(result, "a.com", "/") == "from-b.shop:80"
    result = translate([ingress("ab", rule("a.com", path("/", "from-ab"))), ingress("a", rule("a.com", path("/", "from-a")))])
    assert where(result, "a.com", "/") == "from-ab.shop:80"


# --- rule 13: names ---------------------------------------------------------------------------------------------

def test_rule13_names_are_valid_distinct_and_stable():
    hosts = ["*.example.com", "example.com", "a-b.com", "a.b.com"]
    result = translate([ingress("a", *[rule(h, path("/", "svc")) for h in hosts])])
    names = [r["metadata"]["name"] for r in result.resources if r["kind"] == "VirtualService"]
    assert len(set(names)) == 4 and all(is_dns1123_label(n) for n in names)
    assert any(n.startswith("wildcard-example-com-") for n in names)
    again = translate([ingress("a", *[rule(h, path("/", "svc")) for h in reversed(hosts)])])
    assert json.dumps(again.resources, sort_keys=False) == json.dumps(result.resources, sort_keys=False)


def test_wildcard_and_apex_hosts_route_separately():
    result = translate([ingress("a", rule("*.example.com", path("/", "wild")), rule("example.com", path("/", "apex")))])
    assert where(result, "shop.example.com", "/") == "wild.shop:80"
    assert where(result, "example.com", "/") == "apex.shop:80"


# --- rule 14: ingress-nginx annotations ----------------------------------------------------------------------------

def test_ssl_redirect_on_every_route_answers_308_as_ingress_nginx_does():
    result = translate([ingress("a", rule("a.com", path("/", "a")), tls=[{"hosts": ["a.com"], "secretName": "c"}],
                                namespace="istio-ingress")])
    # Not the server's httpsRedirect: Istio answers that with 301.
    assert "tls" not in result.resources[0]["spec"]["servers"][0]
    assert where(result, "a.com", "/x") == "redirect https://a.com/x"
    assert evaluate(result.resources, "a.com", "/x").code == 308
    assert where(result, "a.com", "/x", scheme="https") == "a.istio-ingress:80"


def test_ssl_redirect_mix_redirects_per_route_on_plain_http_only():
    result = translate([
        ingress("secure", rule("a.com", path("/", "a")), tls=[{"hosts": ["a.com"], "secretName": "c"}],
                namespace="istio-ingress"),
        ingress("plain", rule("b.com", path("/", "b")), namespace="istio-ingress"),
    ])
    assert "tls" not in result.resources[0]["spec"]["servers"][0]
    assert where(result, "a.com", "/x") == "redirect https://a.com/x"
    assert where(result, "a.com", "/x", scheme="https") == "a.istio-ingress:80"
    assert where(result, "b.com", "/x") == "b.istio-ingress:80"


@pytest.mark.parametrize("annotations,has_tls,redirects", [
    ({N + "ssl-redirect": "false"}, True, False),
    ({N + "force-ssl-redirect": "true"}, False, True),
    ({}, False, False),
])
def test_ssl_redirect_switches(annotations, has_tls, redirects):
    tls = [{"hosts": ["a.com"], "secretName": "c"}] if has_tls else None
    result = translate([ingress("a", rule("a.com", path("/", "a")), tls=tls, annotations=annotations,
                                namespace="istio-ingress")])
    assert (where(result, "a.com", "/") == "redirect https://a.com/") is redirects


def test_rewrite_target_replaces_the_whole_path():
    result = translate([ingress("a", rule("a.com", path("/old", "svc")), annotations={N + "rewrite-target": "/"})])
    outcome = evaluate(result.resources, "a.com", "/old/page")
    assert outcome.service == "svc.shop:80" and outcome.path == "/"


def test_rewrite_target_with_regex_captures():
    result = translate([ingress("a", rule("a.com", path("/api(/|$)(.*)", "svc", path_type="ImplementationSpecific")),
                                annotations={N + "rewrite-target": "/$2", N + "use-regex": "true"})])
    assert evaluate(result.resources, "a.com", "/api/users/7").path == "/users/7"
    assert evaluate(result.resources, "a.com", "/API").path == "/"
    entry = evaluate(result.resources, "a.com", "/api/x").entry
    assert "uriRegexRewrite" in entry["rewrite"] and "uri" not in entry["rewrite"]


def test_rewrite_target_alone_makes_the_path_a_regex_with_captures():
    # ingress-nginx renders `location ~* "^/api(/|$)(.*)"` for a rewrite-target even without use-regex.
    result = translate([ingress("a", rule("a.com", path("/api(/|$)(.*)", "svc", path_type="ImplementationSpecific")),
                                annotations={N + "rewrite-target": "/$2"})])
    assert evaluate(result.resources, "a.com", "/API/users").path == "/users"
    # A group the regex does not have is empty, as nginx substitutes it.
    result = translate([ingress("a", rule("a.com", path("/api", "svc")), annotations={N + "rewrite-target": "/x$1"})])
    assert evaluate(result.resources, "a.com", "/api/users").path == "/x"


def test_use_regex_on_one_ingress_makes_every_path_of_the_host_a_case_insensitive_regex():
    plain = ingress("plain", rule("a.com", path("/static", "static"), path("/exact", "exact", path_type="Exact")),
                    created="2024-01-01T00:00:00Z")
    regex = ingress("regex", rule("a.com", path("/api/v[0-9]+", "api", path_type="ImplementationSpecific")),
                    annotations={N + "use-regex": "true"}, created="2024-02-01T00:00:00Z")
    other = ingress("other", rule("b.com", path("/static", "b-static")), created="2024-01-01T00:00:00Z")
    result = translate([plain, regex, other])
    # `~* "^/static"`: any case, and not per path segment.
    assert where(result, "a.com", "/STATIC/app.js") == "static.shop:80"
    assert where(result, "a.com", "/staticfiles") == "static.shop:80"
    # Exact becomes `~* "^/exact"` too.
    assert where(result, "a.com", "/exact/more") == "exact.shop:80"
    assert where(result, "a.com", "/API/V2") == "api.shop:80"
    # Another host keeps literal, case-sensitive, per-segment prefixes.
    assert where(result, "b.com", "/STATIC") is None
    assert where(result, "b.com", "/staticfiles") is None


def test_exact_root_on_a_regex_host_is_never_matched_as_ingress_nginx_renders_it_behind_the_default_root():
    # buildLocation renders Exact / as `~* "^/"` once the host is in regex mode, after the host's
    # own `/` location (the default backend, or a Prefix /), which nginx tries first.
    exact = ingress("exact", rule("a.com", path("/", "exact", path_type="Exact")), created="2024-01-02T00:00:00Z")
    regex = ingress("regex", rule("a.com", path("/api/v[0-9]+", "api", path_type="ImplementationSpecific")),
                    annotations={N + "use-regex": "true"})
    result = translate([exact, regex])
    assert where(result, "a.com", "/") is None
    assert where(result, "a.com", "/other") is None
    assert where(result, "a.com", "/api/v2") == "api.shop:80"
    assert ("shop/exact", "warning", "exact-root-never-matched") in codes(result)
    root = ingress("root", rule("a.com", path("/", "root")), created="2024-01-03T00:00:00Z")
    assert where(translate([exact, regex, root]), "a.com", "/") == "root.shop:80"
    # Without regex mode it is `location = /`.
    assert where(translate([exact, root]), "a.com", "/") == "exact.shop:80"


def test_a_host_is_in_regex_mode_only_through_a_location_ingress_nginx_keeps():
    # enforceRegexModifier reads the server's locations: a use-regex Ingress whose only path on the
    # host repeats an older Ingress's path adds no location there, so the host stays literal.
    plain = ingress("plain", rule("b.com", path("/a/", "plain")))
    regex = ingress("regex", rule("b.com", path("/a/", "dup")), rule("c.com", path("/a/", "re")),
                    annotations={N + "use-regex": "true"}, created="2024-01-02T00:00:00Z")
    result = translate([plain, regex])
    assert where(result, "b.com", "/A/") is None
    assert where(result, "b.com", "/a/x") == "plain.shop:80"
    assert where(result, "c.com", "/A/x") == "re.shop:80"
    # The host's own `/` has the annotations of its oldest Ingress: with use-regex there, the host
    # is in regex mode though that Ingress has no path on it.
    older = ingress("regex", rule("b.com"), annotations={N + "use-regex": "true"}, created="2023-12-01T00:00:00Z")
    assert where(translate([plain, older]), "b.com", "/A/x") == "plain.shop:80"
    # A rewrite-target equal to the path rewrites nothing (needsRewrite) and enforces no regex.
    same = ingress("same", rule("d.com", path("/", "root")), annotations={N + "rewrite-target": "/"})
    assert where(translate([same, ingress("x", rule("d.com", path("/x", "x")))]), "d.com", "/X") == "root.shop:80"
    assert where(translate([same, ingress("x", rule("d.com", path("/x", "x")))]), "d.com", "/xy") == "root.shop:80"


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
@pytest.mark.parametrize("first,request_path,expected", [
    ("exact", "/a/", "exact"), ("exact", "/a/x", "exact"), ("exact", "/a", "exact"), ("exact", "/AX", "exact"),
    ("prefix", "/a/", "prefix"), ("prefix", "/a/x", "prefix"), ("prefix", "/a", "exact"), ("prefix", "/AX", "exact"),
])
def test_on_a_regex_host_a_prefix_beside_an_exact_of_its_path_is_its_path_with_a_slash_in_the_place_of_its_path(
        first, request_path, expected, output_api):
    # updateServerLocations makes Prefix /a `/a/` alone beside an Exact /a, after the locations
    # were sorted: `~* "^/a/"` keeps the place of /a, and of the two the one added first is tried
    # first (both orders checked against ingress-nginx and nginx).
    paths = [path("/a", "exact", path_type="Exact"), path("/a", "prefix")]
    plain = ingress("plain", rule("a.com", *(paths if first == "exact" else paths[::-1])),
                    created="2024-01-02T00:00:00Z")
    regex = ingress("re", rule("a.com", path("/ab", "ab")), annotations={N + "use-regex": "true"})
    # istiod sorts Gateway API regex rules by the regex's length: the output keeps nginx's order anyway.
    result = translate([regex, plain], output_api=output_api)
    assert where_in(output_api, result, "a.com", request_path) == expected + ".shop:80"


def test_the_https_redirect_of_a_host_s_own_root_is_reported_as_keeping_the_trailing_slash():
    # The only path (Exact / in regex mode) is never chosen, so every request takes the host's own
    # `/`, which redirects to HTTPS and drops a trailing slash in ingress-nginx.
    only = ingress("only", rule("a.com", path("/", "root", path_type="Exact")), annotations={N + "use-regex": "true"},
                   tls=[{"hosts": ["a.com"], "secretName": "a-tls"}])
    result = translate([only])
    assert where(result, "a.com", "/a/") == "redirect https://a.com/a/"
    assert ("shop/only", "info", "https-redirect-keeps-trailing-slash") in codes(result)


def test_regex_paths_are_tried_longest_first_then_in_reverse_order():
    result = translate([ingress("a", rule("a.com", path("/a.*", "short", path_type="ImplementationSpecific"),
                                          path("/ab.*", "long", path_type="ImplementationSpecific"),
                                          path("/b.*", "b", path_type="ImplementationSpecific"),
                                          path("/a/.", "a-slash", path_type="ImplementationSpecific")),
                                annotations={N + "use-regex": "true"})])
    assert where(result, "a.com", "/abc") == "long.shop:80"
    # `/a/.` and `/ab.*` have the same length: the later in reverse order (`/ab.*` > `/a/.`) is first.
    assert where(result, "a.com", "/a/x") == "a-slash.shop:80"
    assert where(result, "a.com", "/ax") == "short.shop:80"


def test_app_root_redirects_only_the_exact_root():
    result = translate([ingress("a", rule("a.com", path("/", "svc")), annotations={N + "app-root": "/app"})])
    assert where(result, "a.com", "/") == "redirect http://a.com/app"
    assert where(result, "a.com", "/other") == "svc.shop:80"


def test_app_root_redirects_the_root_of_every_host_where_its_ingress_keeps_a_location():
    # nginx.tmpl renders a location's app-root as a server-level `if ($uri = /) { return 302 }`
    # ahead of the location block: `/` is redirected whichever location would serve it, on every
    # host where the Ingress keeps a location (checked against ingress-nginx and nginx).
    app = ingress("app", rule("a.com", path("/a", "a", path_type="Exact")), annotations={N + "app-root": "/app"},
                  created="2024-01-02T00:00:00Z")
    root = ingress("root", rule("a.com", path("/", "root")))
    assert where(translate([root, app]), "a.com", "/") == "redirect http://a.com/app"
    app_root = ingress("app", rule("b.com", path("/", "app")), annotations={N + "app-root": "/app"})
    exact = ingress("exact", rule("b.com", path("/", "exact", path_type="Exact")), created="2024-01-02T00:00:00Z")
    assert where(translate([app_root, exact]), "b.com", "/") == "redirect http://b.com/app"
    assert where(translate([app_root, exact]), "b.com", "/x") == "app.shop:80"
    # An Ingress whose every path on the host repeats an older one's keeps no location there.
    first = ingress("first", rule("c.com", path("/a", "first", path_type="Exact")))
    repeat = ingress("repeat", rule("c.com", path("/a", "repeat", path_type="Exact")), annotations={N + "app-root": "/app"},
                     created="2024-01-02T00:00:00Z")
    assert where(translate([first, repeat]), "c.com", "/") is None
    # The host's own `/` has the annotations of its oldest Ingress, though that one has no path there.
    owner = ingress("owner", rule("d.com"), annotations={N + "app-root": "/app"})
    other = ingress("other", rule("d.com", path("/b", "b")), created="2024-01-02T00:00:00Z")
    assert where(translate([owner, other]), "d.com", "/") == "redirect http://d.com/app"


def test_a_canary_takes_a_host_s_own_root_that_proxies_to_its_stable_upstream():
    # Checked against ingress-nginx and nginx. A defaultBackend on the same Service port is the
    # same upstream, so balancer.lua steers it too.
    beta = BETA
    own = ingress("own", rule("a.com", path("/x", "api")),
                  default_backend={"service": {"name": "web", "port": {"number": 80}}})
    stable = ingress("stable", rule("b.com", path("/", "web")))
    canary = ingress("canary", rule("b.com", path("/", "web-v2")), annotations=beta, created="2024-02-01T00:00:00Z")
    result = translate([own, stable, canary])
    assert where(result, "a.com", "/other", headers={"X-Beta": "always"}) == "web-v2.shop:80"
    assert where(result, "a.com", "/other") == "web.shop:80"


BETA = {N + "canary": "true", N + "canary-by-header": "X-Beta"}


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_on_a_regex_host_a_canary_header_route_sits_just_before_its_stable_location(output_api):
    # Exact /a/b (`^/a/b`) is still tried before `^/a.*`, which sorts after it (checked against nginx).
    beta = BETA
    regex = ingress("re", rule("c.com", path("/a.*", "s1", path_type="ImplementationSpecific"),
                               path("/a/b", "s2", path_type="Exact")), annotations={N + "rewrite-target": "/"})
    canary = ingress("canary", rule("c.com", path("/a.*", "c2", path_type="ImplementationSpecific")), annotations=beta,
                     created="2024-02-01T00:00:00Z")
    result = translate([regex, canary], output_api=output_api)
    assert where_in(output_api, result, "c.com", "/A/B", headers={"X-Beta": "always"}) == "s2.shop:80"
    assert where_in(output_api, result, "c.com", "/a/x", headers={"X-Beta": "always"}) == "c2.shop:80"


def test_app_root_answers_the_root_before_a_canary_header_route():
    beta = BETA
    app = ingress("app", rule("d.com", path("/", "d1", path_type="Exact")), annotations={N + "app-root": "/app"})
    canary = ingress("canary", rule("d.com", path("/", "c3", path_type="Exact")), annotations=beta,
                     created="2024-02-01T00:00:00Z")
    assert where(translate([app, canary]), "d.com", "/", headers={"X-Beta": "always"}) == "redirect http://d.com/app"


def test_canary_weight_splits_the_stable_route():
    stable = ingress("stable", rule("a.com", path("/", "v1")))
    canary = ingress("canary", rule("a.com", path("/", "v2")), annotations={N + "canary": "true", N + "canary-weight": "20"},
                     created="2024-02-01T00:00:00Z")
    result = translate([canary, stable])
    route = evaluate(result.resources, "a.com", "/")
    assert [(d[0].split(".")[0], d[2]) for d in route.destinations] == [("v1", 80), ("v2", 20)]
    assert not [f for f in result.findings if f.code == "route-conflict"]


@pytest.mark.parametrize("weight,total,shares", [("1", "4", [99, 1]), ("50", "200", [75, 25]), ("30", None, [70, 30])])
def test_canary_weight_total(weight, total, shares):
    """balancer.lua draws out of canary-weight-total only above 100 (the nginx oracle showed 1 of 4
    to be 1 %, not 25 %)."""
    annotations = {N + "canary": "true", N + "canary-weight": weight}
    if total:
        annotations[N + "canary-weight-total"] = total
    result = translate([ingress("stable", rule("a.com", path("/", "v1"))),
                        ingress("canary", rule("a.com", path("/", "v2")), created="2024-02-01T00:00:00Z",
                                annotations=annotations)])
    assert where(result, "a.com", "/") == ("v1.shop:80" if shares[0] > 50 else "v2.shop:80")
    assert [d[2] for d in evaluate(result.resources, "a.com", "/").destinations] == shares


@pytest.mark.parametrize("value,header_value,expected", [(None, "always", "v2.shop:80"), (None, "never", "v1.shop:80"),
                                                         ("beta", "beta", "v2.shop:80"), ("beta", "other", "v1.shop:80")])
def test_canary_by_header_routes_before_the_stable_route(value, header_value, expected):
    annotations = {N + "canary": "true", N + "canary-by-header": "X-Canary"}
    if value:
        annotations[N + "canary-by-header-value"] = value
    result = translate([ingress("stable", rule("a.com", path("/", "v1"))),
                        ingress("canary", rule("a.com", path("/", "v2")), annotations=annotations,
                                created="2024-02-01T00:00:00Z")])
    assert where(result, "a.com", "/", headers={"X-Canary": header_value}) == expected
    assert where(result, "a.com", "/") == "v1.shop:80"


@pytest.mark.parametrize("header_value,expected", [("never", "v1.shop:80"), ("always", "v2.shop:80"),
                                                   ("other", "v2.shop:80"), (None, "v2.shop:80")])
def test_canary_by_header_never_wins_over_the_weight(header_value, expected):
    annotations = {N + "canary": "true", N + "canary-by-header": "X-Canary", N + "canary-weight": "100"}
    result = translate([ingress("stable", rule("a.com", path("/", "v1"))),
                        ingress("canary", rule("a.com", path("/", "v2")), annotations=annotations,
                                created="2024-02-01T00:00:00Z")])
    headers = {"X-Canary": header_value} if header_value else None
    assert where(result, "a.com", "/", headers=headers) == expected


def test_an_nginx_wildcard_host_takes_one_label_and_deeper_names_reach_the_catch_all():
    """ingress-nginx's server_name for *.example.com is a one-label regex: a.b.example.com goes to
    the catch-all server (the nginx oracle shows it); Istio's wildcard takes any depth."""
    wild = ingress("wild", rule("*.example.com", path("/", "wild")))
    assert where(translate([wild]), "a.example.com", "/x") == "wild.shop:80"
    assert where(translate([wild]), "a.b.example.com", "/x") is None
    assert where(translate([wild]), "A.B.Example.com", "/x") is None
    catch_all = ingress("fallback", default_backend={"service": {"name": "fallback", "port": {"number": 80}}})
    assert where(translate([wild, catch_all]), "a.b.example.com", "/x") == "fallback.shop:80"
    istio_wild = ingress("iwild", rule("*.example.com", path("/", "wild")), cls="istio")
    assert where(translate([istio_wild]), "a.b.example.com", "/x") == "wild.shop:80"


def test_a_rounded_canary_weight_is_reported_once_however_many_locations_take_it():
    result = translate([
        ingress("stable", rule("a.com", path("/", "v1")), rule("b.com", path("/", "v1"))),
        ingress("canary", rule("a.com", path("/", "v2")), created="2024-02-01T00:00:00Z",
                annotations={N + "canary": "true", N + "canary-weight": "2", N + "canary-weight-total": "300"})])
    assert [f.code for f in result.findings].count("canary-weight-rounded") == 1
    assert where(result, "b.com", "/") == "v1.shop:80"  # 99 % stays on the stable backend there too


def test_a_host_without_a_certificate_is_reported_once_on_its_oldest_ingress():
    """ingress-nginx answers HTTPS on every host (its default certificate where no tls entry names
    one); the gateway cannot, so the translation says so (the nginx oracle shows the 443 side)."""
    result = translate([
        ingress("plain", rule("a.com", path("/", "web")), rule("b.com", path("/", "web"))),
        ingress("later", rule("a.com", path("/x", "web")), created="2024-02-01T00:00:00Z"),
        ingress("secure", rule("c.com", path("/", "web")), tls=[{"hosts": ["c.com"], "secretName": "c"}]),
        ingress("wild", rule("d.example.com", path("/", "web")), rule("*.example.com", path("/", "web")),
                tls=[{"hosts": ["*.example.com"], "secretName": "w"}])])
    [finding] = [f for f in result.findings if f.code == "https-default-certificate"]
    assert (finding.ref, finding.severity) == ("shop/plain", "warning") and "a.com, b.com" in finding.message
    assert finding.details["hosts"] == ["a.com", "b.com"]
    assert translate([ingress("plain", rule("a.com", path("/", "web")))], certificates="external").findings == []
    # The catch-all server (a rule-less Ingress's defaultBackend) answered HTTPS for unknown hosts too.
    fallback = translate([ingress("fallback", default_backend={"service": {"name": "web", "port": {"number": 80}}})])
    [finding] = fallback.findings
    assert (finding.ref, finding.code, finding.details["host"]) == ("shop/fallback", "https-default-certificate", "*")


def test_a_canary_takes_every_location_of_its_stable_service_port_on_any_host():
    """ingress-nginx attaches the canary to the upstream, which balancer.lua consults on every
    host and path that proxies to it; the first canary on an upstream decides (the nginx oracle,
    tests/integration/test_nginx_oracle.py, shows both)."""
    result = translate([
        ingress("stable", rule("a.com", path("/", "v1"), path("/api", "api"))),
        ingress("other", rule("b.com", path("/b", "v1")), created="2024-01-02T00:00:00Z"),
        ingress("canary", rule("a.com", path("/", "v2")), created="2024-02-01T00:00:00Z",
                annotations={N + "canary": "true", N + "canary-by-header": "X-Canary"}),
        ingress("late", rule("b.com", path("/b", "v3")), created="2024-03-01T00:00:00Z",
                annotations={N + "canary": "true", N + "canary-by-header": "X-Late"})])
    assert where(result, "b.com", "/b", headers={"X-Canary": "always"}) == "v2.shop:80"
    assert where(result, "b.com", "/b", headers={"X-Late": "always"}) == "v1.shop:80"
    assert where(result, "a.com", "/api", headers={"X-Canary": "always"}) == "api.shop:80"
    assert ("shop/canary", "info", "canary-shared-backend") in codes(result)
    assert ("shop/late", "warning", "canary-shadowed") in codes(result)


def test_canary_without_stable_is_an_error():
    result = translate([ingress("canary", rule("a.com", path("/", "v2")),
                                annotations={N + "canary": "true", N + "canary-weight": "10",
                                             N + "canary-by-cookie": "beta"})])
    assert [c for c in codes(result) if c[1] == "error"] == [("shop/canary", "error", "canary-without-stable")]


def test_timeouts_cors_and_upstream_vhost_on_the_route():
    result = translate([ingress("a", rule("a.com", path("/", "svc")), annotations={
        N + "proxy-read-timeout": "120", N + "proxy-send-timeout": "60", N + "enable-cors": "true",
        N + "cors-allow-origin": "https://app.example.com", N + "upstream-vhost": "internal.local"})])
    entry = evaluate(result.resources, "a.com", "/").entry
    assert entry["timeout"] == "120s"
    assert entry["corsPolicy"]["allowOrigins"] == [{"exact": "https://app.example.com"}]
    assert entry["corsPolicy"]["allowMethods"][0] == "GET" and entry["corsPolicy"]["maxAge"] == "1728000s"
    assert entry["headers"] == {"request": {"set": {"host": "internal.local"}}}


def test_destination_rule_for_connect_timeout_backend_tls_and_cookie_affinity():
    result = translate([ingress("a", rule("a.com", path("/", "svc", 443)), annotations={
        N + "proxy-connect-timeout": "5", N + "backend-protocol": "HTTPS", N + "affinity": "cookie",
        N + "session-cookie-name": "route"})])
    [rule_] = [r for r in result.resources if r["kind"] == "DestinationRule"]
    assert rule_["spec"]["host"] == "svc.shop.svc.cluster.local" and rule_["spec"]["exportTo"] == ["."]
    assert rule_["spec"]["trafficPolicy"] == {
        "connectionPool": {"tcp": {"connectTimeout": "5s"}}, "tls": {"mode": "SIMPLE"},
        "loadBalancer": {"consistentHash": {"httpCookie": {"name": "route", "ttl": "0s"}}}}


@pytest.mark.parametrize("protocol,code,severity", [("GRPC", "grpc-backend", "info"), ("FCGI", "fcgi-unsupported", "error")])
def test_backend_protocols_without_destination_rule(protocol, code, severity):
    result = translate([ingress("a", rule("a.com", path("/", "svc")), annotations={N + "backend-protocol": protocol})])
    assert ("shop/a", severity, code) in codes(result)


def test_source_ranges_become_a_deny_policy_on_the_gateway():
    result = translate([ingress("a", rule("a.com", path("/", "svc")), annotations={
        N + "whitelist-source-range": "10.0.0.0/8, 192.168.0.0/16"}),
        ingress("b", rule("b.com", path("/", "svc")), annotations={N + "denylist-source-range": "1.2.3.4/32"})])
    policies = [r for r in result.resources if r["kind"] == "AuthorizationPolicy"]
    assert [p["spec"]["rules"] for p in policies] == [
        # "host:*" too: a Host header with a port (a.com:80) is routed to a.com all the same.
        [{"from": [{"source": {"notRemoteIpBlocks": ["10.0.0.0/8", "192.168.0.0/16"]}}],
          "to": [{"operation": {"hosts": ["a.com", "a.com:*"]}}]}],
        [{"from": [{"source": {"remoteIpBlocks": ["1.2.3.4/32"]}}], "to": [{"operation": {"hosts": ["b.com", "b.com:*"]}}]}],
    ]
    assert all(p["spec"]["action"] == "DENY" and p["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
               for p in policies)


@pytest.mark.parametrize("annotation,code,location", [
    ("permanent-redirect", 301, "https://new.example.com/landing"),
    ("temporal-redirect", 302, "https://new.example.com/landing"),
])
def test_redirect_annotations(annotation, code, location):
    result = translate([ingress("a", rule("a.com", path("/", "svc")),
                                annotations={N + annotation: "https://new.example.com/landing"})])
    outcome = evaluate(result.resources, "a.com", "/anything")
    assert (outcome.kind, outcome.location, outcome.code) == ("redirect", location, code)


def test_unsupported_annotations_are_named_never_dropped_silently():
    result = translate([ingress("a", rule("a.com", path("/", "svc")), annotations={
        N + "client-body-buffer-size": "1m", N + "proxy-body-size": "8m", N + "proxy-bodysize": "8m"})])
    messages = [f.message for f in result.findings if f.code == "unsupported-annotation"]
    assert len(messages) == 2 and all(f.severity == "warning" for f in result.findings)
    assert any("proxy-body-size" in m and "413" in m for m in messages)
    # A name ingress-nginx does not read (a typo) is named too.
    assert ("shop/a", "warning", "unknown-annotation") in codes(result)


# --- rules 15-16 -------------------------------------------------------------------------------------------------

def test_rule15_gateway_api_output_keeps_the_same_rules():
    result = translate([ingress("a", rule("a.com", path("/api", "api"), path("/", "web")), namespace="shop",
                                tls=[{"hosts": ["a.com"], "secretName": "c"}])], output_api="gateway-api",
                       gateway_namespace="istio-ingress")
    by_kind = {}
    for resource in result.resources:
        by_kind.setdefault(resource["kind"], []).append(resource)
    assert sorted(by_kind) == ["Gateway", "HTTPRoute", "ReferenceGrant"]
    assert by_kind["Gateway"][0]["spec"]["gatewayClassName"] == "istio"
    http_only, secure = sorted(by_kind["HTTPRoute"], key=lambda r: r["metadata"]["name"], reverse=True)
    assert [p.get("sectionName") for p in http_only["spec"]["parentRefs"]] == ["http"]
    assert http_only["spec"]["rules"][0]["filters"][0]["type"] == "RequestRedirect"
    assert secure["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert secure["spec"]["rules"][0]["backendRefs"] == [{"name": "api", "port": 80, "namespace": "shop"}]
    assert by_kind["ReferenceGrant"][0]["metadata"]["namespace"] == "shop"


def test_rule15_gateway_api_cannot_keep_capture_rewrites():
    result = translate([ingress("a", rule("a.com", path("/api(/|$)(.*)", "svc", path_type="ImplementationSpecific")),
                                annotations={N + "rewrite-target": "/$2", N + "use-regex": "true"})],
                       output_api="gateway-api")
    assert ("shop/a", "error", "rewrite-not-expressible") in codes(result)


def test_rule16_source_ingresses_are_not_modified():
    ingresses = [ingress("a", rule("a.com", path("/", "svc")), tls=[{"secretName": "c"}],
                         annotations={N + "canary": "false", N + "rewrite-target": "/"})]
    before = copy.deepcopy(ingresses)
    translate(ingresses)
    assert ingresses == before


# --- invalid input ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,code", [
    ("not a dict", "invalid-ingress"),
    ({"kind": "Ingress", "metadata": {}}, "invalid-ingress"),
    (ingress("a", rule("Bad_Host.com", path("/", "svc"))), "invalid-host"),
    (ingress("a", rule("a.com", path("no-slash", "svc"))), "invalid-path"),
    (ingress("a", rule("a.com", path("/", "svc", path_type="Fuzzy"))), "invalid-path-type"),
    (ingress("a", rule("a.com", {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 0}}}})),
     "invalid-backend"),
    (ingress("a", rule("a.com", {"path": "/", "pathType": "Prefix", "backend": "svc"})), "invalid-backend"),
])
def test_invalid_objects_give_findings_not_tracebacks(bad, code):
    result = translate([bad])
    assert code in [f.code for f in result.findings]


@pytest.mark.parametrize("annotations", [{N + "app-root": "/app"}, {N + "use-regex": "true"}])
def test_a_refused_host_gets_no_route_from_host_wide_annotations(annotations):
    # app-root and regex mode are decided per host from the locations; a refused host has none.
    result = translate([ingress("a", rule("Bad Host", path("/", "svc")), rule("a.com", path("/x", "x")),
                                annotations=annotations)])
    assert "invalid-host" in [f.code for f in result.findings]
    hosts = [h for r in result.resources if r["kind"] == "VirtualService" for h in r["spec"]["hosts"]]
    assert hosts == ["a.com"]


# --- properties -------------------------------------------------------------------------------------------------------

HOSTS = ["a.example.com", "b.example.com", "*.example.com"]
PATHS = ["/", "/a", "/a/", "/a/b", "/ab", "/b"]


@st.composite
def ingress_sets(draw):
    count = draw(st.integers(min_value=1, max_value=5))
    ingresses = []
    for index in range(count):
        rules = []
        for host in draw(st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2, unique=True)):
            paths = [path(draw(st.sampled_from(PATHS)), draw(st.sampled_from(["s1", "s2", "s3"])),
                          draw(st.sampled_from([80, 8080])), draw(st.sampled_from(["Prefix", "Exact"])))
                     for count in range(draw(st.integers(min_value=1, max_value=3)))]
            rules.append(rule(host, *paths))
        ingresses.append(ingress("i{0}".format(index), *rules, namespace=draw(st.sampled_from(["ns1", "ns2"])),
                                 created="2024-01-0{0}T00:00:00Z".format(draw(st.integers(min_value=1, max_value=3)))))
    return ingresses


REFUSED = "refused"


def nginx_reference(ingresses, host, request_path):
    """Where ingress-nginx sends a request, by nginx's location matching on the locations it
    renders: the first Ingress (oldest; same age: namespace/name last first) wins each (host, type,
    path); Prefix /p is `location /p/` and `location = /p`, Prefix /p/ is `location /p/` and
    `location = /p/`, Exact is `location =`; an exact location first, then the longest prefix;
    a path one `/` short of a location gets a 301 to it. REFUSED when two paths render the same
    prefix location (nginx refuses the configuration)."""
    by_name = sorted(ingresses, key=lambda i: "{0}/{1}".format(i["metadata"]["namespace"], i["metadata"]["name"]),
                     reverse=True)
    ordered = sorted(by_name, key=lambda i: i["metadata"]["creationTimestamp"])
    table = {}
    for item in ordered:
        namespace = item["metadata"]["namespace"]
        for rule_ in item["spec"]["rules"]:
            for entry in rule_["http"]["paths"]:
                key = (rule_["host"], entry["pathType"], entry["path"])
                service_ = entry["backend"]["service"]
                table.setdefault(key, "{0}.{1}:{2}".format(service_["name"], namespace, service_["port"]["number"]))
    candidates = [h for h in HOSTS if h == host] + [h for h in HOSTS if h.startswith("*.") and host.endswith(h[1:])]
    for pattern in candidates:
        entries = dict((k[1:], v) for k, v in table.items() if k[0] == pattern)
        if not entries:
            continue
        exact, prefix = {}, {}
        for (kind, path_), target in entries.items():
            if kind == "Exact":
                exact[path_] = target
        for (kind, path_), target in entries.items():
            if kind != "Prefix":
                continue
            name = path_ if path_ == "/" or path_.endswith("/") else path_ + "/"
            if name in prefix:
                return REFUSED
            prefix[name] = target
            if path_ != "/":
                exact.setdefault(path_, target)
        if request_path in exact:
            return exact[request_path]
        names = set(exact) | set(prefix)
        if request_path + "/" in names and request_path not in names:
            return "redirect http://{0}{1}/".format(host, request_path)
        matching = [p for p in prefix if request_path.startswith(p)]
        if matching:
            return prefix[max(matching, key=len)]
        return None
    return None


REQUESTS = ["/", "/a", "/a/", "/a/b", "/a/bc", "/ab", "/abc", "/b", "/b/x", "/x"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(ingress_sets(), st.randoms(use_true_random=False))
def test_random_ingress_sets_route_like_ingress_nginx(ingresses, rng):
    result = translate(ingresses)
    for host in ["a.example.com", "b.example.com", "c.example.com"]:
        for request_path in REQUESTS:
            expected = nginx_reference(ingresses, host, request_path)
            if expected == REFUSED:
                assert any(f.code == "duplicate-nginx-location" for f in result.findings)
                break
            assert where(result, host, request_path) == expected, (host, request_path)
    # valid, collision-free names; deterministic, whatever the input order
    keys = [(r["kind"], r["metadata"]["namespace"], r["metadata"]["name"]) for r in result.resources]
    assert len(keys) == len(set(keys)) and all(is_dns1123_label(k[2]) for k in keys)
    shuffled = list(ingresses)
    rng.shuffle(shuffled)
    assert json.dumps(translate(shuffled).resources) == json.dumps(result.resources)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                             lambda children: st.lists(children, max_size=3) | st.dictionaries(
                                 st.sampled_from(["metadata", "spec", "name", "rules", "host", "http", "paths",
                                                  "path", "pathType", "backend", "service", "port", "number",
                                                  "tls", "hosts", "secretName", "ingressClassName", "annotations",
                                                  "defaultBackend", "namespace"]), children, max_size=4),
                             max_leaves=20), max_size=4))
def test_random_invalid_objects_never_raise(objects):
    for include_classless in (True, False):
        result = translate(objects, include_classless=include_classless)
        json.dumps(result.as_dict())


def test_generated_corpus_every_path_is_routed_or_has_an_error():
    rng = random.Random(5)
    ingresses = []
    for index in range(200):
        host = "h{0}.example.com".format(rng.randint(0, 40))
        ingresses.append(ingress("i{0}".format(index), rule(host, path("/p{0}".format(index), "svc{0}".format(index)))))
    result = translate(ingresses)
    for item in ingresses:
        host = item["spec"]["rules"][0]["host"]
        entry = item["spec"]["rules"][0]["http"]["paths"][0]
        assert where(result, host, entry["path"] + "/x") == "{0}.shop:80".format(entry["backend"]["service"]["name"])


@pytest.mark.parametrize("annotation,value", [
    ("auth-type", "basic"), ("auth-tls-secret", "other/ca"), ("auth-url", "https://$host/oauth2/auth"),
    ("auth-url", "https://auth.example.org/verify"), ("configuration-snippet", "deny all;"),
    ("limit-connections", "5"), ("limit-rps", "10"), ("enable-modsecurity", "true"), ("satisfy", "any")])
def test_annotations_whose_loss_opens_or_drops_traffic_are_errors(annotation, value):
    result = translate([ingress("web", rule("shop.example.com", path("/", "web")), annotations={N + annotation: value})])
    lost = [f for f in result.findings if f.code == "access-control-lost"]
    assert len(lost) == 1 and lost[0].severity == "error" and annotation in lost[0].message
    assert result.has_errors  # so apply refuses unless allow_errors


def test_other_controllers_annotations_are_named():
    result = translate([ingress("web", rule("shop.example.com", path("/", "web")),
                                annotations={"nginx.org/rewrites": "serviceName=web rewrite=/",
                                             "konghq.com/strip-path": "true", "example.com/team": "shop"})])
    named = sorted(f.message.split(" ")[0] for f in result.findings if f.code == "other-controller-annotation")
    assert named == ["konghq.com/strip-path", "nginx.org/rewrites"]


@pytest.mark.parametrize("annotation", ["proxy-read-timeout", "proxy-send-timeout", "proxy-connect-timeout"])
def test_timeouts_nginx_would_ignore_are_a_warning_and_ignored_here_too(annotation):
    # ingress-nginx reads these as whole seconds; "30s" is ignored and its default applies.
    result = translate([ingress("web", rule("shop.example.com", path("/", "web")), annotations={N + annotation: "30s"})])
    found = [f for f in result.findings if f.code == "invalid-annotation"]
    assert [f.severity for f in found] == ["warning"] and not result.has_errors
    assert "ingress-nginx ignores it" in found[0].message
    for resource in result.resources:
        assert "timeout" not in str(resource.get("spec")).lower() or resource["kind"] == "Gateway"


def test_classless_ingresses_follow_the_controller_the_user_names():
    # An ImplementationSpecific "/api" is a segment prefix to ingress-nginx, an exact path to Istio.
    classless = ingress("web", rule("shop.example.com", path("/api", "web", path_type="ImplementationSpecific")),
                        cls=None)
    for controller, request_path, expected in (("nginx", "/api/v1", "web.shop:80"), ("istio", "/api/v1", None),
                                               ("istio", "/api", "web.shop:80")):
        result = translate([classless], include_classless=True, classless_controller=controller)
        infos = [f.message for f in result.findings if f.code == "classless-semantics"]
        assert infos == ["no ingress class: translated with the semantics of {0} (classless_controller)".format(
            controller)]
        assert where(result, "shop.example.com", request_path) == expected, (controller, request_path)


def test_app_root_redirects_even_over_the_ingress_own_exact_root():
    result = translate([ingress("w", rule("a.com", path("/", "web", path_type="Exact"), path("/x", "web")),
                                annotations={N + "app-root": "/home"})])
    assert where(result, "a.com", "/") == "redirect http://a.com/home"
    assert where(result, "a.com", "/x") == "web.shop:80"
    assert "route-conflict" not in [f.code for f in result.findings]


def test_an_absolute_url_app_root_is_ignored_with_a_finding():
    result = translate([ingress("w", rule("a.com", path("/", "web")), annotations={N + "app-root": "https://b.com/x"})])
    assert where(result, "a.com", "/") == "web.shop:80"
    assert [(f.severity, f.code) for f in result.findings if f.code != "https-default-certificate"] == [
        ("warning", "app-root-ignored")]


def test_gateway_api_redirects_keep_the_source_status_code():
    tls = [{"hosts": ["a.com"], "secretName": "a-tls"}]
    result = translate([ingress("w", rule("a.com", path("/", "web")), tls=tls),
                        ingress("m", rule("b.com", path("/", "web")),
                                annotations={N + "permanent-redirect": "https://c.com/", N + "permanent-redirect-code": "308"})],
                       output_api="gateway-api")
    codes_by_host = {}
    for route in (r for r in result.resources if r["kind"] == "HTTPRoute"):
        for rule_ in route["spec"]["rules"]:
            for item in rule_.get("filters") or []:
                if item["type"] == "RequestRedirect":
                    codes_by_host[route["spec"]["hostnames"][0]] = item["requestRedirect"]["statusCode"]
    assert codes_by_host == {"a.com": 308, "b.com": 308}


def test_from_to_www_redirect_answers_the_other_name_with_308_keeping_the_path():
    result = translate([ingress("web", rule("www.shop.com", path("/", "web")), namespace="istio-ingress",
                                annotations={N + "from-to-www-redirect": "true"})])
    assert where(result, "shop.com", "/cart?x=1") == "redirect http://www.shop.com/cart?x=1"
    assert evaluate(result.resources, "shop.com", "/cart").code == 308
    assert where(result, "www.shop.com", "/cart") == "web.istio-ingress:80"
    bare = translate([ingress("web", rule("shop.com", path("/", "web")), namespace="istio-ingress",
                              annotations={N + "from-to-www-redirect": "true"})])
    assert where(bare, "www.shop.com", "/") == "redirect http://shop.com/"
    assert not [f for f in bare.findings if f.severity == "error"]


def test_from_to_www_redirect_yields_to_an_ingress_that_serves_the_other_name():
    result = translate([ingress("web", rule("www.shop.com", path("/", "web")), namespace="istio-ingress",
                                annotations={N + "from-to-www-redirect": "true"}),
                        ingress("bare", rule("shop.com", path("/", "bare")), namespace="istio-ingress")])
    assert where(result, "shop.com", "/") == "bare.istio-ingress:80"
    assert ("istio-ingress/web", "info", "www-redirect-skipped") in codes(result)


def test_x_forwarded_prefix_is_sent_to_the_backend():
    result = translate([ingress("web", rule("a.com", path("/", "web")), annotations={N + "x-forwarded-prefix": "/shop"})])
    entry = evaluate(result.resources, "a.com", "/x").entry
    assert entry["headers"] == {"request": {"set": {"x-forwarded-prefix": "/shop"}}}
    api = translate([ingress("web", rule("a.com", path("/", "web")), annotations={N + "x-forwarded-prefix": "/shop"})],
                    output_api="gateway-api")
    routes = [r for r in api.resources if r["kind"] == "HTTPRoute"]
    assert {"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "X-Forwarded-Prefix", "value": "/shop"}]}} in routes[0]["spec"]["rules"][0]["filters"]
    assert not [f for f in result.findings if f.code == "unsupported-annotation"]


def test_a_host_in_two_tls_secrets_is_served_by_the_first_and_the_other_hosts_keep_theirs():
    result = translate([
        ingress("a", rule("a.com", path("/", "a")), rule("b.com", path("/", "b")), namespace="istio-ingress",
                tls=[{"hosts": ["a.com", "b.com"], "secretName": "z-cert"}]),
        ingress("c", rule("b.com", path("/other", "c")), namespace="istio-ingress",
                tls=[{"hosts": ["b.com"], "secretName": "a-cert"}])])
    servers = result.resources[0]["spec"]["servers"]
    # istiod would drop a later server that repeats b.com whole, a.com with it.
    assert sorted((s["tls"]["credentialName"], s["hosts"]) for s in servers[1:]) == [
        ("a-cert", ["b.com"]), ("z-cert", ["a.com"])]
    assert where(result, "a.com", "/", scheme="https") == "a.istio-ingress:80"
    assert ("istio-ingress/a", "warning", "tls-host-conflict") in codes(result)


def test_a_tls_host_conflict_is_reported_to_the_ingresses_that_named_that_host_only():
    # d shares z-cert for another host: the conflict on b.com is not its business (before, every
    # Ingress of the Secret got a finding per conflicting host, 674,394 findings for 50,000 Ingresses).
    result = translate([
        ingress("a", rule("b.com", path("/", "a")), namespace="istio-ingress",
                tls=[{"hosts": ["b.com"], "secretName": "z-cert"}]),
        ingress("c", rule("b.com", path("/other", "c")), namespace="istio-ingress",
                tls=[{"hosts": ["b.com"], "secretName": "a-cert"}]),
        ingress("d", rule("d.com", path("/", "d")), namespace="istio-ingress",
                tls=[{"hosts": ["d.com"], "secretName": "z-cert"}])])
    conflicts = [(f.ref, f.details["host"]) for f in result.findings if f.code == "tls-host-conflict"]
    assert conflicts == [("istio-ingress/a", "b.com")]


def test_auth_url_of_an_in_cluster_service_becomes_a_custom_policy_and_an_extension_provider():
    result = translate([ingress("web", rule("shop.com", path("/", "web")), namespace="istio-ingress", annotations={
        N + "auth-url": "http://oauth2-proxy.auth.svc.cluster.local:4180/oauth2/auth",
        N + "auth-response-headers": "X-Auth-Request-User, X-Auth-Request-Email",
        N + "auth-signin": "https://shop.com/oauth2/start"})])
    assert [p["envoyExtAuthzHttp"] for p in result.extension_providers] == [{
        "service": "oauth2-proxy.auth.svc.cluster.local", "port": 4180, "pathPrefix": "/oauth2/auth",
        "includeRequestHeadersInCheck": ["authorization", "cookie"],
        "headersToDownstreamOnDeny": ["content-type", "set-cookie", "location", "www-authenticate"],
        "headersToUpstreamOnAllow": ["X-Auth-Request-User", "X-Auth-Request-Email"]}]
    policy = [r for r in result.resources if r["kind"] == "AuthorizationPolicy"][0]["spec"]
    assert policy["action"] == "CUSTOM" and policy["provider"] == {"name": result.extension_providers[0]["name"]}
    assert policy["rules"] == [{"to": [{"operation": {"hosts": ["shop.com", "shop.com:*"]}}]}]
    assert policy["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    found = codes(result)
    assert ("istio-ingress/web", "warning", "extension-provider-required") in found
    assert ("istio-ingress/web", "warning", "unsupported-annotation") in found  # auth-signin
    assert not [f for f in result.findings if f.severity == "error"]
    assert result.as_dict()["extension_providers"] == result.extension_providers


@pytest.mark.parametrize("url", ["http://auth.shop/verify", "http://auth.shop.svc:8080/", "https://auth.shop.svc.cluster.local"])
def test_auth_url_short_service_names_resolve_in_the_cluster(url):
    result = translate([ingress("web", rule("shop.com", path("/", "web")), annotations={N + "auth-url": url})])
    assert result.extension_providers[0]["envoyExtAuthzHttp"]["service"] == "auth.shop.svc.cluster.local"
    assert not [f for f in result.findings if f.severity == "error"]


def test_basic_auth_beside_auth_url_stays_an_error():
    result = translate([ingress("web", rule("shop.com", path("/", "web")), annotations={
        N + "auth-url": "http://auth.shop.svc/verify", N + "auth-type": "basic", N + "auth-secret": "htpasswd"})])
    assert [f.message.split(" ")[0] for f in result.findings if f.code == "access-control-lost"] == [
        N + "auth-secret", N + "auth-type"]


def test_gateway_api_policies_apply_to_every_gateway_of_a_split_estate():
    tls = [{"hosts": ["h{0}.shop.com".format(i)], "secretName": "cert-{0}".format(i)} for i in range(70)]
    rules = [rule("h{0}.shop.com".format(i), path("/", "web")) for i in range(70)]
    result = translate([ingress("a", *rules, tls=tls, namespace="istio-ingress",
                                annotations={N + "whitelist-source-range": "10.0.0.0/8"})], output_api="gateway-api")
    gateways = [r["metadata"]["name"] for r in result.resources if r["kind"] == "Gateway"]
    assert len(gateways) == 2
    policy = [r for r in result.resources if r["kind"] == "AuthorizationPolicy"][0]["spec"]
    assert "selector" not in policy
    assert [ref["name"] for ref in policy["targetRefs"]] == gateways


def test_two_auth_services_are_an_error_naming_every_ingress_one_is_not():
    """Istio runs one CUSTOM provider per gateway workload; with two, istiod denies both hosts
    (shown through istiod in test_route_oracle)."""
    def with_auth(name, url):
        return ingress(name, rule(name + ".com", path("/", "web")), annotations={N + "auth-url": url})
    result = translate([with_auth("a", "http://sso.auth.svc/check"), with_auth("b", "http://sso.auth.svc/check")])
    assert not [f for f in result.findings if f.code == "auth-providers-conflict"] and len(result.extension_providers) == 1
    result = translate([with_auth("a", "http://sso.auth.svc/check"), with_auth("b", "http://other.auth.svc/check"),
                        ingress("c", rule("c.com", path("/", "web")))])
    conflicts = [f for f in result.findings if f.code == "auth-providers-conflict"]
    assert sorted(f.ref for f in conflicts) == ["shop/a", "shop/b"] and result.has_errors
    assert all("sso.auth" in f.message and "other.auth" in f.message for f in conflicts)


def test_server_alias_names_get_every_route_of_the_host():
    original = ingress("a", rule("a.com", path("/", "web")), annotations={N + "server-alias": "www.a.org, a.net"})
    kept = copy.deepcopy(original)
    result = translate([original, ingress("b", rule("a.com", path("/api", "api")), created="2024-02-01T00:00:00Z")])
    for host in ("a.com", "www.a.org", "a.net"):
        assert where(result, host, "/api/x") == "api.shop:80" and where(result, host, "/") == "web.shop:80"
    assert original == kept  # the Ingress given is not changed
    assert not [f for f in result.findings if f.severity == "error"]


def test_server_alias_as_ingress_nginx_drops_or_refuses_it():
    result = translate([
        ingress("a", rule("a.com", path("/", "web")), annotations={N + "server-alias": "b.com,a.com,~^x$,*.a.org,c.com"}),
        ingress("b", rule("b.com", path("/", "other"))),
        ingress("z", rule("z.com", path("/", "zed")), annotations={N + "server-alias": "c.com"}),
        ingress("late", rule("a.com", path("/late", "late")), annotations={N + "server-alias": "d.com"},
                created="2024-02-01T00:00:00Z")])
    assert where(result, "b.com", "/") == "other.shop:80"  # an Ingress host is not an alias
    assert where(result, "c.com", "/") == "web.shop:80"  # the first server (a.com) keeps a shared alias
    assert where(result, "d.com", "/late") is None  # a.com's aliases are the older Ingress's
    found = codes(result)
    assert ("shop/a", "info", "server-alias-ignored") in found and ("shop/late", "info", "server-alias-skipped") in found
    assert ("shop/z", "warning", "server-alias-conflict") in found
    assert [c for c in found if c[1] == "error"] == [("shop/a", "error", "serving-would-change")] * 2


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_a_literal_percent_in_a_header_reaches_envoy_escaped_and_the_host_rewrite_does_not(output_api):
    """istiod passes header values to Envoy as they are, and Envoy reads `%...%` as its variables:
    `10% off` must arrive as `10%% off` (an unknown variable makes Envoy refuse every route of the
    gateway). The Host header becomes a host rewrite, which Envoy does not format."""
    snippet = "more_set_headers 'X-Offer: 10% off';\nproxy_set_header X-Quota 5%;"
    result = translate([ingress("a", rule("a.org", path("/", "web")), annotations={
        N + "configuration-snippet": snippet, N + "upstream-vhost": "odd%host.internal"})], output_api=output_api)
    text = str([r for r in result.resources if r["kind"] in ("VirtualService", "HTTPRoute")])
    assert "'10%% off'" in text and "'5%%'" in text and "'odd%host.internal'" in text


def test_a_rewrite_target_equal_to_the_path_rewrites_nothing_as_ingress_nginx_renders_none():
    """buildProxyPass renders no rewrite when the target is the location's path: /X reaches the
    backend as /X, not / (found by the nginx differential once it compared the backend's path)."""
    result = translate([ingress("same", rule("d.com", path("/", "root")), annotations={N + "rewrite-target": "/"}),
                        ingress("other", rule("e.com", path("/a", "web")), annotations={N + "rewrite-target": "/"})])
    routes = dict((r["spec"]["hosts"][0], r["spec"]["http"]) for r in result.resources if r["kind"] == "VirtualService")
    assert not [entry for entry in routes["d.com"] if "rewrite" in entry]
    assert [entry for entry in routes["e.com"] if "rewrite" in entry]


@pytest.mark.parametrize("target,sent", [("/new", "/new"), ("/$2", "/")])
def test_the_default_location_of_a_host_takes_its_oldest_ingress_rewrite_target(target, sent):
    """The host's `/` location, served by the defaultBackend, is rendered with the annotations of the
    host's oldest Ingress: its `rewrite "(?i)/" <target> break` sends the backend the target, whose
    $N are empty (the regex has no groups). Found by the nginx differential's path comparison."""
    result = translate([ingress("i0", rule("a.example.com", path("/a/b", "web")), annotations={N + "rewrite-target": target},
                                default_backend=backend("fallback"))])
    http = [r for r in result.resources if r["kind"] == "VirtualService" and r["spec"]["hosts"] == ["a.example.com"]][0]
    catch_all = [e for e in http["spec"]["http"] if e.get("route") and e["route"][0]["destination"]["host"].startswith("fallback")]
    assert [e.get("rewrite") for e in catch_all] == [{"uriRegexRewrite": {"match": "^.*$", "rewrite": sent}}]
