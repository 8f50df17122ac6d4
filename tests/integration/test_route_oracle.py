"""Every translation test, judged by the Envoy configuration istiod generates.

The unit tests of the translator (tests/unit/.../test_ingress.py) state, rule by rule, where the
source controller sends a request and check the translation with the in-repo evaluator. Here the
same tests run once more with recording on; every request they routed is then answered by
istiod's own config generation (route-oracle: pilot/test/xds + pilot/pkg/simulation from the
pinned Istio module) and by Envoy's matching on the RouteConfiguration it served. The answers must
be the in-repo evaluator's, for the Istio objects and for the Gateway API objects alike.
"""

import collections
import json
import os
import sys

import pytest
import yaml

import route_oracle
from route_oracle import Request, Verdict

REPO = route_oracle.REPO
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator  # noqa: E402

N = "nginx.ingress.kubernetes.io/"


def recorded_verdict(line):
    verdict = line["verdict"]
    if verdict["kind"] == "route":
        # A destination of weight 0 gets no request; istiod leaves it out.
        return Verdict("route", tuple(tuple(d) for d in verdict["destinations"] if d[1] > 0))
    if verdict["kind"] == "redirect":
        return Verdict("redirect", verdict["location"], verdict["code"])
    return Verdict("none")


def oracle_verdict(answer, index):
    outcome = answer.envoy(index)
    if outcome.kind == "route":
        return Verdict("route", tuple(sorted((route_oracle.cluster_target(c), w) for c, w in outcome.clusters)))
    if outcome.kind == "redirect":
        return Verdict("redirect", outcome.location, outcome.code)
    return Verdict("none")


def grouped(lines, resources_of):
    """One oracle case per distinct set of objects, with every request asked of it."""
    groups = collections.OrderedDict()
    for line in lines:
        resources = resources_of(line)
        if resources is None:
            continue
        key = json.dumps(resources, sort_keys=True)
        groups.setdefault(key, (resources, []))[1].append(line)
    return list(groups.values())


def judge(groups):
    cases = []
    for number, (resources, lines) in enumerate(groups):
        requests = [Request(**line["request"]) for line in lines]
        cases.append(route_oracle.case("case-{0}".format(number), resources, requests))
    answers = route_oracle.run(cases)
    disagreements, simulator, judged = [], [], 0
    for (resources, lines), answer in zip(groups, answers):
        for index, line in enumerate(lines):
            expected, got = recorded_verdict(line), oracle_verdict(answer, index)
            if expected != got:
                disagreements.append("{0}: {1}: in-repo {2}, istiod {3}".format(
                    line["test"], answer.requests[index], expected, got))
            agrees = answer.simulation_agrees(index)
            judged += agrees is not None
            if agrees is False:
                simulator.append("{0}: {1}: envoy {2}, simulation {3}".format(
                    line["test"], answer.requests[index], got, answer.simulated[index]))
    requests = sum(len(lines) for _resources, lines in groups)
    # The simulator judges virtual hosts with plain prefix and exact matches only; the Gateway API
    # output's path-separated prefixes leave it fewer.
    assert judged > requests // 4, "Istio's simulator judged only {0} of {1} requests".format(judged, requests)
    return disagreements, simulator


def test_every_translation_test_routes_the_same_through_istiod(recorded):
    disagreements, simulator = judge(grouped(recorded, lambda line: line["resources"]))
    assert not simulator, "the Envoy evaluator and Istio's simulator disagree:\n" + "\n".join(simulator[:20])
    assert not disagreements, "{0} requests:\n{1}".format(len(disagreements), "\n".join(disagreements[:30]))


def gateway_api_resources(line):
    inputs = line["inputs"]
    if inputs is None:
        return None
    options = dict(inputs["options"], output_api="gateway-api")
    istio = translator.translate(inputs["ingresses"], inputs["services"], **inputs["options"])
    result = translator.translate(inputs["ingresses"], inputs["services"], **options)
    errors = [f for f in result.findings if f.severity == "error"]
    istio_errors = [f for f in istio.findings if f.severity == "error"]
    if len(errors) > len(istio_errors):
        return None  # the Gateway API cannot say this; the translation refuses it with an error
    return result.resources


