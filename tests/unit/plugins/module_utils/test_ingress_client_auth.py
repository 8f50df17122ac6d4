"""Client-certificate authentication (auth-tls-*): ingress_client_auth.py's reading of the
annotations as ingress-nginx reads them, and what a translation makes of a host with them.

istiod's own view of the result (the listeners' TLS contexts and the routes' headers) is checked
in tests/integration/test_route_oracle.py."""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import certificates
from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator
from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress_client_auth as client_auth

from .test_ingress import ingress, path, rule

N = "nginx.ingress.kubernetes.io/"
TLS_HEADERS = {"ssl-client-subject-dn": "%DOWNSTREAM_PEER_SUBJECT%", "ssl-client-issuer-dn": "%DOWNSTREAM_PEER_ISSUER%"}
REMOVED = ["ssl-client-cert", "ssl-client-verify", "ssl-client-subject-dn", "ssl-client-issuer-dn"]


def annotated(name, host, annotations, tls=True, created="2024-01-01T00:00:00Z", secret="web-tls"):
    return ingress(name, rule(host, path("/", "web")), annotations=dict((N + k, v) for k, v in annotations.items()),
                   tls=[{"hosts": [host], "secretName": secret}] if tls else None, created=created)


def servers(result):
    gateway = [r for r in result.resources if r["kind"] == "Gateway"][0]
    return dict((tuple(s["hosts"]), s.get("tls")) for s in gateway["spec"]["servers"] if s["port"]["number"] == 443)


def http_of(result, host):
    return [r for r in result.resources if r["kind"] == "VirtualService" and r["spec"]["hosts"] == [host]][0]["spec"]["http"]


def codes(result):
    return sorted((f.ref, f.severity, f.code) for f in result.findings
                  if f.code not in ("https-redirect-keeps-trailing-slash", "secret-copy-needed"))


@pytest.mark.parametrize("annotations,expected", [
    ({}, None),
    ({"auth-tls-secret": "shop/ca"}, ("shop", "ca", "on", 1)),
    ({"auth-tls-secret": "/ca"}, ("shop", "ca", "on", 1)),
    ({"auth-tls-secret": "shop/ca", "auth-tls-verify-client": "optional", "auth-tls-verify-depth": "3"},
     ("shop", "ca", "optional", 3)),
    # Parse falls back to its defaults on values its checks refuse.
    ({"auth-tls-secret": "shop/ca", "auth-tls-verify-client": "ON", "auth-tls-verify-depth": "0"}, ("shop", "ca", "on", 1)),
    ({"auth-tls-secret": "shop/ca", "auth-tls-verify-client": "required", "auth-tls-verify-depth": "two"},
     ("shop", "ca", "on", 1)),
    ({"auth-tls-secret": "shop/ca", "auth-tls-verify-depth": "99999999999999999999"}, ("shop", "ca", "on", 1)),
])
def test_annotations_are_read_as_ingress_nginx_parses_them(annotations, expected):
    parsed = client_auth.read(dict((N + k, v) for k, v in annotations.items()), "shop")
    if expected is None:
        assert parsed is None
    else:
        assert (parsed.ca_namespace, parsed.ca_name, parsed.verify, parsed.depth) == expected


@pytest.mark.parametrize("value,why", [("ca", "not namespace/name"), ("a/b/c", "not namespace/name"),
                                       ("other/ca", "another namespace"), ("shop/", "names no Secret")])
def test_a_secret_ingress_nginx_refuses_is_a_refusal_that_names_why(value, why):
    parsed = client_auth.read({N + "auth-tls-secret": value}, "shop")
    assert isinstance(parsed, client_auth.Refused) and why in parsed.reason


@pytest.mark.parametrize("annotations,annotation", [
    ({"auth-tls-secret": "shop/ca!"}, "auth-tls-secret"),
    ({"auth-tls-secret": "shop/ca", "auth-tls-pass-certificate-to-upstream": "yes"}, "auth-tls-pass-certificate-to-upstream"),
    ({"auth-tls-secret": "shop/ca", "auth-tls-error-page": "http://x.org/a?b"}, "auth-tls-error-page"),
    ({"auth-tls-secret": "shop/ca", "auth-tls-match-cn": "O=x"}, "auth-tls-match-cn"),
])
def test_a_value_the_validators_refuse_drops_the_whole_ingress(annotations, annotation):
    parsed = client_auth.read(dict((N + k, v) for k, v in annotations.items()), "shop")
    assert isinstance(parsed, client_auth.Dropped) and parsed.annotation == N + annotation
    result = translator.translate([annotated("a", "a.org", annotations)])
    assert ("shop/a", "error", "invalid-annotation") in codes(result)


