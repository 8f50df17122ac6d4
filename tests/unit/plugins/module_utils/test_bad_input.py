"""The inputs that crashed, or gave wrong output without a finding, before they were checked:
each now gives a finding or an InputError that names the object and the field."""

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator
from ansible_collections.adoptmesh.istio.plugins.module_utils import probes
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import is_dns1123_label, is_dns1123_subdomain

from .test_ingress import N, ingress, path, rule, service

SERVICES = [service("web"), service("web-v2")]


def translate(*items, **options):
    return translator.Translator(translator.Options(**options)).translate(list(items), SERVICES).as_dict()


def codes(outcome):
    return set((f["severity"], f["code"]) for f in outcome["findings"])


def http_routes(outcome):
    return [route for r in outcome["resources"] if r["kind"] == "VirtualService" for route in r["spec"]["http"]]


def test_names_ending_in_a_newline_are_not_valid():
    assert not is_dns1123_label("web\n") and not is_dns1123_subdomain("shop.example.com\n")
    outcome = translate(ingress("a", rule("shop.example.com\n", path("/", "web"))))
    assert ("error", "invalid-host") in codes(outcome) and outcome["resources"] == []
    outcome = translate(ingress("a", rule("shop.example.com", path("/", "web\n"))))
    assert ("error", "invalid-backend") in codes(outcome)


def test_a_namespace_that_is_not_a_label_is_refused_not_misread():
    outcome = translate(ingress("a", rule("shop.example.com", path("/", "web")), namespace="a.b"),
                        output_api="gateway-api")
    assert ("error", "invalid-ingress") in codes(outcome) and outcome["resources"] == []
    assert "metadata.namespace 'a.b'" in outcome["findings"][0]["message"]


@pytest.mark.parametrize("option,value", [("gateway_namespace", "Istio"), ("cluster_domain", "cluster.local\n"),
                                          ("gateway_selector", {"istio": "not a label"}), ("gateway_name", "Gate"),
                                          ("output_api", "nginx")])
def test_bad_options_are_input_errors(option, value):
    with pytest.raises(InputError, match="options: {0}".format(option)):
        translator.Translator(translator.Options(**{option: value}))


@pytest.mark.parametrize("pattern", ["/(?=admin)", "/(a)\\1", "/(?<=x)y", "/(?!x)"])
def test_regexes_envoy_cannot_run_are_findings_not_output(pattern):
    outcome = translate(ingress("a", rule("shop.example.com", path(pattern, "web", path_type="ImplementationSpecific")),
                                annotations={N + "use-regex": "true"}))
    assert ("error", "invalid-regex") in codes(outcome)
    assert all("regex" not in str(route.get("match")) or pattern[1:] not in str(route["match"])
               for route in http_routes(outcome))


@pytest.mark.parametrize("code", ["99999", "\u00b2", "30", "abc"])
def test_a_redirect_code_envoy_cannot_send_is_replaced_with_a_warning(code):
    outcome = translate(ingress("a", rule("old.example.com", path("/", "web")),
                                annotations={N + "permanent-redirect": "https://new.example.com/",
                                             N + "permanent-redirect-code": code}))
    redirects = [route["redirect"] for route in http_routes(outcome) if "redirect" in route]
    assert redirects and all(r["redirectCode"] == 301 for r in redirects)
    assert ("warning", "invalid-annotation") in codes(outcome)


def test_junk_source_ranges_are_an_error_not_emitted():
    outcome = translate(ingress("a", rule("shop.example.com", path("/", "web")),
                                annotations={N + "whitelist-source-range": "10.0.0.0/8, junk, 10.0.0.0/33"}))
    assert ("error", "invalid-annotation") in codes(outcome)
    assert "'junk', '10.0.0.0/33'" in [f for f in outcome["findings"] if f["code"] == "invalid-annotation"][0]["message"]
    assert [r for r in outcome["resources"] if r["kind"] == "AuthorizationPolicy"] == []


def canary_pair(canary_annotations, stable_path=None, stable_annotations=None):
    stable = ingress("stable", rule("shop.example.com", stable_path or path("/", "web", path_type="Exact")),
                     annotations=stable_annotations)
    canary = ingress("canary", rule("shop.example.com", stable_path or path("/", "web-v2", path_type="Exact")),
                     annotations=dict({N + "canary": "true"}, **canary_annotations), created="2024-02-01T00:00:00Z")
    if stable_path:
        canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "web-v2"
    return stable, canary


def test_a_canary_with_app_root_over_an_exact_root_rule_does_not_crash():
    outcome = translate(*canary_pair({N + "app-root": "/home", N + "canary-weight": "10"}))
    assert all(route.get("route") != [] for route in http_routes(outcome))


