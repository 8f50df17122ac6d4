"""Each ingress-nginx annotation family's handler on its own (ingress_annotations.py).

The routing these options produce is checked end to end in test_ingress.py and through istiod in
tests/integration/test_route_oracle.py; here each handler's reading of its annotations is pinned.
"""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress_annotations as handlers
from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress_annotation_decisions as decisions
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress_model import Destination, Retries, redirect

N = handlers.NGINX


def context(annotations, hosts=("shop.com",), destinations=(("web.shop.svc.cluster.local", 80),)):
    return handlers.Annotations(dict((N + k, v) for k, v in annotations.items()), "shop/web", [], {},
                                list(destinations), list(hosts), "cluster.local")


def codes(ctx):
    return sorted((f.severity, f.code) for f in ctx.findings)


def test_external_auth_keeps_an_in_cluster_service_and_names_the_provider():
    ctx = context({"auth-url": "http://auth.sso.svc:9000/check", "auth-response-headers": "X-User"})
    handlers.external_auth(ctx)
    assert ctx.auth["envoyExtAuthzHttp"]["service"] == "auth.sso.svc.cluster.local"
    assert ctx.auth["envoyExtAuthzHttp"]["port"] == 9000 and ctx.auth["envoyExtAuthzHttp"]["pathPrefix"] == "/check"
    assert ctx.auth["envoyExtAuthzHttp"]["headersToUpstreamOnAllow"] == ["X-User"]
    assert ctx.policies == {("ext", "shop/web"): [(ctx.auth, ["shop.com"])]}
    assert codes(ctx) == [("warning", "extension-provider-required")]


@pytest.mark.parametrize("url", ["https://$host/oauth2/auth", "https://login.example.org/check", "auth.sso.svc/check",
                                 "http://Auth.sso.svc/x", "http://auth.sso.svc:99999/x", "ftp://auth.sso.svc/"])
def test_external_auth_refuses_what_is_not_an_in_cluster_http_service(url):
    ctx = context({"auth-url": url})
    handlers.external_auth(ctx)
    assert ctx.auth is False and not ctx.policies
    assert codes(ctx) == [("error", "access-control-lost")]


def test_unhandled_names_every_annotation_it_cannot_keep():
    ctx = context({"configuration-snippet": "x", "auth-type": "basic", "canary-by-cookie": "beta",
                   "ssl-redirect": "false"})
    ctx.annotations["nginx.org/client-max-body-size"] = "1m"
    handlers.unhandled(ctx)
    # configuration-snippet, canary-by-cookie and ssl-redirect are translated by their handlers.
    assert codes(ctx) == [("error", "access-control-lost"), ("warning", "other-controller-annotation")]


@pytest.mark.parametrize("annotation,needs", [("auth-secret", "auth-type"), ("auth-tls-verify-client", "auth-tls-secret"),
                                              ("global-rate-limit-key", "global-rate-limit"),
                                              ("session-cookie-change-on-failure", "affinity")])
def test_unhandled_an_annotation_ingress_nginx_ignores_without_another_is_a_warning(annotation, needs):
    alone = context({annotation: "x"})
    handlers.unhandled(alone)
    assert codes(alone) == [("warning", "annotation-without-effect")] and needs in alone.findings[0].message
    both = context({annotation: "x", needs: "y"})
    handlers.unhandled(both)
    assert all(finding.code != "annotation-without-effect" for finding in both.findings)


def test_unhandled_after_a_translated_auth_url_warns_on_what_differs_only():
    ctx = context({"auth-url": "http://auth.sso.svc/check", "auth-signin": "https://shop.com/login",
                   "auth-response-headers": "X-User"})
    handlers.external_auth(ctx)
    handlers.unhandled(ctx)
    assert codes(ctx) == [("warning", "extension-provider-required"), ("warning", "unsupported-annotation")]


@pytest.mark.parametrize("annotations,force,redirect", [
    ({}, False, True), ({"ssl-redirect": "false"}, False, False), ({"ssl-redirect": "False"}, False, False),
    ({"force-ssl-redirect": "true", "ssl-redirect": "false"}, True, False)])
