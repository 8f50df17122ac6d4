"""Probe audit and conversion: one case per rule and strategy of the probes spec."""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.adoptmesh.istio.plugins.module_utils import probes
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError


def deployment(containers, annotations=None, outer_annotations=None, labels=None, init_containers=None,
               name="web", namespace="shop"):
    template = {"metadata": {"labels": labels if labels is not None else {"app": name}}, "spec": {"containers": containers}}
    if annotations is not None:
        template["metadata"]["annotations"] = annotations
    if init_containers is not None:
        template["spec"]["initContainers"] = init_containers
    metadata = {"name": name, "namespace": namespace}
    if outer_annotations:
        metadata["annotations"] = outer_annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}


def container(name="web", ports=None, **probe_fields):
    result = {"name": name, "image": "registry.invalid/web:1"}
    if ports is not None:
        result["ports"] = ports
    result.update(probe_fields)
    return result


HTTP_READY = {"httpGet": {"path": "/ready", "port": 8080}, "timeoutSeconds": 3, "periodSeconds": 7}
PORTS = [{"name": "http", "containerPort": 8080}]


def codes(result):
    return sorted((f.severity, f.code) for f in result.findings)


def run(workload, strategy="audit", **options):
    return probes.ProbeAuditor(**options).process(workload, strategy)


# --- audit: the numbered rules of the spec --------------------------------------------------------

@pytest.mark.parametrize("value,breaks", [
    ("false", True), ("False", True), ("FALSE", True), ("f", True), ("0", True), ("F", True),
    ("true", False), ("1", False), ("t", False), ("True", False),
])
def test_rule1_opt_out_annotation_parsed_like_go_parsebool(value, breaks):
    result = run(deployment([container(readinessProbe=HTTP_READY)], annotations={probes.REWRITE_ANNOTATION: value}))
    assert bool(result.blocking) is breaks
    assert (("error", "rewrite-disabled") in codes(result)) is breaks


@pytest.mark.parametrize("value", ["no", "off", "yes", "", " true"])
def test_rule1_invalid_annotation_value_falls_back_to_the_global_default(value):
    workload = deployment([container(readinessProbe=HTTP_READY)], annotations={probes.REWRITE_ANNOTATION: value})
    assert codes(run(workload)) == [("warning", "rewrite-annotation-invalid")]
    assert not run(workload).blocking
    assert run(workload, rewrite_default=False).blocking


def test_rule1_global_default_off_breaks_plain_probes():
    result = run(deployment([container(readinessProbe=HTTP_READY)]), rewrite_default=False)
    assert ("error", "rewrite-disabled") in codes(result)


def test_rule1_annotation_only_on_the_deployment_metadata_has_no_effect():
    workload = deployment([container(readinessProbe=HTTP_READY)], outer_annotations={probes.REWRITE_ANNOTATION: "false"})
    result = run(workload)
    assert codes(result) == [("warning", "rewrite-annotation-on-workload")]
    assert not result.blocking


def test_rule2_http_host_breaks_even_with_the_rewrite():
    probe = {"httpGet": {"path": "/ready", "port": 8080, "host": "10.1.2.3"}}
    result = run(deployment([container(readinessProbe=probe)]))
    assert codes(result) == [("error", "probe-host-set")]
    finding = result.findings[0].as_dict()
    assert finding["container"] == "web" and finding["probe"] == "readinessProbe"


def test_rule3_named_port_that_does_not_resolve():
    probe = {"httpGet": {"path": "/ready", "port": "health"}}
    result = run(deployment([container(ports=PORTS, readinessProbe=probe)]))
    assert codes(result) == [("error", "named-port-unresolved")]
    assert result.blocking


def test_rule3_named_port_that_resolves_is_fine():
    probe = {"httpGet": {"path": "/ready", "port": "http"}}
    result = run(deployment([container(ports=PORTS, readinessProbe=probe)]))
    assert codes(result) == [] and not result.blocking