@pytest.mark.parametrize("weight", ["1" + "0" * 400, "\u00b2", "-5", "150"])
def test_canary_weights_out_of_range_are_findings(weight):
    outcome = translate(*canary_pair({N + "canary-weight": weight}))
    for route in http_routes(outcome):
        assert all(0 <= destination.get("weight", 100) <= 100 for destination in route.get("route", []))
    assert any(f["code"] in ("invalid-annotation", "canary-weight-invalid") for f in outcome["findings"]), codes(outcome)


def test_a_canary_by_header_with_app_root_never_yields_an_empty_route():
    outcome = translate(*canary_pair({N + "canary-by-header": "X-Beta", N + "app-root": "/home"}))
    for route in http_routes(outcome):
        assert route.get("route") != [], route


def deep_value(depth):
    value = {"x": 1}
    for dummy in range(depth):
        value = {"x": value}
    return value


def test_deep_offline_input_is_an_input_error_not_a_recursion_error():
    workload = probe_workload({"httpGet": {"path": "/", "port": 8080}}, {probes.REWRITE_ANNOTATION: "false"})
    workload["spec"]["template"]["spec"]["containers"][0]["env"] = [deep_value(5000)]
    with pytest.raises(InputError, match="Deployment shop/web: nested too deeply"):
        probes.process_workloads([workload], "rewrite")
    item = ingress("a", rule("shop.example.com", path("/", "web")))
    item["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["extra"] = deep_value(5000)
    translate(item)  # never walked: translated as usual


def probe_workload(handler, annotations=None):
    return {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations or {}},
                                  "spec": {"containers": [{"name": "web", "readinessProbe": handler}]}}}}


def exec_command(result):
    return result.changed_workload["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]


def test_exec_probes_are_argument_lists_a_path_with_a_quote_stays_one_argument():
    result = probes.ProbeAuditor().process(probe_workload({"httpGet": {"path": "/it's ready", "port": 8080}}), "exec")
    assert exec_command(result) == ["wget", "-q", "-T", "1", "-O", "/dev/null", "http://127.0.0.1:8080/it's ready"]


def test_a_probe_host_cannot_add_options_to_the_exec_command():
    workload = probe_workload({"httpGet": {"path": "/", "port": 8080, "host": "x -O /etc/passwd"}})
    with pytest.raises(InputError) as caught:
        probes.ProbeAuditor().process(workload, "exec")
    assert str(caught.value) == ("Deployment shop/Deployment/web: spec.template.spec.containers[0].readinessProbe."
                                 "httpGet.host: 'x -O /etc/passwd' is not a host name or IP address")


@pytest.mark.parametrize("template,message", [
    ("", "must be a command"), ("   ", "must be a command"), ("wget '{url}", "cannot be split into words"),
    ("curl {uri}", "names {uri}"), ("wget {url", "expected '}' before end of string"), ("{url}", "cannot be a placeholder")])
def test_bad_exec_templates_are_input_errors_at_start(template, message):
    with pytest.raises(InputError, match="exec_http_command") as caught:
        probes.ProbeAuditor(exec_http_command=template)
    assert message in str(caught.value)


def test_the_grpc_service_flag_is_one_argument_or_none():
    handler = {"grpc": {"port": 9090, "service": "svc v1"}}
    assert exec_command(probes.ProbeAuditor().process(probe_workload(handler), "exec")) == [
        "grpc_health_probe", "-addr=127.0.0.1:9090", "-service=svc v1", "-connect-timeout=1s"]
    assert exec_command(probes.ProbeAuditor().process(probe_workload({"grpc": {"port": 9090}}), "exec")) == [
        "grpc_health_probe", "-addr=127.0.0.1:9090", "-connect-timeout=1s"]
    with pytest.raises(InputError, match="must be a word of its own"):
        probes.ProbeAuditor(exec_grpc_command="grpc_health_probe -addr={host}:{port}{service_flag}")


@pytest.mark.parametrize("value", ["\u00b2", "\uff18\uff10"])
def test_non_ascii_digits_in_port_annotations_are_not_ports(value):
    workload = probe_workload({"httpGet": {"path": "/", "port": 8080}},
                              {probes.EXCLUDE_INBOUND_ANNOTATION: value, probes.STATUS_PORT_ANNOTATION: value,
                               probes.REWRITE_ANNOTATION: "false"})
    result = probes.ProbeAuditor().process(workload, "audit")
    assert result.blocking  # 8080 is still captured: the annotation names no port
    assert "status-port-annotation-invalid" in [f.code for f in result.findings]


def test_gateway_api_output_splits_listeners_over_gateways_of_at_most_64():
    items = [ingress("i{0}".format(n), rule("h{0}.example.com".format(n), path("/", "web")),
                     tls=[{"hosts": ["h{0}.example.com".format(n)], "secretName": "tls-{0}".format(n % 3)}])
             for n in range(150)]
    items.append(ingress("plain", rule("plain.example.com", path("/", "web"))))
    outcome = translate(*items, output_api="gateway-api")
    gateways = dict((r["metadata"]["name"], r) for r in outcome["resources"] if r["kind"] == "Gateway")
    assert len(gateways) == 3 and all(len(g["spec"]["listeners"]) <= 64 for g in gateways.values())
    listener_gateway = dict((l["name"], name) for name, g in gateways.items() for l in g["spec"]["listeners"])
    assert list(listener_gateway).count("http") == 1
    attached = set()
    for route in (r for r in outcome["resources"] if r["kind"] == "HTTPRoute"):
        for parent in route["spec"]["parentRefs"]:
            assert parent["name"] in gateways
            if "sectionName" in parent:
                assert listener_gateway[parent["sectionName"]] == parent["name"], parent
                attached.add(parent["sectionName"])
    assert attached >= set(listener_gateway) - {"http"}  # every HTTPS listener has its route
    assert ("info", "gateways-split") in codes(outcome)
    assert translate(*items, output_api="gateway-api") == outcome  # the same grouping every time


def preview_of(annotations=None, labels=None, containers=None, **kwargs):
    template = {"metadata": {"labels": dict({"app": "web"}, **(labels or {})), "annotations": annotations or {}},
                "spec": {"containers": containers or [{"name": "web", "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": 8080}}}]}}
    return probes.preview_rewrite({"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
                                   "spec": {"template": template}}, **kwargs)