def test_https_redirect(annotations, force, redirect):
    ctx = context(annotations)
    handlers.https_redirect(ctx)
    assert (ctx.options["force_https"], ctx.options["ssl_redirect"]) == (force, redirect)


def test_rewrite_is_always_a_regex_rewrite():
    ctx = context({"rewrite-target": "/$2"})
    handlers.rewrite(ctx)
    assert ctx.options["rewrite"] == ("regex", "/$2")


@pytest.mark.parametrize("annotations,timeout,found", [
    ({"proxy-read-timeout": "30", "proxy-send-timeout": "90"}, 90, [("info", "timeout-approximated")]),
    ({"proxy-read-timeout": "30s"}, None, [("warning", "invalid-annotation")]),
    ({"proxy-read-timeout": "\u00b2"}, None, [("warning", "invalid-annotation")]), ({}, None, [])])
def test_timeouts(annotations, timeout, found):
    ctx = context(annotations)
    handlers.timeouts(ctx)
    assert ctx.options.get("timeout") == timeout and codes(ctx) == found


def test_cors_takes_ingress_nginx_defaults():
    ctx = context({"enable-cors": "true", "cors-allow-origin": "https://a.com, https://b.com", "cors-max-age": "60"})
    handlers.cors(ctx)
    assert ctx.options["cors"].origins == ["https://a.com", "https://b.com"]
    assert "PATCH" in ctx.options["cors"].methods and ctx.options["cors"].max_age == 60
    off = context({"cors-allow-origin": "https://a.com"})
    handlers.cors(off)
    assert "cors" not in off.options


def test_request_headers():
    ctx = context({"upstream-vhost": "internal.local", "x-forwarded-prefix": "/shop"})
    handlers.request_headers(ctx)
    assert ctx.options["request_headers"] == {"host": "internal.local", "x-forwarded-prefix": "/shop"}


@pytest.mark.parametrize("annotations,redirect,found", [
    ({"permanent-redirect": "https://new.com:8443/x"},
     redirect(301, "https", "new.com:8443", "/x"), []),
    # ingress-nginx reads the code from 1.12 on (the 1.11 oracle answers 302): said, as info.
    ({"temporal-redirect": "/elsewhere", "temporal-redirect-code": "307"}, redirect(307, path="/elsewhere"),
     [("info", "temporal-redirect-code-since-1-12")]),
    ({"permanent-redirect": "/x", "permanent-redirect-code": "399"}, redirect(301, path="/x"),
     [("warning", "invalid-annotation")]),
    ({"permanent-redirect": "not a url"}, None, [("error", "invalid-annotation")])])
def test_redirects(annotations, redirect, found):
    ctx = context(annotations)
    handlers.redirects(ctx)
    assert ctx.options.get("redirect") == redirect and codes(ctx) == found


def test_backend_policy_goes_to_every_backend_of_the_ingress():
    ctx = context({"proxy-connect-timeout": "3", "backend-protocol": "HTTPS", "affinity": "cookie"},
                  destinations=[Destination("a", "shop", 80, None), Destination("b", "shop", 80, None)])
    handlers.backend_policy(ctx)
    assert sorted(k[1:] for k in ctx.policies) == [("a", "shop"), ("b", "shop")]
    traffic = ctx.policies[("dr", "a", "shop")][0][1]
    assert traffic["connectionPool"] == {"tcp": {"connectTimeout": "3s"}} and traffic["tls"] == {"mode": "SIMPLE"}
    assert traffic["loadBalancer"]["consistentHash"]["httpCookie"]["name"] == "INGRESSCOOKIE"
    fcgi = context({"backend-protocol": "FCGI"})
    handlers.backend_policy(fcgi)
    assert codes(fcgi) == [("error", "fcgi-unsupported")] and not fcgi.policies


def test_source_range_policy_refuses_a_list_with_anything_but_cidrs():
    ctx = context({"whitelist-source-range": "10.0.0.0/8, 192.168.1.7", "denylist-source-range": "1.2.3.0/24"})
    handlers.source_range_policy(ctx)
    assert ctx.policies[("ap", "shop/web")] == [(True, ["10.0.0.0/8", "192.168.1.7/32"], ["shop.com"]),
                                                (False, ["1.2.3.0/24"], ["shop.com"])]
    bad = context({"whitelist-source-range": "10.0.0.0/8, intranet"})
    handlers.source_range_policy(bad)
    assert not bad.policies and codes(bad) == [("error", "invalid-annotation")]