def test_every_translation_test_routes_the_same_through_istiod_as_gateway_api(recorded):
    groups = grouped(recorded, gateway_api_resources)
    assert len(groups) > 100
    disagreements, simulator = judge(groups)
    assert not simulator, "the Envoy evaluator and Istio's simulator disagree:\n" + "\n".join(simulator[:20])
    assert not disagreements, "{0} requests:\n{1}".format(len(disagreements), "\n".join(disagreements[:30]))


def test_class_istio_translations_route_as_istios_own_ingress_support(recorded):
    """For class `istio` the source controller is istiod itself: its Ingress support is the oracle."""
    groups = collections.OrderedDict()
    for line in recorded:
        inputs = line["inputs"]
        if inputs is None or not inputs["ingresses"] or any(translator.ingress_class(i) != "istio" for i in inputs["ingresses"]):
            continue
        key = json.dumps(inputs, sort_keys=True)
        groups.setdefault(key, (inputs, []))[1].append(line)
    assert len(groups) >= 3, "too few class istio tests recorded"
    source_cases, translated_cases = [], []
    for number, (inputs, lines) in enumerate(groups.values()):
        requests = [Request(**line["request"]) for line in lines]
        source_cases.append(route_oracle.istio_ingress_case("source-{0}".format(number), inputs["ingresses"],
                                                            inputs["services"], requests))
        translated_cases.append(route_oracle.case("translated-{0}".format(number), lines[0]["resources"], requests))
    answers = route_oracle.run(source_cases + translated_cases)
    sources, translations = answers[:len(source_cases)], answers[len(source_cases):]
    disagreements = []
    for (inputs, lines), source, translation in zip(groups.values(), sources, translations):
        for index, line in enumerate(lines):
            expected, got = oracle_verdict(source, index), oracle_verdict(translation, index)
            if expected != got:
                disagreements.append("{0}: {1}: istiod's Ingress support {2}, translation {3}".format(
                    line["test"], source.requests[index], expected, got))
    assert not disagreements, "\n".join(disagreements)


def nginx_ingress(name, host, annotations, namespace="shop", service="web", port=80, tls=None, rules=None):
    """An ingress-nginx Ingress routing `/` of `host` to `service:port` (or the given rules)."""
    spec = {"ingressClassName": "nginx", "rules": rules or [{"host": host, "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": port}}}}]}}]}
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": spec,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": "2024-01-01T00:00:00Z",
                         "annotations": annotations}}


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_request_headers_and_www_redirects_are_what_envoy_receives(output_api):
    annotations = {N + "x-forwarded-prefix": "/shop", N + "upstream-vhost": "internal.local",
                   N + "from-to-www-redirect": "true"}
    ingresses = [nginx_ingress("web", "www.shop.com", annotations)]
    result = translator.translate(ingresses, None, output_api=output_api)
    requests = [Request("www.shop.com", "/cart"), Request("shop.com", "/cart?x=1")]
    answer = route_oracle.run([route_oracle.case("headers", result.resources, requests)])[0]
    served = answer.envoy(0)
    assert route_oracle.cluster_target(served.cluster) == "web.shop:80"
    assert served.headers.get("x-forwarded-prefix") == "/shop" and served.headers.get("host") == "internal.local"
    assert oracle_verdict(answer, 1) == Verdict("redirect", "http://www.shop.com/cart?x=1", 308)


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_ssl_passthrough_hands_tls_on_the_host_to_the_root_backend(output_api):
    ingresses = [nginx_ingress("vault", "vault.example.com", {N + "ssl-passthrough": "true"}, namespace="apps",
                               service="vault", port=8443),
                 nginx_ingress("web", "web.example.com", {}, namespace="apps", port=8443,
                               tls=[{"hosts": ["web.example.com"], "secretName": "c"}])]
    result = translator.translate(ingresses, None, output_api=output_api)
    assert not [f for f in result.findings if f.severity == "error"]
    requests = [Request("vault.example.com", "", "https"), Request("web.example.com", "/", "https"),
                Request("other.example.com", "", "https")]
    answer = route_oracle.run([route_oracle.case("passthrough", result.resources, requests)])[0]
    assert answer.passed_through(0) == "vault.apps:8443"
    assert oracle_verdict(answer, 1) == Verdict("route", (("web.apps:8443", 100),))
    assert answer.passed_through(2) is None


