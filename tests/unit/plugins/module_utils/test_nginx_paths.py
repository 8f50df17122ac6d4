"""ingress-nginx's path semantics in one place: the locations a path renders and nginx's choice.

The cases are what the real controller renders and nginx answers (the nginx oracle and corpus
tests check the translation built on these forms against both)."""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import nginx_paths
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.gateway_routing import Request, Router, RoutingError
from ansible_collections.adoptmesh.istio.plugins.module_utils.regex import RegexError


@pytest.mark.parametrize("path,path_type,regex,exact_beside,own_regex,expected", [
    ("/a", "Exact", False, False, False, [("=", "/a")]),
    ("/a", "Prefix", False, False, False, [("=", "/a"), ("", "/a/")]),
    ("/a", "ImplementationSpecific", False, False, False, [("=", "/a"), ("", "/a/")]),
    ("/a", None, False, False, False, [("=", "/a"), ("", "/a/")]),
    ("/a/", "Prefix", False, False, False, [("", "/a/")]),
    ("/", "Prefix", False, False, False, [("", "/")]),
    ("", None, False, False, False, [("", "/")]),
    ("/a", "Prefix", True, False, False, [("~*", "/a")]),
    ("/a", "Prefix", True, True, False, [("~*", "/a/")]),
    ("/a", "Prefix", True, True, True, [("~*", "/a")]),
    ("/a", "Exact", True, True, False, [("~*", "/a")]),
    ("^/a.*", "ImplementationSpecific", True, False, False, [("~*", "/a.*")]),
])
def test_the_locations_ingress_nginx_renders(path, path_type, regex, exact_beside, own_regex, expected):
    assert nginx_paths.forms(path, path_type, regex, exact_beside, own_regex) == expected


@pytest.mark.parametrize("request_path,matched", [("/a", True), ("/a/", True), ("/a/b", True), ("/ab", False),
                                                  ("/A", False), ("/", False)])
def test_a_prefix_matches_per_path_segment(request_path, matched):
    assert nginx_paths.Location("/a", "Prefix").matches(request_path) is matched


def test_a_regex_is_case_insensitive_and_anchored_at_the_start_only():
    location = nginx_paths.Location("/a[0-9]+", "ImplementationSpecific", regex=True)
    assert location.matches("/A12/anything") and not location.matches("/x/a12")


def test_a_pattern_re2_refuses_is_an_error_not_a_match():
    with pytest.raises(RegexError):
        nginx_paths.Location("/(?=a)", "Prefix", regex=True).matches("/a")


def test_nginx_takes_an_exact_location_then_a_regex_then_the_longest_prefix():
    root, api, exact = (nginx_paths.Location("/", "Prefix"), nginx_paths.Location("/api", "Prefix"),
                        nginx_paths.Location("/api/v1", "Exact"))
    assert nginx_paths.choose([root, api, exact], "/api/v1") is exact
    assert nginx_paths.choose([root, api, exact], "/api/v1/x") is api
    assert nginx_paths.choose([root, api, exact], "/apix") is root
    assert nginx_paths.choose([api, exact], "/other") is None
    short, long_ = (nginx_paths.Location("/a", "Prefix", regex=True), nginx_paths.Location("/a/b", "Prefix", regex=True))
    assert nginx_paths.choose([short, long_, root], "/a/b/c") is long_


# --- the evaluator tells the path the backend receives -------------------------------------------

def _virtual_service(rewrite, match):
    return [{"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "n"},
             "spec": {"servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "v", "namespace": "n"},
             "spec": {"hosts": ["*"], "gateways": ["g"], "http": [
                 {"match": [match], "rewrite": rewrite, "route": [{"destination": {"host": "s.n.svc.cluster.local",
                                                                                   "port": {"number": 80}}}]}]}}]


@pytest.mark.parametrize("rewrite,match,request_path,received", [
    ({"uri": "/v2"}, {"uri": {"prefix": "/v1"}}, "/v1/users?x=1", "/v2/users?x=1"),
    ({"uri": "/v2"}, {"uri": {"exact": "/v1"}}, "/v1", "/v2"),
    ({"uriRegexRewrite": {"match": "^/api(/|$)(.*)$", "rewrite": "/\\2"}}, {"uri": {"prefix": "/api"}},
     "/api/users/7", "/users/7"),
])
def test_the_istio_rewrite_reaches_the_backend(rewrite, match, request_path, received):
    outcome = Router(_virtual_service(rewrite, match)).route(Request("a.com", request_path))
    assert outcome.targets() == ("s.n:80",) and outcome.path == received


def _http_route(url_rewrite):
    return [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "n"},
         "spec": {"listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "n"},
         "spec": {"parentRefs": [{"name": "g"}], "rules": [{
             "matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
             "filters": [{"type": "URLRewrite", "urlRewrite": url_rewrite}],
             "backendRefs": [{"name": "s", "port": 80}]}]}}]


@pytest.mark.parametrize("replace,request_path,received", [
    ({"type": "ReplaceFullPath", "replaceFullPath": "/x"}, "/old/page", "/x"),
    ({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}, "/old/page", "/new/page"),
    ({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}, "/old/page", "/page"),
    ({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}, "/old", "/new"),
])
def test_the_gateway_api_url_rewrite_reaches_the_backend(replace, request_path, received):
    resources = _http_route({"path": replace})
    outcome = Router(resources).route(Request("a.com", request_path))
    assert outcome.targets() == ("s.n:80",) and outcome.path == received


@pytest.mark.parametrize("rewrite", [{"uri": {"x": 1}}, {"uri": ["/a"]}, {"uri": float("nan")}, "/a", ["/a"],
                                     {"uriRegexRewrite": {"match": "^/a", "rewrite": ["/x"]}}])
def test_a_mutated_istio_rewrite_is_an_error_naming_the_field(rewrite):
    with pytest.raises(RoutingError) as caught:
        Router(_virtual_service(rewrite, {"uri": {"prefix": "/a"}})).route(Request("a.com", "/a/b"))
    assert "rewrite" in str(caught.value) and "VirtualService n/v" in str(caught.value)


@pytest.mark.parametrize("url_rewrite", [{"path": "/x"}, {"path": ["/x"]},
                                         {"path": {"type": "ReplaceFullPath", "replaceFullPath": {"a": 1}}},
                                         {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": 7}}, "/x"])
def test_a_mutated_gateway_api_url_rewrite_is_an_error_naming_the_field(url_rewrite):
    resources = _http_route(url_rewrite)
    with pytest.raises((RoutingError, InputError)) as caught:
        Router(resources).route(Request("a.com", "/old/page"))
    assert "HTTPRoute" in str(caught.value) and "rules" in str(caught.value)