def test_preview_follows_the_injector_on_opt_outs_templates_and_status_ports():
    assert preview_of(labels={probes.INJECT_ANNOTATION: "false"})["injected"] is False
    assert preview_of(labels={probes.INJECT_ANNOTATION: "false"})["app_probers"] is None
    assert preview_of(labels={probes.INJECT_ANNOTATION: "False"})["rewrite"] is True  # not an opt-out to Istio
    assert preview_of(annotations={probes.TEMPLATES_ANNOTATION: "sidecar,grpc-agent"})["rewrite"] is False
    assert preview_of(annotations={probes.TEMPLATES_ANNOTATION: "sidecar,mine"},
                      templates_without_rewrite={"mine"})["rewrite"] is False
    for config in ('{"statusPort": 15030}', "concurrency: 2\nstatusPort: 15030\n"):
        handler = preview_of(annotations={probes.PROXY_CONFIG_ANNOTATION: config})["containers"]["web"]["readinessProbe"]
        assert handler["httpGet"]["port"] == 15030
    both = preview_of(annotations={probes.PROXY_CONFIG_ANNOTATION: '{"statusPort": 15030}',
                                   probes.STATUS_PORT_ANNOTATION: "15040"})
    assert both["containers"]["web"]["readinessProbe"]["httpGet"]["port"] == 15040


def test_the_audit_reports_a_grpc_template_pod_as_not_rewritten():
    workload = probe_workload({"httpGet": {"path": "/", "port": 8080}}, {probes.TEMPLATES_ANNOTATION: "grpc-agent"})
    result = probes.ProbeAuditor().process(workload, "audit")
    assert [f.code for f in result.findings] == ["rewrite-disabled"]


def test_an_injected_pods_existing_probers_win_and_unreadable_ones_stay():
    proxy = {"name": "istio-proxy", "env": [{"name": probes.APP_PROBERS_ENV, "value":
                                             '{"/app-health/web/readyz":{"httpGet":{"port":7070,"path":"/old"}}}'}]}
    app = {"name": "web", "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
           "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}}}
    merged = preview_of(annotations={probes.SIDECAR_STATUS_ANNOTATION: "{}"}, containers=[app, proxy])
    assert merged["app_probers"] == ('{"/app-health/web/livez":{"httpGet":{"path":"/live","port":8080}},'
                                     '"/app-health/web/readyz":{"httpGet":{"path":"/old","port":7070}}}')
    proxy["env"][0]["value"] = "not json"
    assert preview_of(annotations={probes.SIDECAR_STATUS_ANNOTATION: "{}"},
                      containers=[app, proxy])["app_probers"] == "not json"


def test_user_templates_that_turn_the_rewrite_off_are_found_in_the_injector_config():
    from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import templates_turning_rewrite_off
    config = ("policy: enabled\ntemplates:\n  sidecar: |\n    metadata: {}\n  quiet: |\n    metadata:\n"
              "      annotations:\n        sidecar.istio.io/rewriteAppHTTPProbers: \"false\"\n")
    assert templates_turning_rewrite_off(config) == {"quiet"}
    assert templates_turning_rewrite_off("not: [yaml") == set()