@pytest.mark.parametrize("registered", [True, False])
def test_auth_url_becomes_envoy_ext_authz_once_the_provider_is_registered(registered):
    ingresses = [nginx_ingress("web", "shop.com", {N + "auth-url": "http://oauth2-proxy.auth.svc.cluster.local:4180/oauth2/auth"})]
    result = translator.translate(ingresses, None)
    auth_service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "oauth2-proxy", "namespace": "auth"},
                    "spec": {"ports": [{"name": "http", "port": 4180}]}}
    case = route_oracle.case("auth", result.resources + [auth_service], [Request("shop.com", "/")])
    if registered:
        case["mesh_config"] = yaml.safe_dump({"extensionProviders": result.extension_providers})
    answer = route_oracle.run([case])[0]
    chain = [key for key in answer.http_filters if key.startswith("0.0.0.0_80")][0]
    typed = answer.typed_filters[chain]
    if registered:
        # istiod puts Envoy's ext_authz filter, calling the auth service, ahead of the router.
        assert "envoy.filters.http.ext_authz" in answer.http_filters[chain]
        ext_authz = [t for t in typed if "ext_authz" in t.get("@type", "")][0]
        assert ext_authz["httpService"]["serverUri"]["cluster"] == "outbound|4180||oauth2-proxy.auth.svc.cluster.local"
        assert ext_authz["httpService"]["pathPrefix"] == "/oauth2/auth"
    else:
        # An unknown provider: istiod generates a policy that denies what the CUSTOM policy covers.
        assert "envoy.filters.http.ext_authz" not in answer.http_filters[chain]
        rbac = [t for t in typed if "rbac" in t.get("@type", "")]
        assert any(r.get("rules", {}).get("action", "ALLOW") == "DENY" and r["rules"].get("policies") for r in rbac)


def _route_actions(answer, field):
    """{cluster: the route action's `field` (hashPolicy, retryPolicy...) or None} of the routes
    istiod serves the gateway."""
    found = {}
    for configuration in answer.route_configurations.values():
        for host in configuration.get("virtualHosts") or []:
            for route in host.get("routes") or []:
                action = route.get("route") or {}
                if action.get("cluster"):
                    found[route_oracle.cluster_target(action["cluster"])] = action.get(field)
    return found


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_affinity_and_hash_keys_become_envoy_hash_policies(output_api):
    ingresses = [nginx_ingress("sticky", "sticky.com", {
        N + "affinity": "cookie", N + "session-cookie-name": "route", N + "session-cookie-expires": "3600",
        N + "session-cookie-secure": "true", N + "session-cookie-samesite": "Lax", N + "session-cookie-path": "/"}),
        nginx_ingress("hashed", "hashed.com", {N + "upstream-hash-by": "$http_x_user"}, service="api"),
        nginx_ingress("client", "client.com", {N + "upstream-hash-by": "$remote_addr"}, service="cart"),
        nginx_ingress("query", "query.com", {N + "upstream-hash-by": "$arg_tenant"}, service="tenants")]
    result = translator.translate(ingresses, None, output_api=output_api)
    assert not [f for f in result.findings if f.code in ("hash-key-not-translated", "invalid-annotation")]
    requests = [Request(host, "/") for host in ("sticky.com", "hashed.com", "client.com", "query.com")]
    answer = route_oracle.run([route_oracle.case("hash", result.resources, requests)])[0]
    policies = _route_actions(answer, "hashPolicy")
    assert policies["web.shop:80"] == [{"cookie": {"name": "route", "ttl": "3600s", "path": "/", "attributes": [
        {"name": "Secure"}, {"name": "SameSite", "value": "Lax"}]}}]
    assert policies["api.shop:80"] == [{"header": {"headerName": "x-user"}}]
    assert policies["cart.shop:80"] == [{"connectionProperties": {"sourceIp": True}}]
    assert policies["tenants.shop:80"] == [{"queryParameter": {"name": "tenant"}}]


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_a_configuration_snippet_of_headers_becomes_envoy_route_headers(output_api):
    ingresses = [nginx_ingress("web", "shop.com", {N + "configuration-snippet": (
        "more_set_headers 'X-Frame-Options: DENY' 'X-Offer: 10% off';\nmore_clear_headers Server;\n"
        "proxy_set_header X-Tenant shop;")})]
    result = translator.translate(ingresses, None, output_api=output_api)
    assert not [f for f in result.findings if f.severity == "error"]
    answer = route_oracle.run([route_oracle.case("snippet", result.resources, [Request("shop.com", "/")])])[0]
    routes = [route for configuration in answer.route_configurations.values()
              for host in configuration.get("virtualHosts") or [] for route in host.get("routes") or []
              if (route.get("route") or {}).get("cluster", "").endswith("web.shop.svc.cluster.local")]
    assert routes
    for route in routes:
        added = dict((h["header"]["key"], h["header"]["value"]) for h in route.get("responseHeadersToAdd") or [])
        # A literal % reaches Envoy as %%, which Envoy sends as % (it reads %...% as its variables).
        assert added.get("x-frame-options") == "DENY" and added.get("x-offer") == "10%% off"
        assert [name.lower() for name in route.get("responseHeadersToRemove") or []] == ["server"]
        requested = dict((h["header"]["key"].lower(), h["header"]["value"]) for h in route.get("requestHeadersToAdd") or [])
        assert requested.get("x-tenant") == "shop"