@pytest.mark.parametrize("annotation,value", [
    (probes.EXCLUDE_INBOUND_ANNOTATION, "9000,8080"),
    (probes.INCLUDE_INBOUND_ANNOTATION, "9000"),
])
def test_rule4_probe_port_not_captured_by_the_sidecar_is_unaffected(annotation, value):
    annotations = {probes.REWRITE_ANNOTATION: "false", annotation: value}
    result = run(deployment([container(readinessProbe=HTTP_READY)], annotations=annotations))
    assert not result.blocking and codes(result) == []
    assert "not captured" in result.probes[0]["reason"]


def test_rule5_exec_probes_are_never_affected():
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}}
    result = run(deployment([container(readinessProbe=probe, livenessProbe=probe)],
                            annotations={probes.REWRITE_ANNOTATION: "false"}))
    assert not result.blocking and codes(result) == []
    assert run(deployment([container(readinessProbe=probe)]), "exec").changed_workload is None


def test_rule6_pod_injected_before_the_rewrite_needs_a_restart():
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"},
                        "annotations": {probes.SIDECAR_STATUS_ANNOTATION: "{}"}},
           "spec": {"containers": [container(readinessProbe=HTTP_READY), {"name": "istio-proxy", "image": "proxy"}]}}
    result = run(pod)
    assert ("error", "pod-needs-restart") in codes(result)
    assert result.blocking
    rewritten = copy.deepcopy(pod)
    rewritten["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/app-health/web/readyz", "port": 15020}}
    assert codes(run(rewritten)) == []


def test_rule7_https_probe_is_reported_as_information():
    probe = {"httpGet": {"path": "/ready", "port": 8443, "scheme": "HTTPS"}}
    result = run(deployment([container(readinessProbe=probe)]))
    assert codes(result) == [("info", "https-probe")]
    assert not result.blocking


def test_tcp_probe_without_rewrite_is_meaningless_not_failing():
    probe = {"tcpSocket": {"port": 8080}}
    result = run(deployment([container(livenessProbe=probe)], annotations={probes.REWRITE_ANNOTATION: "false"}))
    assert codes(result) == [("warning", "tcp-probe-meaningless")]
    assert not result.blocking


def test_grpc_probe_without_rewrite_breaks():
    probe = {"grpc": {"port": 9090}}
    result = run(deployment([container(livenessProbe=probe)], annotations={probes.REWRITE_ANNOTATION: "false"}))
    assert codes(result) == [("error", "rewrite-disabled")]


def test_lifecycle_hooks_and_init_containers_are_audited():
    hook = {"httpGet": {"path": "/drain", "port": 8080}}
    sidecar_init = container(name="log-shipper", readinessProbe={"tcpSocket": {"port": 9000}})
    sidecar_init["restartPolicy"] = "Always"
    workload = deployment([container(lifecycle={"preStop": hook, "postStart": {"exec": {"command": ["true"]}}})],
                          annotations={probes.REWRITE_ANNOTATION: "false"}, init_containers=[sidecar_init])
    result = run(workload)
    kinds = sorted((f.as_dict()["container"], f.as_dict()["probe"], f.code) for f in result.findings)
    assert kinds == [("log-shipper", "readinessProbe", "tcp-probe-meaningless"),
                     ("web", "lifecycle.preStop", "rewrite-disabled")]


def test_hooks_without_a_network_call_are_unaffected():
    workload = deployment([container(lifecycle={"preStop": {"sleep": {"seconds": 5}}, "postStart": {}})],
                          annotations={probes.REWRITE_ANNOTATION: "false"})
    result = run(workload)
    assert [(row["probe"], row["handler"], row["breaks_under_strict"]) for row in result.probes] == [
        ("lifecycle.preStop", "sleep", False), ("lifecycle.postStart", None, False)]
    assert codes(result) == []