def test_verify_on_gets_a_mutual_server_with_the_ca_and_the_headers_of_a_verified_client():
    result = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca",
                                                            "auth-tls-pass-certificate-to-upstream": "true"}),
                                   annotated("b", "b.org", {})])
    credential = client_auth.credential_name("shop", "web-tls", client_auth.read({N + "auth-tls-secret": "shop/ca"}, "shop"))
    assert servers(result)[("a.org",)] == {"mode": "MUTUAL", "credentialName": credential}
    assert servers(result)[("b.org",)]["mode"] == "SIMPLE"
    assert {"source_namespace": "shop", "source_name": "web-tls", "target_namespace": "istio-ingress",
            "target_name": credential, "ca_source_namespace": "shop", "ca_source_name": "ca"} in result.secrets_to_copy
    # Plain HTTP is redirected, so the served entry sees HTTPS only: the headers of a verified client.
    redirect, served = http_of(result, "a.org")
    assert "redirect" in redirect
    assert served["headers"]["request"] == {"set": dict(TLS_HEADERS, **{"ssl-client-verify": "SUCCESS",
                                                                        "ssl-client-cert": "%DOWNSTREAM_PEER_CERT%"}),
                                            "remove": REMOVED}
    assert ("shop/a", "warning", "client-certificate-depth") in codes(result)
    assert not [c for c in codes(result) if c[1] == "error"]


def test_without_the_https_redirect_plain_http_says_none_and_https_names_the_certificate():
    result = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca", "ssl-redirect": "false",
                                                            "auth-tls-verify-client": "optional"})])
    over_tls, plain = http_of(result, "a.org")
    assert over_tls["match"] == [{"uri": {"prefix": "/"}, "port": 443}]
    assert over_tls["headers"]["request"] == {"set": TLS_HEADERS, "remove": REMOVED}
    assert "match" not in plain or all("port" not in m for m in plain["match"])
    assert plain["headers"]["request"] == {"set": {"ssl-client-verify": "NONE"}, "remove": REMOVED}
    assert list(servers(result).values())[0]["mode"] == "OPTIONAL_MUTUAL"
    assert ("shop/a", "warning", "client-certificate-verify-header") in codes(result)


def test_the_oldest_ingress_of_a_host_sets_its_client_certificates_for_every_path():
    older = ingress("old", rule("a.org", path("/a", "web")), created="2023-01-01T00:00:00Z",
                    annotations={N + "auth-tls-secret": "shop/ca-old"}, tls=[{"hosts": ["a.org"], "secretName": "web-tls"}])
    newer = ingress("new", rule("a.org", path("/b", "api")), annotations={N + "auth-tls-secret": "shop/ca-new",
                                                                          N + "auth-tls-verify-client": "optional"})
    result = translator.translate([newer, older])
    [(hosts, tls)] = servers(result).items()
    assert hosts == ("a.org",) and tls["mode"] == "MUTUAL"
    copies = [c for c in result.secrets_to_copy if c.get("ca_source_name")]
    assert [c["ca_source_name"] for c in copies] == ["ca-old"]
    served = [entry for entry in http_of(result, "a.org") if "route" in entry]
    assert len(served) == 2 and all(e["headers"]["request"]["set"]["ssl-client-verify"] == "SUCCESS" for e in served)


def test_a_refused_secret_on_any_ingress_of_the_host_is_an_error_as_nginx_answers_403():
    good = annotated("good", "a.org", {"auth-tls-secret": "shop/ca"}, created="2023-01-01T00:00:00Z")
    bad = ingress("bad", rule("a.org", path("/x", "web")), annotations={N + "auth-tls-secret": "ca"})
    result = translator.translate([good, bad])
    assert ("shop/bad", "error", "access-control-lost") in codes(result)
    message = [f.message for f in result.findings if f.ref == "shop/bad" and f.code == "access-control-lost"][0]
    assert "403" in message and "a.org" in message


def test_a_secret_known_missing_is_refused():
    result = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca"})],
                                  known_secrets=[("shop", "web-tls")])
    assert ("shop/a", "error", "access-control-lost") in codes(result)


def test_optional_no_ca_and_match_cn_are_errors_and_off_asks_for_nothing():
    no_ca = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca",
                                                           "auth-tls-verify-client": "optional_no_ca"})])
    assert ("shop/a", "error", "access-control-lost") in codes(no_ca)
    match_cn = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca", "auth-tls-match-cn": "CN=x"})])
    assert ("shop/a", "error", "access-control-lost") in codes(match_cn)
    off = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca", "auth-tls-verify-client": "off"})])
    assert list(servers(off).values())[0]["mode"] == "SIMPLE"
    served = [entry for entry in http_of(off, "a.org") if "route" in entry]
    assert served[0]["headers"]["request"] == {"set": {"ssl-client-verify": "NONE"}, "remove": REMOVED}


def test_other_certificate_sources_refuse_rather_than_drop_the_check():
    issued = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca"})], certificates="issued")
    assert ("shop/a", "error", "access-control-lost") in codes(issued)
    external = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca"})], certificates="external")
    assert ("shop/a", "error", "access-control-lost") in codes(external)