def test_every_translated_annotation_has_code_that_reads_it():
    """`unhandled` trusts the decision table: an annotation marked translated must be read somewhere."""
    import inspect
    source = inspect.getsource(handlers)
    # The translation's own modules read the annotations that add routes (canary, app-root...).
    ingress_source = "".join(inspect.getsource(__import__(
        "ansible_collections.adoptmesh.istio.plugins.module_utils." + name, fromlist=["x"]))
        for name in ("ingress", "ingress_routes", "ingress_nginx", "ingress_canary", "ingress_tls", "ingress_client_auth"))
    translated = [name for name, decision in decisions.DECISIONS.items()
                  if decision.istio == decisions.TRANSLATED and name not in decisions.ALIASES]
    # service-upstream needs no code: Envoy balances over the Service's endpoints either way.
    unread = sorted(name for name in translated if '"{0}"'.format(name) not in source + ingress_source)
    assert unread == ["service-upstream"]


def balancer(annotations):
    ctx = context(annotations)
    return handlers.load_balancer(ctx), codes(ctx)


def test_affinity_cookie_keeps_its_lifetime_and_attributes():
    found, problems = balancer({"affinity": "cookie", "session-cookie-name": "route", "session-cookie-expires": "3600",
                                "session-cookie-secure": "true", "session-cookie-samesite": "Strict",
                                "session-cookie-domain": "shop.com", "session-cookie-path": "/app"})
    assert found == {"consistentHash": {"httpCookie": {
        "name": "route", "path": "/app", "ttl": "3600s",
        "attributes": [{"name": "Secure"}, {"name": "SameSite", "value": "Strict"}, {"name": "Domain", "value": "shop.com"}]}}}
    assert problems == []
    # max-age wins over expires, as ingress-nginx's cookie carries Max-Age, which browsers prefer.
    found = balancer({"affinity": "cookie", "session-cookie-max-age": "60", "session-cookie-expires": "3600"})[0]
    assert found["consistentHash"]["httpCookie"]["ttl"] == "60s"
    found, problems = balancer({"affinity": "cookie", "session-cookie-samesite": "sometimes"})
    assert "attributes" not in found["consistentHash"]["httpCookie"] and problems == [("warning", "invalid-annotation")]


@pytest.mark.parametrize("expression,key", [
    ("$remote_addr", {"useSourceIp": True}), ("$binary_remote_addr", {"useSourceIp": True}),
    ("$http_x_user_id", {"httpHeaderName": "x-user-id"}), ("$cookie_session", {"httpCookie": {"name": "session"}}),
    ("$arg_tenant", {"httpQueryParameterName": "tenant"})])
def test_upstream_hash_by_with_an_envoy_hash_key(expression, key):
    assert balancer({"upstream-hash-by": expression, "load-balance": "ewma"}) == ({"consistentHash": key}, [])


def test_upstream_hash_by_without_one_is_a_warning_and_load_balance_applies():
    found, problems = balancer({"upstream-hash-by": "$request_uri", "load-balance": "round_robin"})
    assert found == {"simple": "ROUND_ROBIN"} and problems == [("warning", "hash-key-not-translated")]


def test_affinity_comes_before_the_hash_and_load_balance():
    found = balancer({"affinity": "cookie", "upstream-hash-by": "$remote_addr", "load-balance": "ewma"})[0]
    assert list(found["consistentHash"]) == ["httpCookie"]


@pytest.mark.parametrize("value,result,problems", [
    ("ewma", {"simple": "LEAST_REQUEST"}, [("info", "load-balance-approximated")]),
    ("round_robin", {"simple": "ROUND_ROBIN"}, []), ("chash", None, [("warning", "unsupported-annotation")]),
    ("fastest", None, [("warning", "invalid-annotation")])])
def test_load_balance(value, result, problems):
    assert balancer({"load-balance": value}) == (result, problems)