def test_the_proxy_container_itself_is_skipped():
    proxy = {"name": "istio-proxy", "image": "proxy", "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}}}
    result = run(deployment([container(), proxy], annotations={probes.REWRITE_ANNOTATION: "false"}))
    assert result.probes == [] and codes(result) == []


def test_pods_that_opt_out_of_injection_are_unaffected():
    workload = deployment([container(readinessProbe=HTTP_READY)], annotations={probes.REWRITE_ANNOTATION: "false"},
                          labels={"app": "web", "sidecar.istio.io/inject": "false"})
    assert not run(workload).blocking


def test_invalid_status_port_annotation_is_an_error():
    workload = deployment([container(readinessProbe=HTTP_READY)], annotations={probes.STATUS_PORT_ANNOTATION: "abc"})
    assert ("error", "status-port-annotation-invalid") in codes(run(workload))


def test_multiple_containers_are_reported_separately():
    workload = deployment([container(name="web", readinessProbe=HTTP_READY),
                           container(name="metrics", livenessProbe={"httpGet": {"path": "/m", "port": 9100}})],
                          annotations={probes.REWRITE_ANNOTATION: "false"})
    result = run(workload)
    assert sorted(f.as_dict()["container"] for f in result.findings) == ["metrics", "web"]


@pytest.mark.parametrize("kind,path", [
    ("StatefulSet", ("spec", "template")), ("DaemonSet", ("spec", "template")), ("ReplicaSet", ("spec", "template")),
    ("Job", ("spec", "template")), ("CronJob", ("spec", "jobTemplate", "spec", "template")),
])
def test_every_workload_kind_is_read_through_its_pod_template(kind, path):
    template = {"metadata": {"annotations": {probes.REWRITE_ANNOTATION: "false"}, "labels": {"app": "x"}},
                "spec": {"containers": [container(readinessProbe=HTTP_READY)]}}
    workload = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "ns"}, "spec": {}}
    node = workload
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = template
    result = run(workload)
    assert result.ref == "ns/{0}/x".format(kind)
    assert ("error", "rewrite-disabled") in codes(result)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("workload,message", [
    ({"kind": "Service", "metadata": {"name": "x", "namespace": "n"}}, "Service n/x: kind: unsupported kind 'Service'"),
    ({"kind": "Deployment", "metadata": {"namespace": "n"}}, "Deployment n/<unnamed>: metadata.name: is required"),
    ({"kind": "Deployment", "metadata": {"name": "x", "namespace": "n"}, "spec": {}},
     "Deployment n/x: spec.template.spec: is missing or not a mapping"),
    ({"kind": "Deployment", "metadata": {"name": "x", "namespace": "n"}, "spec": {"template": {"spec": {"containers": []}}}},
     "Deployment n/x: spec.template.spec.containers: must be a non-empty list"),
    ({"kind": "CronJob", "metadata": {"name": "x", "namespace": "n"},
      "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}}},
     "CronJob n/x: spec.jobTemplate.spec.template.spec.containers[0].name: every container needs a name"),
    ("a string", "<input>: expected a Kubernetes object (a mapping), got str"),
    ({"kind": ["Deployment"], "metadata": {"name": "x", "namespace": "n"}},
     "['Deployment'] n/x: kind: unsupported kind ['Deployment']"),
    (deployment([container(readinessProbe="/ready")]),
     "Deployment shop/web: spec.template.spec.containers[0].readinessProbe: is a string, not a mapping"),
    (deployment([container(livenessProbe={"httpGet": "/live"})]),
     "Deployment shop/web: spec.template.spec.containers[0].livenessProbe.httpGet: is a string, not a mapping"),
    (deployment([container()], init_containers=[container(name="init", lifecycle={"preStop": {"tcpSocket": 80}})]),
     "Deployment shop/web: spec.template.spec.initContainers[0].lifecycle.preStop.tcpSocket: is an integer, not a mapping"),
    (deployment([container(lifecycle=["preStop"])]),
     "Deployment shop/web: spec.template.spec.containers[0].lifecycle: is a list, not a mapping"),
    (deployment([container()], init_containers={"name": "init"}),
     "Deployment shop/web: spec.template.spec.initContainers: is a mapping, not a list"),
])
def test_bad_objects_get_a_message_naming_object_and_field(workload, message):
    with pytest.raises(InputError) as caught:
        run(workload)
    assert str(caught.value).startswith(message)


def test_unknown_strategy_is_refused_by_name():
    with pytest.raises(InputError, match="unknown strategy 'magic'"):
        run(deployment([container()]), "magic")


# --- strategies ---------------------------------------------------------------------------------------

def test_audit_changes_nothing():
    workload = deployment([container(readinessProbe=HTTP_READY)], annotations={probes.REWRITE_ANNOTATION: "false"})
    before = copy.deepcopy(workload)
    result = run(workload, "audit")
    assert result.changed_workload is None and result.resources == [] and workload == before


def test_rewrite_turns_the_opt_out_into_true_and_previews_the_injection():
    ready = {"httpGet": {"path": "/ready", "port": "http"}, "timeoutSeconds": 2}
    workload = deployment([container(ports=PORTS, readinessProbe=ready,
                                     livenessProbe={"tcpSocket": {"port": 8080}})],
                          annotations={probes.REWRITE_ANNOTATION: "false"})
    before = copy.deepcopy(workload)
    result = run(workload, "rewrite")
    assert workload == before
    template = result.changed_workload["spec"]["template"]
    assert template["metadata"]["annotations"][probes.REWRITE_ANNOTATION] == "true"
    assert not result.blocking
    assert result.preview["app_probers"] == (
        '{"/app-health/web/livez":{"tcpSocket":{"port":8080}},'
        '"/app-health/web/readyz":{"httpGet":{"path":"/ready","port":8080},"timeoutSeconds":2}}')
    assert result.preview["containers"]["web"]["readinessProbe"] == {
        "httpGet": {"path": "/app-health/web/readyz", "port": 15020}, "timeoutSeconds": 2}
    assert result.preview["containers"]["web"]["livenessProbe"] == {
        "httpGet": {"path": "/app-health/web/livez", "port": 15020}}


def test_rewrite_removes_a_host_that_names_the_pod_itself_and_keeps_headers():
    probe = {"httpGet": {"path": "/ready", "port": 8080, "host": "localhost",
                         "httpHeaders": [{"name": "X-Probe", "value": "1"}]}, "failureThreshold": 5}
    result = run(deployment([container(readinessProbe=probe)]), "rewrite")
    new_probe = result.changed_workload["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert new_probe == {"httpGet": {"path": "/ready", "port": 8080, "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                         "failureThreshold": 5}
    assert ("info", "probe-host-removed") in codes(result)


def test_rewrite_cannot_keep_a_probe_to_another_host():
    probe = {"httpGet": {"path": "/ready", "port": 8080, "host": "db.internal"}}
    result = run(deployment([container(readinessProbe=probe)]), "rewrite")
    assert result.changed_workload is None
    assert ("error", "probe-host-unfixable") in codes(result)
    assert result.blocking


def test_rewrite_status_port_annotation_moves_the_kubelet_probe():
    workload = deployment([container(readinessProbe=HTTP_READY)], annotations={probes.STATUS_PORT_ANNOTATION: "15999"})
    preview = run(workload, "rewrite").preview
    assert preview["containers"]["web"]["readinessProbe"]["httpGet"]["port"] == 15999


def test_exec_replaces_network_handlers_and_keeps_timing():
    probe = {"httpGet": {"path": "/ready", "port": "http", "scheme": "HTTPS",
                         "httpHeaders": [{"name": "Host", "value": "web.local"}]},
             "timeoutSeconds": 4, "periodSeconds": 9, "failureThreshold": 2}
    workload = deployment([container(ports=PORTS, readinessProbe=probe, livenessProbe={"tcpSocket": {"port": 8080}},
                                     startupProbe={"grpc": {"port": 9090, "service": "ready"}})])
    result = run(workload, "exec")
    new = result.changed_workload["spec"]["template"]["spec"]["containers"][0]
    assert new["readinessProbe"] == {
        "exec": {"command": ["wget", "--header", "Host: web.local", "--no-check-certificate", "-q", "-T", "4",
                             "-O", "/dev/null", "https://127.0.0.1:8080/ready"]},
        "timeoutSeconds": 4, "periodSeconds": 9, "failureThreshold": 2}
    assert new["livenessProbe"] == {"exec": {"command": ["nc", "-z", "-w", "1", "127.0.0.1", "8080"]}}
    assert new["startupProbe"] == {"exec": {"command": ["grpc_health_probe", "-addr=127.0.0.1:9090", "-service=ready",
                                                        "-connect-timeout=1s"]}}
    assert {("warning", "exec-binary-required")} <= set(codes(result))


def test_exec_command_templates_are_configurable():
    auditor = probes.ProbeAuditor(exec_http_command="curl -fsS --max-time {timeout} {url}")
    result = auditor.process(deployment([container(readinessProbe=HTTP_READY)]), "exec")
    command = result.changed_workload["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
    assert command == ["curl", "-fsS", "--max-time", "3", "http://127.0.0.1:8080/ready"]


def test_exec_cannot_convert_an_unresolved_named_port():
    result = run(deployment([container(readinessProbe={"httpGet": {"path": "/", "port": "nope"}})]), "exec")
    assert result.changed_workload is None
    assert ("error", "named-port-unresolved") in codes(result)


def test_health_port_emits_a_workload_peer_authentication_for_the_probed_ports():
    workload = deployment([container(ports=PORTS, readinessProbe={"httpGet": {"path": "/ready", "port": "http"}},
                                     livenessProbe={"httpGet": {"path": "/live", "port": 9090}})],
                          annotations={probes.REWRITE_ANNOTATION: "false"})
    result = run(workload, "health_port")
    assert result.changed_workload is None
    [peer_authentication] = result.resources
    assert peer_authentication["kind"] == "PeerAuthentication"
    assert peer_authentication["metadata"]["namespace"] == "shop"
    assert peer_authentication["spec"] == {"selector": {"matchLabels": {"app": "web"}},
                                           "portLevelMtls": {"8080": {"mode": "DISABLE"}, "9090": {"mode": "DISABLE"}}}
    assert not result.blocking
    assert ("warning", "health-port-plaintext") in codes(result)


def test_health_port_refuses_without_a_selector():
    workload = deployment([container(readinessProbe=HTTP_READY)], annotations={probes.REWRITE_ANNOTATION: "false"},
                          labels={})
    workload["spec"]["selector"] = {}
    result = run(workload, "health_port")
    assert result.resources == []
    assert ("error", "health-port-no-selector") in codes(result)
    assert result.blocking


def test_per_workload_overrides_pick_the_strategy():
    broken = {probes.REWRITE_ANNOTATION: "false"}
    workloads = [deployment([container(readinessProbe=HTTP_READY)], annotations=broken, name="a"),
                 deployment([container(readinessProbe=HTTP_READY)], annotations=broken, name="b")]
    results = probes.process_workloads(workloads, "rewrite", overrides={"shop/Deployment/b": "health_port"})
    assert [r.strategy for r in results] == ["rewrite", "health_port"]
    assert results[0].changed_workload is not None and results[1].resources


# --- invariants ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["rewrite", "exec", "health_port"])
def test_running_a_strategy_on_its_own_output_changes_nothing(strategy):
    workload = deployment([container(ports=PORTS, readinessProbe={"httpGet": {"path": "/r", "port": "http", "host": "127.0.0.1"}},
                                     livenessProbe={"tcpSocket": {"port": 8080}})],
                          annotations={probes.REWRITE_ANNOTATION: "false"})
    first = run(workload, strategy)
    output = first.changed_workload or workload
    second = run(output, strategy)
    assert second.changed_workload is None
    assert second.resources == first.resources


# --- property tests ------------------------------------------------------------------------------------

port_values = st.one_of(st.integers(min_value=1, max_value=65535), st.sampled_from(["http", "metrics", "grpc", "nope"]))
http_get = st.fixed_dictionaries({"port": port_values},
                                 optional={"path": st.sampled_from(["/", "/ready", "/a/b?x=1", "<&>"]),
                                           "host": st.sampled_from(["localhost", "10.0.0.9", ""]),
                                           "scheme": st.sampled_from(["HTTP", "HTTPS"]),
                                           "httpHeaders": st.lists(st.fixed_dictionaries(
                                               {"name": st.sampled_from(["X-A", "Host"]), "value": st.text(max_size=5)}),
                                               max_size=2)})
handler = st.one_of(
    st.fixed_dictionaries({"httpGet": http_get}),
    st.fixed_dictionaries({"tcpSocket": st.fixed_dictionaries({"port": port_values})}),
    st.fixed_dictionaries({"grpc": st.fixed_dictionaries({"port": st.integers(min_value=1, max_value=65535)},
                                                         optional={"service": st.text(max_size=5)})}),
    st.fixed_dictionaries({"exec": st.fixed_dictionaries({"command": st.just(["true"])})}),
)
probe = st.builds(lambda h, t: dict(h, **({"timeoutSeconds": t} if t else {})), handler,
                  st.one_of(st.none(), st.integers(min_value=1, max_value=30)))
container_strategy = st.builds(
    lambda name, ports, probes_: dict({"name": name, "image": "x", "ports": ports}, **probes_),
    st.sampled_from(["web", "api", "worker"]),
    st.lists(st.fixed_dictionaries({"name": st.sampled_from(["http", "metrics", "grpc"]),
                                    "containerPort": st.integers(min_value=1, max_value=65535)}),
             max_size=3, unique_by=lambda p: p["name"]),
    st.fixed_dictionaries({}, optional={"readinessProbe": probe, "livenessProbe": probe, "startupProbe": probe,
                                        "lifecycle": st.fixed_dictionaries({}, optional={"preStop": handler})}))
annotation_values = st.fixed_dictionaries({}, optional={
    probes.REWRITE_ANNOTATION: st.sampled_from(["true", "false", "0", "maybe"]),
    probes.EXCLUDE_INBOUND_ANNOTATION: st.sampled_from(["8080", "", "1,2,x"]),
})
workload_strategy = st.builds(
    lambda containers, annotations: deployment(containers, annotations=annotations),
    st.lists(container_strategy, min_size=1, max_size=3, unique_by=lambda c: c["name"]), annotation_values)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(workload_strategy, st.sampled_from(probes.STRATEGIES))
def test_random_pod_templates_never_raise_and_every_breaking_probe_has_a_finding(workload, strategy):
    result = run(workload, strategy)
    flagged = {(f.as_dict().get("container"), f.as_dict().get("probe")) for f in result.findings
               if f.severity == "error"}
    for row in result.blocking:
        assert (row["container"], row["probe"]) in flagged
    json.dumps(result.as_dict())
    again = run(result.changed_workload or workload, strategy)
    assert again.changed_workload is None


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4)),
                           lambda inner: st.one_of(st.lists(inner, max_size=2),
                                                   st.dictionaries(st.sampled_from(["port", "host", "exec", "httpGet"]),
                                                                   inner, max_size=2)), max_leaves=4)
