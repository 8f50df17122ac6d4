"""The traffic replay: nginx log formats, the gateway routing evaluator, and the comparison.

The evaluator's answers are proven against istiod in tests/integration/test_replay_oracle.py; these
tests pin the replay's own rules (candidate hosts, canaries, redirects, shapes, bad lines) fast.
"""

import copy
import gzip
import os
import sys

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator
from ansible_collections.adoptmesh.istio.plugins.module_utils.access_log import UPSTREAMINFO, LogFormat, log_lines
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.gateway_routing import (
    NO_ROUTE, Request, Router, RoutingError)
from ansible_collections.adoptmesh.istio.plugins.module_utils.replay import Replay, path_pattern, replay

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
N = "nginx.ingress.kubernetes.io/"
LINE = ('10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "{method} {path} HTTP/1.1" {status} 12 "-" "curl/8" 100 0.01 '
        '[{upstream}] [{alternative}] {address} 12 0.01 {upstream_status} 0123456789abcdef\n')
WITH_HOST = UPSTREAMINFO.replace("$request_time ", "$request_time $host $scheme ")


def line(path, upstream, status=200, alternative="", method="GET", address="10.1.0.1:80"):
    return LINE.format(method=method, path=path, status=status, upstream=upstream, alternative=alternative,
                       address=address, upstream_status=status if address != "-" else "-")


def host_line(host, scheme, path, upstream, status=200, address="10.1.0.1:80"):
    text = line(path, upstream, status, address=address)
    return text.replace(' 100 0.01 [', ' 100 0.01 {0} {1} ['.format(host, scheme), 1)


def ingress(name, rules, annotations=None, tls=None, namespace="shop", created="2024-01-01T00:00:00Z"):
    spec = {"ingressClassName": "nginx", "rules": rules}
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                         "annotations": annotations or {}}, "spec": spec}


def rule(host, *paths):
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": port}}}}
        for p, t, s, port in paths]}}


def estate():
    return [
        ingress("web", [rule("shop.example.com", ("/", "Prefix", "web", 80), ("/api", "Prefix", "api", 8080))],
                tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]),
        ingress("web-canary", [rule("shop.example.com", ("/", "Prefix", "web-v2", 80))],
                annotations={N + "canary": "true", N + "canary-weight": "10"}, created="2024-02-01T00:00:00Z"),
        ingress("admin", [rule("admin.example.com", ("/", "Prefix", "web", 80))]),
        ingress("moved", [rule("old.example.com", ("/", "Prefix", "web", 80))],
                annotations={N + "permanent-redirect": "https://shop.example.com"}),
    ]


def translated(output_api="istio", ingresses=None):
    return translator.translate(ingresses or estate(), None, output_api=output_api).as_dict()


def run(lines, output_api="istio", log_format=None, translation=None, **options):
    translation = translation or translated(output_api)
    runner = Replay(translation["resources"], translation["ingresses"], log_format, **options)
    for number, text in enumerate(lines, 1):
        runner.line(text, "access.log", number)
    return runner.result()


# --- log formats --------------------------------------------------------------------------------------

def test_upstreaminfo_reads_retried_upstreams_and_empty_canary_brackets():
    fields = LogFormat(UPSTREAMINFO).parse(
        '10.0.0.1 - alice [20/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/2.0" 200 12 "https://r/" '
        '"Mozilla/5.0 (X11) \\x22quoted\\x22" 100 0.01 [shop-web-80] [] 10.1.0.1:80, 10.1.0.2:80 0, 12 '
        '0.001, 0.002 502, 200 0123456789abcdef')
    assert fields["request"] == "GET /a?b=1 HTTP/2.0"
    assert fields["proxy_upstream_name"] == "shop-web-80" and fields["proxy_alternative_upstream_name"] == ""
    assert fields["upstream_addr"] == "10.1.0.1:80, 10.1.0.2:80" and fields["upstream_status"] == "502, 200"


def test_a_user_log_format_with_braces_host_and_headers():
    log_format = LogFormat('${remote_addr} "$request" $status $host [$proxy_upstream_name] "$http_x_canary" '
                           '$upstream_addr')
    fields = log_format.parse('10.0.0.1 "GET / HTTP/1.1" 200 shop.example.com:443 [shop-web-80] "beta" 10.1.0.1:80')
    assert fields["host"] == "shop.example.com:443" and fields["http_x_canary"] == "beta"
    assert log_format.headers == ["x-canary"]