@pytest.mark.parametrize("annotations,expected,problems", [
    ({}, None, []),
    ({"proxy-next-upstream-tries": "5"}, Retries(4, True, ()), [("info", "retries-approximated")]),
    ({"proxy-next-upstream": "error"}, Retries(2, True, ()), []),
    ({"proxy-next-upstream": "error http_502 http_504 non_idempotent"}, Retries(2, True, (502, 504)), []),
    # Without non_idempotent nginx retries a status for GET only; Envoy would retry a POST too.
    ({"proxy-next-upstream": "http_503"}, Retries(2, False, ()), [("info", "retries-approximated")]),
    ({"proxy-next-upstream": "off", "proxy-next-upstream-tries": "9"}, Retries(0, False, ()), []),
    ({"proxy-next-upstream": "error", "proxy-next-upstream-tries": "0"}, Retries(2, True, ()), []),
    ({"proxy-next-upstream": "error sometimes", "proxy-next-upstream-tries": "x"}, Retries(2, True, ()),
     [("warning", "invalid-annotation"), ("warning", "invalid-annotation")])])
def test_retries(annotations, expected, problems):
    ctx = context(annotations)
    handlers.retries(ctx)
    assert ctx.options.get("retries") == expected and codes(ctx) == problems


def snippet(text, **options):
    ctx = context({"configuration-snippet": text})
    ctx.options.update(options)
    handlers.configuration_snippet(ctx)
    return ctx


def test_a_snippet_of_headers_becomes_route_headers():
    ctx = snippet("""more_set_headers "X-Frame-Options: DENY" 'Cache-Control: no-store';  # security
                     more_clear_headers Server; add_header X-Served-By gateway always;
                     proxy_set_header X-Tenant shop; more_set_input_headers "X-Env: prod";""")
    assert ctx.options["response_headers"] == {"set": {"x-frame-options": "DENY", "cache-control": "no-store",
                                                       "x-served-by": "gateway"}, "remove": ["server"]}
    assert ctx.options["request_headers"] == {"x-tenant": "shop", "x-env": "prod"}
    assert codes(ctx) == [("info", "snippet-translated")]


@pytest.mark.parametrize("text,directive", [
    ("deny all;", "deny"), ("return 444;", "return"), ("if ($http_x_debug) { return 404; }", "if"),
    ("rewrite ^/old /new last;", "rewrite"), ("rewrite ^/old /new;", "rewrite"), ("set $x 1;", "set"),
    ("return 302 https://$host/;", "return"), ("rewrite ^/(.*) /a?b=$1 break;", "rewrite"),
    ("auth_request /auth;", "auth_request"),
    ("access_by_lua_block { ngx.exit(403) }", "access_by_lua_block"), ("limit_req zone=one;", "limit_req")])
def test_a_snippet_directive_that_can_refuse_or_redirect_is_an_error(text, directive):
    ctx = snippet("more_set_headers 'A: b'; " + text)
    errors = [f for f in ctx.findings if f.severity == "error"]
    assert len(errors) == 1 and "directive {0} ".format(directive) in errors[0].message


@pytest.mark.parametrize("text,problem", [
    ("gzip on;", "gzip"), ("more_set_headers -s 404 'A: b';", "options"), ("add_header X-Id $request_id;", "variable"),
    ("proxy_set_header Host $host;", "variable"), ("more_clear_headers 'X-*';", "wildcard")])
def test_a_snippet_directive_without_access_effect_is_a_warning_naming_it(text, problem):
    ctx = snippet(text)
    warnings = [f for f in ctx.findings if f.severity == "warning"]
    assert len(warnings) == 1 and problem in warnings[0].message and not ctx.options.get("response_headers")


@pytest.mark.parametrize("text", ["more_set_headers 'A: b", "location / { return 200;", "}", "add_header A b"])
def test_a_snippet_nginx_would_refuse_is_an_error_and_nothing_of_it_is_kept(text):
    ctx = snippet(text)
    assert codes(ctx) == [("error", "access-control-lost")] and "cannot be read" in ctx.findings[0].message
    assert "response_headers" not in ctx.options


def test_add_header_without_always_is_kept_with_a_note():
    ctx = snippet("add_header X-A b;")
    assert ctx.options["response_headers"]["set"] == {"x-a": "b"}
    assert ("info", "snippet-approximated") in codes(ctx)


