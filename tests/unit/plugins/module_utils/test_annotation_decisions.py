"""The decision table (ingress_annotation_decisions.py): what the translation reports for each
annotation, the table docs/ingress-translation.md shows, and the canary matches it decides on.

ingress-nginx's own list of annotations, and its reading of the ones that need another, are
checked against the pinned controller in tests/integration/test_annotation_decisions.py; the
canary matches through real nginx and istiod in tests/integration/test_nginx_oracle.py.
"""

import os
import random
import re

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator
from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress_annotation_decisions as decisions
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress_canary import cookie_regex, header_pattern_regex

N = "nginx.ingress.kubernetes.io/"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DOC = os.path.join(REPO, "docs", "ingress-translation.md")
BEGIN, END = "<!-- decision table: begin -->\n", "<!-- decision table: end -->"

# A value each annotation's ingress-nginx validator accepts; booleans and numbers by default.
EXAMPLES = {
    "affinity": "cookie", "affinity-mode": "persistent", "affinity-canary-behavior": "legacy",
    "session-cookie-name": "route", "session-cookie-path": "/", "session-cookie-max-age": "3600",
    "session-cookie-expires": "3600", "session-cookie-domain": "example.com", "session-cookie-samesite": "Strict",
    "upstream-hash-by": "$remote_addr", "load-balance": "ewma", "app-root": "/app", "rewrite-target": "/",
    "permanent-redirect": "https://elsewhere.org/", "temporal-redirect": "https://elsewhere.org/",
    "permanent-redirect-code": "308", "temporal-redirect-code": "307", "backend-protocol": "HTTPS",
    "upstream-vhost": "internal.example.com", "x-forwarded-prefix": "/shop", "default-backend": "fallback",
    "server-alias": "b.example.com", "allowlist-source-range": "10.0.0.0/8", "whitelist-source-range": "10.0.0.0/8",
    "denylist-source-range": "192.0.2.0/24", "limit-allowlist": "10.0.0.0/8", "limit-whitelist": "10.0.0.0/8",
    "global-rate-limit-ignored-cidrs": "10.0.0.0/8", "global-rate-limit-window": "1m",
    "global-rate-limit-key": "$remote_addr", "auth-url": "http://auth.sso.svc.cluster.local/check",
    "auth-signin": "https://a.example.com/login", "auth-method": "POST", "auth-type": "basic",
    "auth-secret": "shop/htpasswd", "auth-secret-type": "auth-file", "auth-realm": "Staff",
    "auth-tls-secret": "shop/ca", "auth-tls-verify-client": "on", "auth-tls-match-cn": "CN=client",
    "auth-tls-error-page": "https://a.example.com/error", "auth-response-headers": "X-User",
    "auth-cache-key": "$remote_user", "auth-cache-duration": "200 10m", "auth-request-redirect": "/after",
    "auth-proxy-set-headers": "shop/headers", "auth-signin-redirect-param": "rd", "auth-snippet": "return 200;",
    "satisfy": "any", "configuration-snippet": "more_set_headers 'A: b';", "server-snippet": "return 403;",
    "stream-snippet": "server { listen 9000; }", "modsecurity-snippet": "SecRuleEngine On",
    "modsecurity-transaction-id": "$request_id", "custom-headers": "shop/headers", "custom-http-errors": "404",
    "proxy-body-size": "8m", "client-body-buffer-size": "1m", "proxy-buffer-size": "8k", "proxy-buffering": "on",
    "proxy-busy-buffers-size": "16k", "proxy-max-temp-file-size": "1024m", "proxy-request-buffering": "off",
    "proxy-http-version": "1.0", "connection-proxy-header": "keep-alive", "proxy-cookie-domain": "off",
    "proxy-cookie-path": "/ /shop", "proxy-redirect-from": "http://internal/", "proxy-redirect-to": "/",
    "proxy-next-upstream": "error timeout", "proxy-ssl-secret": "shop/client", "proxy-ssl-verify": "on",
    "proxy-ssl-name": "backend.internal", "proxy-ssl-server-name": "on", "proxy-ssl-ciphers": "HIGH",
    "proxy-ssl-protocols": "TLSv1.3", "ssl-ciphers": "HIGH", "fastcgi-index": "index.php",
    "fastcgi-params-configmap": "shop/fastcgi", "mirror-target": "https://mirror.example.com$request_uri",
    "mirror-host": "mirror.example.com", "mirror-request-body": "off", "opentelemetry-operation-name": "op",
    "enable-cors": "true", "cors-allow-origin": "https://app.example.com", "cors-allow-methods": "GET",
    "cors-allow-headers": "X-A", "cors-expose-headers": "X-B", "canary-by-header": "X-Beta",
    "canary-by-header-value": "yes", "canary-by-header-pattern": "^beta", "canary-by-cookie": "beta",
    "canary-weight": "20", "canary-weight-total": "200", "canary": "true",
}
CANARY = [name for name in decisions.DECISIONS if name.startswith("canary-")]