JSON_FORMAT = ('{"host": "$host", "request": "$request", "status": $status, "upstream": "$proxy_upstream_name", '
               '"alternative": "$proxy_alternative_upstream_name", "addr": "$upstream_addr", "canary": "$http_x_canary"}')


def test_json_logs_read_escaped_quotes_and_empty_strings():
    fields = LogFormat(JSON_FORMAT, "json").parse(
        '{"host": "shop.example.com", "request": "GET /a\\"b\\\\c\\u00e9 HTTP/1.1", "status": 200, '
        '"upstream": "shop-web-80", "alternative": "", "addr": "", "canary": "x\\"y"}')
    assert fields["request"] == 'GET /a"b\\c\u00e9 HTTP/1.1' and fields["http_x_canary"] == 'x"y'
    assert fields["proxy_alternative_upstream_name"] == "" and fields["upstream_addr"] == ""
    # The same line read without escapes stops at the first quote: not a line.
    unescaped = ('{"host": "a", "request": "GET /a\\"b HTTP/1.1", "status": 200, '
                 '"upstream": "u", "alternative": "", "addr": "", "canary": ""}')
    assert LogFormat(JSON_FORMAT, "none").parse(unescaped) is None


def test_default_escapes_are_read_back_as_the_bytes_nginx_saw():
    fields = LogFormat(UPSTREAMINFO).parse(LINE.format(
        method="GET", path="/caf\\xC3\\xA9\\x22", status=200, upstream="shop-web-80", alternative="",
        address="10.1.0.1:80", upstream_status=200))
    assert fields["request"] == 'GET /caf\u00e9" HTTP/1.1'


def test_two_variables_side_by_side_are_told_apart_by_what_a_host_cannot_hold():
    log_format = LogFormat('$remote_addr $scheme://$host$request_uri $status [$proxy_upstream_name] $upstream_addr')
    fields = log_format.parse("10.0.0.1 https://shop.example.com/api/v1?x=/y 200 [shop-api-8080] 10.1.0.1:8080")
    assert fields["host"] == "shop.example.com" and fields["request_uri"] == "/api/v1?x=/y"
    assert fields["scheme"] == "https"


def test_the_path_is_the_one_the_client_sent_and_an_absolute_url_names_no_scheme():
    runner_format = '"$request" $uri [$proxy_upstream_name] $upstream_addr $status'
    translation = translated()
    runner = Replay(translation["resources"], translation["ingresses"], runner_format)
    # The request went to /api (rewritten to /v1 for the backend): the request line decides.
    runner.line('"GET /api/items HTTP/1.1" /v1/items [shop-api-8080] 10.1.0.1:8080 200')
    # An absolute URL says http, but the connection was TLS: the scheme stays unknown, so the
    # request agrees over HTTPS (the shop host redirects plain HTTP).
    runner.line('"GET http://shop.example.com/api HTTP/1.1" /api [shop-api-8080] 10.1.0.1:8080 200')
    result = runner.result()
    assert result["totals"]["same"] == 2 and result["totals"]["mismatched"] == 0, result["mismatches"]


def test_a_name_deeper_than_an_nginx_wildcard_was_a_404_and_still_is():
    ingresses = [ingress("wild", [rule("*.example.com", ("/", "Prefix", "web", 80))])]
    translation = translated(ingresses=ingresses)
    lines = [host_line("a.b.example.com", "http", "/x", "upstream-default-backend", status=404, address="-"),
             host_line("a.example.com", "http", "/x", "shop-web-80")]
    result = run(lines, log_format=WITH_HOST, translation=translation)
    assert result["totals"]["same"] == 2 and result["totals"]["mismatched"] == 0, result["mismatches"]


def test_an_unknown_escape_is_refused_naming_the_option():
    with pytest.raises(InputError) as caught:
        LogFormat(UPSTREAMINFO, "xml")
    assert "log_escape" in str(caught.value)


@pytest.mark.parametrize("text, field", [
    ("$remote_addr [$proxy_upstream_name]", "request path"),
    ('$remote_addr "$request" $status', "$proxy_upstream_name"),
    ("no variables at all", "names no nginx variable"),
])
def test_a_log_format_that_cannot_be_replayed_is_refused_naming_the_option(text, field):
    with pytest.raises(InputError) as caught:
        LogFormat(text)
    assert "log_format" in str(caught.value) and field in str(caught.value)