def test_proxy_next_upstream_becomes_envoy_retries():
    ingresses = [nginx_ingress("plain", "plain.com", {}),
                 nginx_ingress("tries", "tries.com", {N + "proxy-next-upstream": "error timeout",
                                                      N + "proxy-next-upstream-tries": "4"}, service="api"),
                 nginx_ingress("codes", "codes.com", {N + "proxy-next-upstream": "error http_502 http_503 non_idempotent"},
                               service="cart"),
                 nginx_ingress("off", "off.com", {N + "proxy-next-upstream": "off"}, service="static")]
    result = translator.translate(ingresses, None)
    requests = [Request(host, "/") for host in ("plain.com", "tries.com", "codes.com", "off.com")]
    policies = _route_actions(route_oracle.run([route_oracle.case("retries", result.resources, requests)])[0],
                              "retryPolicy")
    default = policies["web.shop:80"]  # Istio's own retries, where the Ingress said nothing
    assert default["numRetries"] == 2 and "retriable-status-codes" in default["retryOn"]
    assert policies["api.shop:80"]["numRetries"] == 3
    assert policies["api.shop:80"]["retryOn"] == "connect-failure,refused-stream"
    assert policies["cart.shop:80"]["retryOn"] == "connect-failure,refused-stream,retriable-status-codes"
    assert policies["cart.shop:80"]["retriableStatusCodes"] == [502, 503] and policies["cart.shop:80"]["numRetries"] == 2
    assert policies["static.shop:80"] is None  # off: nginx tries one backend, and so does Envoy


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_two_auth_services_on_one_gateway_are_refused_as_istiod_would_deny_both(output_api):
    """Istio runs one CUSTOM provider per workload. With two registered, istiod configures no
    ext_authz filter and denies what either policy covers: the translation says so with an error
    naming both Ingresses, so `apply` refuses."""
    ingresses = [nginx_ingress("shop", "shop.com", {N + "auth-url": "http://oauth2-proxy.auth.svc:4180/oauth2/auth"}),
                 nginx_ingress("admin", "admin.com", {N + "auth-url": "http://staff-sso.auth.svc:9000/check"})]
    result = translator.translate(ingresses, None, output_api=output_api)
    conflicts = [f for f in result.findings if f.code == "auth-providers-conflict"]
    assert sorted(f.ref for f in conflicts) == ["shop/admin", "shop/shop"] and result.has_errors
    assert all(f.severity == "error" and "oauth2-proxy" in f.message and "staff-sso" in f.message for f in conflicts)
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "auth"},
                 "spec": {"ports": [{"name": "http", "port": port}]}} for name, port in (("oauth2-proxy", 4180),
                                                                                         ("staff-sso", 9000))]
    case = route_oracle.case("two-providers", result.resources + services,
                             [Request("shop.com", "/"), Request("admin.com", "/")])
    case["mesh_config"] = yaml.safe_dump({"extensionProviders": result.extension_providers})
    assert len(result.extension_providers) == 2
    answer = route_oracle.run([case])[0]
    chains = [key for key in answer.http_filters if "_80" in key or key.startswith("0.0.0.0_80")]
    assert chains
    for chain in chains:
        assert "envoy.filters.http.ext_authz" not in answer.http_filters[chain]
        rbac = [t for t in answer.typed_filters[chain] if "rbac" in t.get("@type", "")]
        assert any(r.get("rules", {}).get("action", "ALLOW") == "DENY" and r["rules"].get("policies") for r in rbac)


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_redirects_keep_their_code_and_a_non_default_port(output_api):
    ingresses = [nginx_ingress("moved", "old.shop.com", {N + "permanent-redirect": "https://new.shop.com:8443/landing",
                                                         N + "permanent-redirect-code": "308"}),
                 nginx_ingress("temp", "temp.shop.com", {N + "temporal-redirect": "http://other.shop.com/x"})]
    result = translator.translate(ingresses, None, output_api=output_api)
    requests = [Request("old.shop.com", "/a"), Request("temp.shop.com", "/b")]
    answer = route_oracle.run([route_oracle.case("redirects", result.resources, requests)])[0]
    assert oracle_verdict(answer, 0) == Verdict("redirect", "https://new.shop.com:8443/landing", 308)
    assert oracle_verdict(answer, 1) == Verdict("redirect", "http://other.shop.com/x", 302)