def example(name):
    if name in EXAMPLES:
        return EXAMPLES[name]
    return "true" if any(word in name for word in ("enable", "ssl-redirect", "preserve", "use-", "service-upstream",
                                                   "passthrough", "pass-", "always", "share", "secure",
                                                   "samesite-none", "change", "prefer", "subset", "http2",
                                                   "disable", "trust", "canary", "from-to")) else "5"


def ingress(name, backend, annotations, created="2024-01-01T00:00:00Z"):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "shop", "creationTimestamp": created,
                         "annotations": dict((N + k, v) for k, v in annotations.items())},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"}],
                     "rules": [{"host": "a.example.com", "http": {"paths": [
                         {"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]}}


def findings_for(name, output_api):
    decision = decisions.DECISIONS[name]
    annotations = {name: example(name)}
    if decision.needs:
        annotations[decision.needs] = example(decision.needs)
    if name.startswith("cors-"):
        annotations["enable-cors"] = "true"  # ingress-nginx renders no CORS without it
    if name in CANARY or name == "canary":
        annotations["canary"] = "true"
        annotations.setdefault("canary-weight", "20")
        ingresses = [ingress("stable", "web", {}), ingress("beta", "web-v2", annotations, "2024-02-01T00:00:00Z")]
    else:
        ingresses = [ingress("web", "web", annotations)]
    result = translator.translate(ingresses, None, output_api=output_api)
    # The Gateway API emitter names a family as one (cors-*, proxy-next-upstream*).
    families = [family for family in ("cors-", "proxy-next-upstream") if name.startswith(family)]
    return [f for f in result.findings if N + name in f.message or "{0}:".format(name) in f.message
            or f.message.startswith(name + " ") or any(family + "*" in f.message for family in families)]


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
@pytest.mark.parametrize("name", sorted(decisions.DECISIONS))
def test_the_translation_reports_what_the_table_decides(name, output_api):
    named = findings_for(name, output_api)
    found = set(f.severity for f in named)
    codes = [f.code for f in named if f.severity != "info"]
    expected = decisions.outcome(name, output_api)
    if expected == decisions.TRANSLATED:
        # auth-url is kept with a warning: its extension provider must be registered (its finding).
        assert not found & {"error", "warning"} or (name == "auth-url" and codes == ["extension-provider-required"]), name
    elif expected == decisions.ERROR:
        assert "error" in found, name
    else:
        assert found - {"info"} == {"warning"}, name


def test_the_docs_show_the_table_the_code_decides():
    with open(DOC) as handle:
        text = handle.read()
    assert BEGIN in text and END in text, "docs/ingress-translation.md lost its decision table markers"
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0]
    # `python3 tools/annotation_table.py --write` renders it again.
    assert shown == decisions.decision_table()


def test_every_name_is_decided_once_with_a_reason():
    for name, decision in decisions.DECISIONS.items():
        assert decision.istio in (decisions.TRANSLATED, decisions.ERROR, decisions.WARNING), name
        assert decision.gateway_api in (decisions.TRANSLATED, decisions.ERROR, decisions.WARNING), name
        assert (decision.how and decision.proof) if decision.istio == decisions.TRANSLATED else decision.why, name
        assert decision.needs is None or decision.needs in decisions.DECISIONS, name
    assert decisions.outcome("no-such-annotation", "istio") is None


# --- canary matches --------------------------------------------------------------------------

def nginx_cookie(header, name):
    """nginx's $cookie_<name> of one Cookie header (ngx_http_parse_multi_header_lines), or None: a
    transcription for fast checks; real nginx is the proof (test_nginx_oracle)."""
    start, end = 0, len(header)
    while start < end:
        if header[start:start + len(name)].lower() == name.lower():
            position = start + len(name)
            while position < end and header[position] == " ":
                position += 1
            if position < end and header[position] == "=":
                position += 1
                while position < end and header[position] == " ":
                    position += 1
                last = header.find(";", position)
                return header[position:] if last < 0 else header[position:last]
            start = position
        while start < end:
            start += 1
            if header[start - 1] in ";,":
                break
        while start < end and header[start] == " ":
            start += 1
    return None


@pytest.mark.parametrize("name", ["beta", "Beta_Tester2", "b.t-2", "a", "x:y"])
def test_cookie_regex_matches_where_nginx_reads_the_value(name):
    rng = random.Random(name)
    pieces = [name, name.upper(), "x" + name, name + "x", "always", "never", "=", " ", ";", ",", "a=1", "always;",
              name + "=always", name + " = always", name + "=never", "; "]
    checked = 0
    for _sample in range(3000):
        header = "".join(rng.choice(pieces) for piece in range(rng.randint(1, 7))).lstrip(" ")
        for value in ("always", "never"):
            expected = nginx_cookie(header, name) == value
            assert (re.fullmatch(cookie_regex(name, value), header) is not None) == expected, (header, value)
            checked += expected
    assert checked > 50  # the samples reach the matching case, not only the others


def test_header_pattern_is_an_unanchored_search_as_balancer_lua_does():
    assert re.fullmatch(header_pattern_regex("gam+a"), "xgammax")
    assert re.fullmatch(header_pattern_regex("^(alpha|beta)$"), "beta")
    assert not re.fullmatch(header_pattern_regex("^(alpha|beta)$"), "xbeta")


def test_canary_by_cookie_and_pattern_become_routes_in_balancer_lua_order():
    canary = ingress("beta", "web-v2", {"canary": "true", "canary-by-header": "X-Beta", "canary-by-cookie": "beta",
                                        "canary-weight": "10"}, "2024-02-01T00:00:00Z")
    result = translator.translate([ingress("stable", "web", {}), canary], None)
    service = [r for r in result.resources if r["kind"] == "VirtualService"][0]["spec"]
    steering = [(name, "always" in str(match) and "never" not in str(match))
                for route in service["http"] if route.get("route") for m in route["match"] for name, match in
                (m.get("headers") or {}).items()]
    # The header's always and never first, then the cookie's (the https routes; port 80 redirects).
    assert steering == [("X-Beta", True), ("X-Beta", False), ("cookie", True), ("cookie", False)]
    assert not [f for f in result.findings if f.severity == "error"]


@pytest.mark.parametrize("annotations,problem", [
    ({"canary-by-header": "X-A", "canary-by-header-pattern": "(?=a)b"}, "canary-by-header-pattern"),
    ({"canary-by-cookie": "c" * 200}, "canary-by-cookie"),
    ({"canary-by-cookie": "my cookie"}, "canary-by-cookie")])
def test_a_canary_match_that_cannot_be_kept_is_an_error(annotations, problem):
    canary = ingress("beta", "web-v2", dict(annotations, canary="true"), "2024-02-01T00:00:00Z")
    result = translator.translate([ingress("stable", "web", {}), canary], None)
    errors = [f for f in result.findings if f.code == "canary-not-translated"]
    assert len(errors) == 1 and problem in errors[0].message


def test_a_canary_value_ingress_nginx_refuses_is_ignored_as_it_does():
    canary = ingress("beta", "web-v2", {"canary": "true", "canary-by-cookie": "be$ta", "canary-weight": "10"},
                     "2024-02-01T00:00:00Z")
    result = translator.translate([ingress("stable", "web", {}), canary], None)
    assert [(f.severity, f.code) for f in result.findings if "canary-by-cookie" in f.message] == [
        ("warning", "invalid-annotation")]
    service = [r for r in result.resources if r["kind"] == "VirtualService"][0]["spec"]
    assert not [m for route in service["http"] for m in route.get("match") or [] if "headers" in m]


def test_coverage_counts_ingresses_per_annotation_and_what_became_of_it():
    annotations = [("shop/a", {N + "rewrite-target": "/", N + "configuration-snippet": "deny all;",
                               N + "enable-cors": "true", N + "cors-allow-origin": "https://x.org"}),
                   ("shop/b", {N + "rewrite-target": "/", N + "no-such-thing": "1", "other.io/x": "y"}),
                   ("shop/c", {N + "auth-url": "https://$host/auth"})]
    made = [ingress(ref.split("/")[1], "web", dict((k[len(N):], v) for k, v in found.items() if k.startswith(N)))
            for ref, found in annotations]
    result = translator.translate(made, None, output_api="gateway-api")
    table = result.as_dict()["annotations"]
    assert table["rewrite-target"] == {"ingresses": 2, "translated": 2, "warning": 0, "error": 0,
                                       "decision": "translated"}
    # Translated in general (its headers), refused here (deny).
    assert table["configuration-snippet"] == {"ingresses": 1, "translated": 0, "warning": 0, "error": 1,
                                              "decision": "translated"}
    # Named as a family by the Gateway API output's warning.
    assert table["cors-allow-origin"]["warning"] == 1 and table["enable-cors"]["decision"] == "warning"
    assert table["no-such-thing"] == {"ingresses": 1, "translated": 0, "warning": 1, "error": 0, "decision": "unknown"}
    # Translated in general, refused for this value: what became of it on this Ingress.
    assert table["auth-url"] == {"ingresses": 1, "translated": 0, "warning": 0, "error": 1, "decision": "translated"}
    assert "other.io/x" not in table and "x" not in table


@pytest.mark.parametrize("name,seen", [("X_Beta", "X-Beta"), ("x-beta", "x-beta"), ("X.Beta", None), ("a/b", None),
                                       ("X Beta", None)])
def test_the_canary_header_is_the_one_nginx_reads(name, seen):
    canary = ingress("beta", "web-v2", {"canary": "true", "canary-by-header": name}, "2024-02-01T00:00:00Z")
    result = translator.translate([ingress("stable", "web", {}), canary], None)
    service = [r for r in result.resources if r["kind"] == "VirtualService"][0]["spec"]
    names = set(name for route in service["http"] for m in route.get("match") or [] for name in m.get("headers") or {})
    assert names == (set([seen]) if seen else set())
    assert bool([f for f in result.findings if f.code == "canary-header-never-seen"]) == (seen is None)