def test_logs_are_read_plain_or_gzip_whatever_their_name(tmp_path):
    plain, packed = tmp_path / "a.gz", tmp_path / "b.log"
    plain.write_text("one\ntwo\n")
    with gzip.open(str(packed), "wt") as handle:
        handle.write("three\n")
    assert [(n, x.strip()) for n, x in log_lines(str(plain))] == [(1, "one"), (2, "two")]
    assert [x.strip() for _n, x in log_lines(str(packed))] == ["three"]
    with pytest.raises(InputError) as caught:
        list(log_lines(str(tmp_path / "missing.log")))
    assert "missing.log" in str(caught.value)


# --- the routing evaluator -------------------------------------------------------------------------------

def test_gateway_api_rules_rank_exact_then_prefix_then_regex_whatever_their_order():
    def rule_of(kind, value, service):
        return {"matches": [{"path": {"type": kind, "value": value}}], "backendRefs": [{"name": service, "port": 80}]}

    resources = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "gw"},
         "spec": {"listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "gw"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["a.com"], "rules": [
             rule_of("RegularExpression", "/api.*", "regex"), rule_of("PathPrefix", "/api", "prefix"),
             rule_of("Exact", "/api", "exact")]}}]
    router = Router(resources)
    assert router.route(Request("a.com", "/api")).targets() == ("exact.gw:80",)
    assert router.route(Request("a.com", "/api/v1")).targets() == ("prefix.gw:80",)
    # PathPrefix is per path segment: /apix is the regex's.
    assert router.route(Request("a.com", "/apix")).targets() == ("regex.gw:80",)
    assert router.route(Request("b.com", "/api")) == NO_ROUTE


def test_unknown_headers_leave_every_header_route_possible_until_one_that_does_not_test_them():
    translation = translated(ingresses=[
        ingress("web", [rule("a.com", ("/", "Prefix", "v1", 80))]),
        ingress("canary", [rule("a.com", ("/", "Prefix", "v2", 80))], created="2024-02-01T00:00:00Z",
                annotations={N + "canary": "true", N + "canary-by-header": "X-Canary"})])
    router = Router(translation["resources"])
    possible = router.possible(Request("a.com", "/x", headers=None))
    assert [o.targets() for o in possible] == [("v2.shop:80",), ("v1.shop:80",)]
    assert router.route(Request("a.com", "/x", headers={"X-Canary": "always"})).targets() == ("v2.shop:80",)
    assert router.route(Request("a.com", "/x")).targets() == ("v1.shop:80",)