def _rbac_text(answer):
    return json.dumps([t for filters in answer.typed_filters.values() for t in filters if "rbac" in t.get("@type", "")])


def test_source_ranges_cover_host_headers_with_a_port():
    ingress = nginx_ingress("web", "shop.com", {N + "whitelist-source-range": "10.0.0.0/8"}, namespace="istio-ingress")
    result = translator.translate([ingress], None)
    answer = route_oracle.run([route_oracle.case("ranges", result.resources, [Request("shop.com:80", "/")])])[0]
    # The gateway routes `shop.com:80` to shop.com; istiod's RBAC for the DENY policy must match it too.
    assert oracle_verdict(answer, 0) == Verdict("route", (("web.istio-ingress:80", 100),))
    text = _rbac_text(answer)
    assert '"exact": "shop.com"' in text and '"prefix": "shop.com:"' in text


def test_gateway_api_policies_reach_the_pods_of_every_gateway_of_a_split_estate():
    hosts = ["h{0}.shop.com".format(i) for i in range(70)]
    rules = [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}
             for h in hosts]
    tls = [{"hosts": [h], "secretName": "cert-{0}".format(i)} for i, h in enumerate(hosts)]
    ingress = nginx_ingress("web", None, {N + "whitelist-source-range": "10.0.0.0/8"}, namespace="istio-ingress",
                            tls=tls, rules=rules)
    result = translator.translate([ingress], None, output_api="gateway-api")
    second = [r["metadata"]["name"] for r in result.resources if r["kind"] == "Gateway"][1]
    answer = route_oracle.run([route_oracle.case("split", result.resources, [Request("h69.shop.com", "/", "https")],
                                                 gateway=second)])[0]
    assert oracle_verdict(answer, 0) == Verdict("route", (("web.istio-ingress:80", 100),))
    assert '"10.0.0.0"' in _rbac_text(answer), "the second Gateway's pods have no source-range policy"


def _tls_chain(answer, host):
    """The DownstreamTlsContext of the one filter chain that ends TLS for SNI `host`."""
    chains = [chain["context"] for chain in answer.tls.values() if host in (chain.get("server_names") or [])]
    assert len(chains) == 1, (host, sorted(answer.tls))
    return chains[0]