def test_a_snippet_header_set_by_another_annotation_keeps_the_annotation():
    ctx = snippet("proxy_set_header Host other.example.com;", request_headers={"host": "internal.example.com"})
    assert ctx.options["request_headers"] == {"host": "internal.example.com"}
    assert ("warning", "snippet-directive-not-translated") in codes(ctx)


@pytest.mark.parametrize("text,answer", [
    ("return 403;", ("direct", 403, None)),
    ('return 200 "ok";', ("direct", 200, "ok")),
    ("return 301 https://elsewhere.org/x;", ("redirect", redirect(301, "https", "elsewhere.org", "/x"))),
    ("return https://elsewhere.org;", ("redirect", redirect(302, "https", "elsewhere.org", "/"))),
    ("return 308 /moved;", ("redirect", redirect(308, None, None, "/moved"))),
    ("rewrite ^ https://new.org/ permanent;", ("redirect", redirect(301, "https", "new.org", "/"))),
    ("rewrite ^(.*)$ /maintenance.html redirect;", ("redirect", redirect(302, None, None, "/maintenance.html"))),
    # The first return, or rewrite of every URI, ends nginx's rewrite directives: the rest never runs.
    ("return 403;\nreturn 200;", ("direct", 403, None)),
])
def test_a_snippet_return_or_rewrite_of_every_uri_answers_the_whole_location(text, answer):
    ctx = snippet(text)
    assert ctx.options["snippet_answer"] == answer
    assert not [f for f in ctx.findings if f.severity == "error"]


def test_a_snippet_rewrite_break_becomes_a_whole_path_rewrite_with_nginx_captures():
    ctx = snippet("rewrite ^/old/(.*)/(x)?$ /new/$1$2$3 break;")
    kind, rewrite = ctx.options["snippet_answer"]
    assert kind == "rewrite" and rewrite.pattern == "^(?:.*?)(?:^/old/(.*)/(x)?$)(?:.*)$"
    assert rewrite.replacement == "/new/\\1\\2"  # $3: a group the regex lacks is empty, as in nginx
    flagged = snippet("rewrite (?i)/legacy/ /current/ break;")
    assert flagged.options["snippet_answer"][1].pattern == "(?i)^(?:.*?)(?:/legacy/)(?:.*)$"


@pytest.mark.parametrize("annotations,why", [
    ({"configuration-snippet": "return 403;", "whitelist-source-range": "10.0.0.0/8"}, "access checks"),
    ({"configuration-snippet": "rewrite ^/a /b permanent;"}, "only the URIs its regex finds"),
    ({"configuration-snippet": "rewrite ^/a /b break;", "rewrite-target": "/x"}, "still applies"),
    ({"configuration-snippet": "rewrite ^/a /b break;\nreturn 410;"}, "does not find"),
    ({"configuration-snippet": "rewrite ^/a(.*) https://x.org/$1 permanent;"}, "parts of the path"),
])
def test_a_snippet_answer_a_route_cannot_keep_is_an_error(annotations, why):
    ctx = context(annotations)
    handlers.configuration_snippet(ctx)
    errors = [f.message for f in ctx.findings if f.severity == "error"]
    assert len(errors) == 1 and why in errors[0], ctx.findings


def test_a_server_snippet_is_read_and_each_directive_named_an_error_where_it_can_refuse_or_answer():
    ctx = context({"server-snippet": "gzip on;\nclient_max_body_size 1m;\nif ($http_x) { return 403; }\n"
                                     "location /x { deny all; }"})
    handlers.server_snippet(ctx)
    handlers.unhandled(ctx)
    assert codes(ctx) == [("error", "access-control-lost")] * 2 + [("warning", "snippet-directive-not-translated")] * 2
    assert sorted(f.message.split("directive ")[1].split(" ")[0] for f in ctx.findings) == [
        "client_max_body_size", "gzip", "if", "location"]
    harmless = context({"server-snippet": "more_set_headers 'X-Served-By: edge';"})
    handlers.server_snippet(harmless)
    handlers.unhandled(harmless)
    assert codes(harmless) == [("warning", "snippet-directive-not-translated")]
    broken = context({"server-snippet": "return 403"})
    handlers.server_snippet(broken)
    assert codes(broken) == [("error", "access-control-lost")]