def test_a_match_the_evaluator_does_not_model_is_refused_naming_the_object_and_field():
    resources = [{"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "gw"},
                  "spec": {"selector": {"istio": "ingressgateway"},
                           "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
                 {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                  "metadata": {"name": "vs", "namespace": "gw"},
                  "spec": {"hosts": ["a.com"], "gateways": ["g"], "http": [
                      {"match": [{"sourceLabels": {"app": "x"}}], "route": [{"destination": {"host": "web.shop"}}]}]}}]
    with pytest.raises(RoutingError) as caught:
        Router(resources)
    assert "VirtualService gw/vs spec.http[0].match[0]" in str(caught.value) and "sourceLabels" in str(caught.value)


# --- the comparison ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_a_faithful_translation_replays_clean_canaries_and_redirects_included(output_api):
    result = run([line("/", "shop-web-80"), line("/api/v1/orders/77", "shop-api-8080"),
                  line("/x", "shop-web-80", alternative="shop-web-v2-80"),
                  line("/", "shop-web-80", status=308, address="-"),  # plain HTTP on the TLS host
                  line("/a", "shop-web-80", status=301, address="-"),  # old.example.com's permanent redirect
                  line("/wp-login.php", "upstream-default-backend", status=404, address="127.0.0.1:8181")], output_api)
    totals = result["totals"]
    assert (totals["compared"], totals["same"], totals["mismatched"], totals["ambiguous"]) == (6, 6, 0, 0)
    assert result["ingresses"]["shop/web-canary"] == {"requests": 1, "same": 1, "mismatched": 0, "ambiguous": 0,
                                                      "verdict": "same"}
    assert result["ingresses"]["shop/moved"]["verdict"] == "same" and result["findings"] == []


def test_without_a_logged_host_every_candidate_host_is_checked():
    result = run([line("/about", "shop-web-80")])
    # web.shop:80 serves shop.example.com, admin.example.com (and old.example.com, which only redirects).
    assert result["totals"]["same"] == 1 and result["totals"]["same_for_every_candidate_host"] == 1
    assert result["ingresses"]["shop/web"]["same"] == 1 and result["ingresses"]["shop/admin"]["same"] == 1


def sabotaged(translation, host, service):
    """The translation with host's routes sent to another Service, as a hand edit would."""
    changed = copy.deepcopy(translation)
    for resource in changed["resources"]:
        if resource["kind"] == "VirtualService" and resource["spec"]["hosts"] == [host]:
            for entry in resource["spec"]["http"]:
                for route in entry.get("route", []):
                    route["destination"]["host"] = service + ".shop.svc.cluster.local"
    return changed


def test_hosts_that_disagree_make_the_request_ambiguous_and_name_them():
    translation = sabotaged(translated(), "admin.example.com", "elsewhere")
    result = run([line("/about", "shop-web-80")] * 4, translation=translation)
    assert result["totals"]["ambiguous"] == 4 and result["totals"]["mismatched"] == 0
    shape = result["ambiguous"][0]
    assert shape["candidate_hosts"] == ["admin.example.com", "shop.example.com"]
    assert shape["same_on"] == ["shop.example.com"]
    # admin's route to web:80 has web-canary's 10 % too: ingress-nginx gives it every location of web:80.
    assert shape["differs_on"] == {"admin.example.com": "elsewhere.shop:80 (90%), elsewhere.shop:80 (10%)"}
    assert shape["ingresses"] == ["shop/admin"] and len(shape["examples"]) == 3
    assert [f["code"] for f in result["findings"]] == ["replay-ambiguous"]


def test_a_logged_host_decides_and_mismatches_are_grouped_by_shape_with_three_examples():
    translation = sabotaged(translated(), "admin.example.com", "elsewhere")
    lines = [host_line("admin.example.com", "http", "/users/{0}".format(n), "shop-web-80") for n in range(5)]
    lines.append(host_line("shop.example.com", "https", "/users/1", "shop-web-80"))
    result = run(lines, log_format=WITH_HOST, translation=translation)
    assert (result["totals"]["mismatched"], result["totals"]["same"]) == (5, 1)
    [shape] = result["mismatches"]
    assert (shape["host"], shape["method"], shape["path_pattern"], shape["requests"]) == (
        "admin.example.com", "GET", "/users/{id}", 5)
    assert shape["source"] == "web.shop:80"
    assert shape["translation"] == "elsewhere.shop:80 (90%), elsewhere.shop:80 (10%)"  # with web-canary's share
    assert [e.split(":")[1] for e in shape["examples"]] == ["1", "2", "3"]
    assert result["ingresses"]["shop/admin"]["verdict"] == "differs"
    [finding] = result["findings"]
    assert (finding["ingress"], finding["severity"], finding["code"], finding["requests"]) == (
        "shop/admin", "error", "replay-mismatch", 5)


def test_mismatches_at_or_below_the_tolerance_are_warnings():
    translation = sabotaged(translated(), "admin.example.com", "elsewhere")
    lines = [host_line("admin.example.com", "http", "/", "shop-web-80")] * 3
    assert run(lines, log_format=WITH_HOST, translation=translation,
               max_mismatch_requests=3)["findings"][0]["severity"] == "warning"
    assert run(lines, log_format=WITH_HOST, translation=translation,
               max_mismatch_requests=2)["findings"][0]["severity"] == "error"


def test_a_404_the_translation_would_route_is_a_mismatch():
    ingresses = estate() + [ingress("fallback", [], created="2024-03-01T00:00:00Z")]
    ingresses[-1]["spec"]["defaultBackend"] = {"service": {"name": "fallback", "port": {"number": 80}}}
    result = run([host_line("scanner.example.net", "http", "/wp-login.php", "upstream-default-backend", 404,
                            address="127.0.0.1:8181")], log_format=WITH_HOST, translation=translated(ingresses=ingresses))
    [shape] = result["mismatches"]
    assert shape["source"] == "default backend (404)" and shape["translation"] == "fallback.shop:80"
    assert shape["ingresses"] == ["(no Ingress)"]
    # Without the host: ingress-nginx sent unknown hosts to fallback, so this 404 was on a known
    # host the log does not name. Not compared, rather than checked on the wrong host.
    unnamed = run([line("/wp-login.php", "upstream-default-backend", 404, address="127.0.0.1:8181")],
                  translation=translated(ingresses=ingresses))
    assert unnamed["totals"]["compared"] == 0 and unnamed["mismatches"] == []
    assert "log $host to compare these" in list(unnamed["totals"]["not_compared_reasons"])[0]


def test_what_cannot_be_compared_is_counted_with_its_reason():
    result = run([line("/", "shop-web-80", status=403, address="-"), line("/", "other-gone-80"),
                  line("/", "-", status=400, address="-")])
    assert result["totals"]["not_compared"] == 3 and result["totals"]["compared"] == 0
    reasons = result["totals"]["not_compared_reasons"]
    assert reasons["upstream not served by the translated Ingresses"] == 1
    assert any(reason.startswith("answered by ingress-nginx itself with 403") for reason in reasons)
    assert result["unknown_upstreams"] == {"other-gone-80": 1}


def test_bad_lines_are_counted_and_sampled_never_fatal(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("garbage\n" + line("/", "shop-web-80") + '10.0.0.1 - - [x] "\\x16\\x03" 400 0 "-" "-" 0 0 [] [] - - - - id\n')
    translation = translated()
    result = replay(translation["resources"], translation["ingresses"], [str(log)])
    totals = result["totals"]
    assert (totals["lines"], totals["parsed"], totals["skipped"], totals["same"]) == (3, 1, 2, 1)
    assert totals["skipped_reasons"] == {"not in the log format": 1, "no request line (a bad or empty request)": 1}
    assert result["skipped_samples"][0] == {"file": str(log), "line": 1, "reason": "not in the log format",
                                            "text": "garbage"}


def test_a_log_without_one_parsable_line_is_an_error_naming_the_file_and_its_first_line(tmp_path):
    log = tmp_path / "error.log"
    log.write_text("2026/11/20 10:00:00 [error] 31#31: connect() failed\nmore\n")
    translation = translated()
    with pytest.raises(InputError) as caught:
        replay(translation["resources"], translation["ingresses"], [str(log)])
    message = str(caught.value)
    assert str(log) in message and "line 1" in message and "connect() failed" in message
    empty = tmp_path / "empty.log"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.log: is empty"):
        replay(translation["resources"], translation["ingresses"], [str(empty)])


def test_a_translation_without_backends_or_gateways_is_refused_clearly():
    translation = translated()
    with pytest.raises(InputError, match="holds no Gateway"):
        Replay([], translation["ingresses"])
    stale = copy.deepcopy(translation["ingresses"])
    del stale["shop/web"]["backends"]
    with pytest.raises(InputError, match=r"ingresses\['shop/web'\]: has no `backends`"):
        Replay(translation["resources"], stale)


@pytest.mark.parametrize("path, pattern", [
    ("/users/123/orders", "/users/{id}/orders"), ("/7", "/{id}"), ("/a/0f8e4c1d9b2a3c4d5e6f7a8b9c0d1e2f", "/a/{id}"),
    ("/a/123e4567-e89b-12d3-a456-426614174000/x", "/a/{id}/x"), ("/static/app.js", "/static/app.js"), ("/", "/"),
])
def test_request_shapes_replace_identifiers(path, pattern):
    assert path_pattern(path) == pattern


def test_backends_name_the_upstream_ingress_nginx_logs():
    ingresses = [ingress("web", [{"host": "a.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}])]
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
                 "spec": {"ports": [{"name": "http", "port": 8080}]}}]
    [backend] = translator.translate(ingresses, services).by_ingress["shop/web"]["backends"]
    assert (backend["upstream"], backend["service"], backend["port"]) == ("shop-web-http", "web.shop", 8080)


# --- hostile input: regexes, line lengths, corrupt files, odd translations -------------------------

def regex_estate():
    return [ingress("greedy", [rule("shop.example.com", ("/(a+)+b", "ImplementationSpecific", "web", 80))],
                    annotations={N + "use-regex": "true"})]


def test_a_catastrophic_regex_against_a_hostile_path_is_matched_in_linear_time(tmp_path):
    """Python's backtracking `re` takes 2^n steps for /(a+)+b on n `a`s; RE2 is linear. Run in a
    child process under a generous limit, so the old engine fails by never finishing."""
    log = tmp_path / "access.log"
    hostile = host_line("shop.example.com", "http", "/" + "a" * 60, "shop-web-80")
    log.write_text(hostile * 3)
    script = ("import json, sys\n"
              "from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress, replay\n"
              "estate = json.loads(sys.argv[1])\n"
              "t = ingress.translate(estate, None, output_api='istio').as_dict()\n"
              "print(json.dumps(replay.replay(t['resources'], t['ingresses'], [sys.argv[2]], sys.argv[3])['totals']))\n")
    import json
    import subprocess
    done = subprocess.run([sys.executable, "-c", script, json.dumps(regex_estate()), str(log), WITH_HOST],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["lines"] == 3


def test_regex_paths_use_envoys_engine():
    from ansible_collections.adoptmesh.istio.plugins.module_utils import regex
    assert regex.available() and regex.fullmatch("/a+", "/aaa") and not regex.fullmatch("/a+", "/aab")
    with pytest.raises(regex.RegexError, match="invalid perl operator"):
        regex.compile_re2("/(?=x)")  # lookahead: PCRE has it, RE2 and Envoy do not
    assert "does not support" in translator.re2_problem("/(?=x)")
    assert translator.re2_problem("/a{1001}") is not None  # RE2's repeat limit, as Envoy's
    assert translator.re2_problem("/(a+)+b") is None


def test_a_line_longer_than_the_limit_is_skipped_without_being_held(tmp_path):
    from ansible_collections.adoptmesh.istio.plugins.module_utils.access_log import MAX_LINE
    log = tmp_path / "access.log"
    with open(str(log), "w") as handle:
        handle.write(line("/", "shop-web-80"))
        handle.write("x" * (MAX_LINE * 40))  # no newline for 2.5 MB
        handle.write("\n" + line("/api", "shop-api-8080"))
        handle.write("y" * (MAX_LINE + 1))  # and the last line, unterminated
    result = replay(translated()["resources"], translated()["ingresses"], [str(log)])
    assert result["totals"]["lines"] == 4 and result["totals"]["parsed"] == 2
    assert result["totals"]["skipped_reasons"] == {"longer than {0} bytes".format(MAX_LINE): 2}
    assert [n for n, text in log_lines(str(log)) if text is None] == [2, 4]


def test_a_gzip_bomb_of_nul_bytes_is_read_in_pieces(tmp_path):
    from ansible_collections.adoptmesh.istio.plugins.module_utils.access_log import MAX_LINE
    bomb = tmp_path / "bomb.gz"
    with gzip.open(str(bomb), "wb") as handle:
        block = b"\0" * (1 << 20)
        for dummy in range(64):
            handle.write(block)
    assert bomb.stat().st_size < 200000
    lines = list(log_lines(str(bomb)))
    assert lines == [(1, None)]
    with pytest.raises(InputError, match="no line is an access log line"):
        replay(translated()["resources"], translated()["ingresses"], [str(bomb)])
    assert MAX_LINE < (64 << 20)


@pytest.mark.parametrize("damage,message", [
    (lambda data: data[:len(data) // 2], "a truncated gzip file"),
    (lambda data: data[:40] + bytes(b ^ 0x5A for b in data[40:80]) + data[80:], "the gzip data is corrupt"),
    (lambda data: data[:3] + b"\xff" + data[4:], "cannot be read at line 1"),
])
def test_a_corrupt_or_truncated_gzip_is_a_clean_error_naming_the_file_and_line(tmp_path, damage, message):
    good = tmp_path / "good.gz"
    with gzip.open(str(good), "wb") as handle:
        for number in range(2000):
            handle.write(line("/item/{0}".format(number), "shop-web-80").encode())
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(damage(good.read_bytes()))
    with pytest.raises(InputError) as caught:
        replay(translated()["resources"], translated()["ingresses"], [str(broken)])
    assert "broken.log.gz" in str(caught.value) and message in str(caught.value)
    assert "cannot be read at line" in str(caught.value)


@pytest.mark.parametrize("ingresses,field", [
    ([], "ingresses: is a list"),
    ({"shop/web": "x"}, "ingresses['shop/web']: is not an Ingress entry"),
    ({"shop/web": {"backends": {}}}, "ingresses['shop/web'].backends: is not a list"),
    ({"shop/web": {"backends": ["x"]}}, "ingresses['shop/web'].backends[0]: is not a mapping"),
    ({"shop/web": {"backends": [{"upstream": "u", "service": "s"}]}}, "backends[0].port: is missing"),
    ({"shop/web": {"backends": [{"upstream": 1, "service": "s", "port": 80}]}}, "backends[0].upstream: is a int"),
    ({"shop/web": {"backends": [{"upstream": "u", "service": "s", "port": 80, "path": ["/"]}]}},
     "backends[0].path: is a list"),
])
def test_a_translation_result_of_the_wrong_shape_names_the_field(ingresses, field):
    with pytest.raises(InputError) as caught:
        Replay(translated()["resources"], ingresses)
    assert field in str(caught.value)