def _route_headers(answer, port, host):
    """[(requestHeadersToAdd as {name: value}, requestHeadersToRemove)] of the routes istiod serves
    `host` with on the gateway port's route configurations, in order."""
    found = []
    for name, configuration in sorted(answer.route_configurations.items()):
        if not (name.startswith("http.{0}".format(port)) or name.startswith("https.{0}.".format(port))):
            continue
        for virtual_host in configuration.get("virtualHosts") or []:
            if not any(domain.split(":")[0] == host for domain in virtual_host.get("domains") or []):
                continue
            for route in virtual_host.get("routes") or []:
                if (route.get("route") or {}).get("cluster"):
                    found.append((dict((h["header"]["key"], h["header"]["value"]) for h in route.get("requestHeadersToAdd") or []),
                                  sorted(route.get("requestHeadersToRemove") or [])))
    return found


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_client_certificates_become_mutual_tls_servers_and_the_headers_nginx_sends(output_api):
    """auth-tls-* through istiod: the TLS context of each host's filter chain (client certificate
    required, optional, or not asked for; the CA read from the credential), and the ssl-client-*
    headers of each route on each port, a client's own removed first."""
    tls = [{"hosts": ["a.shop.com"], "secretName": "web-tls"}]
    ingresses = [
        nginx_ingress("strict", "a.shop.com", {N + "auth-tls-secret": "shop/partner-ca",
                                               N + "auth-tls-pass-certificate-to-upstream": "true"}, tls=tls),
        nginx_ingress("optional", "b.shop.com", {N + "auth-tls-secret": "shop/partner-ca", N + "ssl-redirect": "false",
                                                 N + "auth-tls-verify-client": "optional"},
                      tls=[{"hosts": ["b.shop.com"], "secretName": "web-tls"}]),
        nginx_ingress("open", "c.shop.com", {}, tls=[{"hosts": ["c.shop.com"], "secretName": "web-tls"}])]
    result = translator.translate(ingresses, None, output_api=output_api)
    assert not [f for f in result.findings if f.severity == "error"], result.findings
    requests = [Request("a.shop.com", "/", "https"), Request("b.shop.com", "/", "https"), Request("b.shop.com", "/"),
                Request("c.shop.com", "/", "https"), Request("a.shop.com", "/", "https")]
    case = route_oracle.case("client-certificates", result.resources, requests)
    # A connection made for c.shop.com (SNI) that asks for a.shop.com (HTTP/2 coalescing).
    case["calls"][4]["sni"] = "c.shop.com"
    answer = route_oracle.run([case])[0]

    gateways = [g for g in result.resources if g["kind"] == "Gateway"]
    credentials = dict((s["hosts"][0], s["tls"]["credentialName"]) for g in gateways
                       for s in g["spec"].get("servers") or [] if s.get("tls"))
    credentials.update((l["hostname"], l["tls"]["certificateRefs"][0]["name"]) for g in gateways
                       for l in g["spec"].get("listeners") or [] if l.get("tls") and l.get("hostname"))
    strict, optional, open_ = _tls_chain(answer, "a.shop.com"), _tls_chain(answer, "b.shop.com"), _tls_chain(answer, "c.shop.com")
    assert strict.get("requireClientCertificate") is True
    assert not optional.get("requireClientCertificate") and not open_.get("requireClientCertificate")
    for context, host in ((strict, "a.shop.com"), (optional, "b.shop.com")):
        common = context["commonTlsContext"]
        # kubernetes://<name> for Istio's API, kubernetes-gateway://<namespace>/<name> for the Gateway API.
        [certificate] = [c["name"] for c in common["tlsCertificateSdsSecretConfigs"]]
        assert certificate in ("kubernetes://" + credentials[host],
                               "kubernetes-gateway://istio-ingress/" + credentials[host]), certificate
        validation = common["combinedValidationContext"]["validationContextSdsSecretConfig"]["name"]
        assert validation == certificate + "-cacert"
    assert "combinedValidationContext" not in open_["commonTlsContext"]
    assert len({credentials["a.shop.com"], credentials["b.shop.com"], credentials["c.shop.com"]}) == 3

    removed = sorted(["ssl-client-cert", "ssl-client-verify", "ssl-client-subject-dn", "ssl-client-issuer-dn"])
    # Envoy's variables pass through istiod as they are (Envoy fills them from the peer certificate).
    assert _route_headers(answer, 443, "a.shop.com") == [({
        "ssl-client-subject-dn": "%DOWNSTREAM_PEER_SUBJECT%", "ssl-client-issuer-dn": "%DOWNSTREAM_PEER_ISSUER%",
        "ssl-client-cert": "%DOWNSTREAM_PEER_CERT%", "ssl-client-verify": "SUCCESS"}, removed)]
    assert _route_headers(answer, 443, "b.shop.com") == [({
        "ssl-client-subject-dn": "%DOWNSTREAM_PEER_SUBJECT%", "ssl-client-issuer-dn": "%DOWNSTREAM_PEER_ISSUER%"}, removed)]
    assert _route_headers(answer, 80, "b.shop.com") == [({"ssl-client-verify": "NONE"}, removed)]
    assert _route_headers(answer, 443, "c.shop.com") == [({}, [])]
    for index in range(4):
        assert route_oracle.cluster_target(answer.envoy(index).cluster) == "web.shop:80", index
    # The coalesced request reaches no route of a.shop.com: each HTTPS server has routes of its own.
    assert answer.envoy(4).kind == "none"