malformed_handler = st.dictionaries(st.sampled_from(["exec", "httpGet", "tcpSocket", "grpc", "sleep", "timeoutSeconds"]),
                                    json_values, max_size=2)
malformed_container = st.fixed_dictionaries({"name": st.just("web")}, optional={
    "readinessProbe": st.one_of(json_values, malformed_handler), "livenessProbe": malformed_handler,
    "ports": st.one_of(json_values, st.lists(st.dictionaries(st.sampled_from(["name", "containerPort"]), json_values))),
    "lifecycle": st.one_of(json_values, st.fixed_dictionaries({}, optional={"preStop": malformed_handler}))})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(malformed_container, st.sampled_from(probes.STRATEGIES))
def test_malformed_probes_get_an_input_error_or_a_result_never_a_traceback(container_value, strategy):
    try:
        result = run(deployment([container_value]), strategy)
    except InputError as error:
        assert "spec.template.spec.containers[0]" in str(error)
    else:
        json.dumps(result.as_dict())


@settings(max_examples=100)
@given(workload_strategy)
def test_preview_probers_are_valid_json_of_the_rewritable_probes(workload):
    preview = probes.preview_rewrite(workload)
    if preview["app_probers"]:
        parsed = json.loads(preview["app_probers"])
        assert all(key.startswith(("/app-health/", "/app-lifecycle/")) for key in parsed)