def test_the_gateway_api_output_asks_for_client_certificates_with_istiods_listener_option():
    result = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca", "ssl-redirect": "false"}),
                                   annotated("b", "b.org", {})], output_api="gateway-api")
    assert not [c for c in codes(result) if c[1] == "error"]
    gateway = [r for r in result.resources if r["kind"] == "Gateway"][0]
    listeners = dict((l.get("hostname"), l) for l in gateway["spec"]["listeners"] if l["protocol"] == "HTTPS")
    assert listeners["a.org"]["tls"]["options"] == {"gateway.istio.io/tls-terminate-mode": "MUTUAL"}
    assert "options" not in listeners["b.org"]["tls"]
    routes = [r for r in result.resources if r["kind"] == "HTTPRoute" and r["spec"]["hostnames"] == ["a.org"]]
    modifiers = sorted(json_of(f["requestHeaderModifier"]) for r in routes for rule in r["spec"]["rules"]
                       for f in rule.get("filters", []) if f["type"] == "RequestHeaderModifier")
    # Plain HTTP and HTTPS get HTTPRoutes of their own: NONE on one, the certificate's on the other.
    assert len(routes) == 2 and len(modifiers) == 2
    assert any('"ssl-client-verify", "value": "SUCCESS"' in m for m in modifiers)
    assert any('"ssl-client-verify", "value": "NONE"' in m for m in modifiers)
    assert all('"remove": ["ssl-client-cert", "ssl-client-verify"' in m for m in modifiers)


def json_of(value):
    import json
    return json.dumps(value)


def test_two_hosts_on_one_certificate_with_different_cas_get_credentials_of_their_own():
    result = translator.translate([annotated("a", "a.org", {"auth-tls-secret": "shop/ca-a"}),
                                   annotated("b", "b.org", {"auth-tls-secret": "shop/ca-b"}),
                                   annotated("c", "c.org", {})])
    names = dict((hosts, tls["credentialName"]) for hosts, tls in servers(result).items())
    assert len(set(names.values())) == 3
    assert sorted(c.get("ca_source_name") or "" for c in result.secrets_to_copy) == ["", "ca-a", "ca-b"]


def test_a_host_two_secrets_name_keeps_one_server_only_the_one_with_the_ca():
    first = annotated("a", "a.org", {"auth-tls-secret": "shop/ca"}, created="2023-01-01T00:00:00Z", secret="a-tls")
    second = annotated("b", "a.org", {}, secret="b-tls")
    result = translator.translate([first, second])
    assert [tls["mode"] for hosts, tls in servers(result).items() if "a.org" in hosts] == ["MUTUAL"]
    assert any(found[2] == "tls-host-conflict" for found in codes(result))


def test_the_copy_holds_the_certificate_of_the_source_and_the_ca_of_the_auth_tls_secret():
    source = {"metadata": {"namespace": "shop", "name": "web-tls"},
              "data": {"tls.crt": "Y3J0", "tls.key": "a2V5", "ca.crt": "aXNzdWVy", "other": "eA=="}}
    ca = {"metadata": {"namespace": "shop", "name": "ca"}, "data": {"ca.crt": "Y2E=", "ca.crl": "Y3Js", "tls.key": "bm8="}}
    copied = certificates.copied_secret(source, "istio-ingress", "x", "gw", ca)
    assert copied["data"] == {"tls.crt": "Y3J0", "tls.key": "a2V5", "ca.crt": "Y2E=", "ca.crl": "Y3Js"}
    assert copied["metadata"]["annotations"][certificates.CA_COPIED_FROM] == "shop/ca"
    assert certificates.copied_secret(source, "istio-ingress", "x", "gw")["data"]["ca.crt"] == "aXNzdWVy"


@pytest.mark.parametrize("data,problem", [({}, "has no ca.crt"), ({"ca.crt": "bm90IHBlbQ=="}, "not PEM"),
                                          ({"ca.crt": "!!"}, "has no ca.crt")])
def test_a_ca_secret_that_cannot_verify_certificates_is_named(data, problem):
    assert problem in certificates.ca_problem({"data": data})


MUTATED = [None, 7, 3.5, float("nan"), 10 ** 30, [], ["shop/ca"], {"a": "b"}, True, "", "shop/" + "c" * 5000,
           "((((" * 50, "$host", "\u00e9/\u00e9"]


@pytest.mark.parametrize("value", MUTATED)
@pytest.mark.parametrize("name", ["auth-tls-secret", "auth-tls-verify-client", "auth-tls-verify-depth",
                                  "auth-tls-error-page", "auth-tls-pass-certificate-to-upstream", "auth-tls-match-cn",
                                  "configuration-snippet", "server-snippet"])
@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_mutated_values_of_the_new_annotations_give_findings_never_a_traceback(name, value, output_api):
    annotations = {"auth-tls-secret": "shop/ca", name: value}
    ingress_object = annotated("a", "a.org", {})
    ingress_object["metadata"]["annotations"] = dict((N + k, v) for k, v in annotations.items())
    result = translator.translate([ingress_object], output_api=output_api)
    assert result.resources or result.findings
