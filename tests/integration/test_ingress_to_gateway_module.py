"""adoptmesh.istio.ingress_to_gateway against a real API server with Istio's and Gateway API's CRDs."""

import os

import pytest
import yaml

from conftest import REPO, recap_changed

N = "nginx.ingress.kubernetes.io/"


def estate(namespace):
    """Services, a TLS Secret and Ingresses that use every translated feature."""
    def svc(name, ports):
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                "spec": {"selector": {"app": name}, "ports": [{"name": n, "port": p} for n, p in ports]}}

    def ing(name, rules, annotations=None, tls=None, created_class="nginx", default_backend=None):
        spec = {"ingressClassName": created_class, "rules": rules}
        if tls:
            spec["tls"] = tls
        if default_backend:
            spec["defaultBackend"] = default_backend
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}}, "spec": spec}

    def paths(*entries):
        return {"paths": [{"path": p, "pathType": t, "backend": {"service": {"name": s, "port": port}}}
                          for p, t, s, port in entries]}

    host = "shop-{0}.example.com".format(namespace)
    return [
        svc("web", [("http", 80)]), svc("api", [("http", 8080), ("grpc", 9090)]), svc("web-v2", [("http", 80)]),
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": {"name": "shop-tls", "namespace": namespace},
         "stringData": {"tls.crt": "placeholder-cert", "tls.key": "placeholder-key"}},
        ing("web", [{"host": host, "http": paths(
            ("/", "Prefix", "web", {"number": 80}), ("/api", "Prefix", "api", {"name": "http"}),
            ("/api/v1/status", "Exact", "api", {"number": 8080}))}],
            annotations={N + "proxy-read-timeout": "30", N + "enable-cors": "true", N + "proxy-connect-timeout": "3",
                         N + "affinity": "cookie", N + "whitelist-source-range": "10.0.0.0/8"},
            tls=[{"hosts": [host], "secretName": "shop-tls"}], default_backend={"service": {"name": "web", "port": {"number": 80}}}),
        ing("web-canary", [{"host": host, "http": paths(("/", "Prefix", "web-v2", {"number": 80}))}],
            annotations={N + "canary": "true", N + "canary-weight": "10", N + "canary-by-header": "X-Beta"}),
        ing("legacy", [{"host": "legacy-{0}.example.com".format(namespace),
                        "http": paths(("/old(/|$)(.*)", "ImplementationSpecific", "web", {"number": 80}))}],
            annotations={N + "rewrite-target": "/$2", N + "use-regex": "true", N + "app-root": "/home",
                         N + "upstream-vhost": "legacy.internal", N + "backend-protocol": "HTTPS"}),
        ing("moved", [{"host": "old-{0}.example.com".format(namespace), "http": paths(("/", "Prefix", "web", {"number": 80}))}],
            annotations={N + "permanent-redirect": "https://{0}/".format(host)}),
        ing("vault", [{"host": "vault-{0}.example.com".format(namespace), "http": paths(("/", "Prefix", "api", {"number": 8080}))}],
            annotations={N + "ssl-passthrough": "true"}),
        ing("www", [{"host": "www-{0}.example.com".format(namespace).replace("www-", "www.", 1),
                     "http": paths(("/", "Prefix", "web", {"number": 80}))}],
            annotations={N + "from-to-www-redirect": "true", N + "x-forwarded-prefix": "/shop"}),
    ]


def translate_task(register, namespace, **options):
    options.setdefault("namespaces", [namespace])
    options.setdefault("gateway_namespace", namespace)
    return {"name": "Translate", "register": register, "adoptmesh.istio.ingress_to_gateway": options}


def ingress_versions(kubectl, namespace):
    items = kubectl.json("-n", namespace, "get", "ingresses")["items"]
    return dict((i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in items)


def test_istio_output_is_accepted_by_the_crds_and_istioctl_and_applies_once(
        istio, kubectl, istioctl, namespace, playbook, tmp_path):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(estate(namespace)))
    ingresses_before = ingress_versions(kubectl, namespace)
    results, output = playbook.run([translate_task("plan", namespace)])
    plan = results["plan"]
    assert plan["changed"] is False and [f for f in plan["findings"] if f["severity"] == "error"] == []
    kinds = sorted(set(r["kind"] for r in plan["resources"]))
    assert kinds == ["AuthorizationPolicy", "DestinationRule", "Gateway", "VirtualService"]
    manifest = tmp_path / "translated.yaml"
    manifest.write_text(yaml.safe_dump_all(plan["resources"]))
    istioctl.run("validate", "-f", manifest)
    kubectl.run("apply", "--dry-run=server", "-f", manifest)

    apply = translate_task("apply", namespace, apply=True)
    results, output = playbook.run([apply], check=True, diff=True)
    assert results["apply"]["changed"] is True
    assert kubectl.json("-n", namespace, "get", "virtualservices")["items"] == []
    assert "VirtualService" in output  # the diff names the objects

    results, output = playbook.run([apply])
    assert recap_changed(output) == 1
    live = kubectl.json("-n", namespace, "get", "virtualservices,gateways.networking.istio.io,destinationrules,authorizationpolicies")["items"]
    assert len(live) == len(plan["resources"])
    output = playbook.run([apply])[1]
    assert recap_changed(output) == 0
    assert ingress_versions(kubectl, namespace) == ingresses_before  # the Ingresses are untouched


def test_gateway_api_output_is_accepted_by_the_gateway_api_crds(istio, kubectl, namespace, playbook, tmp_path):
    crds = os.path.join(REPO, ".build", "content", "crds", "gateway-api-standard.yaml")
    kubectl.run("apply", "--server-side", "-f", crds)
    kubectl.run("wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io", "--timeout=60s")
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(estate(namespace)))
    results = playbook.run([translate_task("plan", namespace, output_api="gateway-api", gateway_namespace="gw-" + namespace)])[0]
    resources = results["plan"]["resources"]
    assert {"Gateway", "HTTPRoute", "ReferenceGrant", "TLSRoute"} <= set(r["kind"] for r in resources)
    kubectl.run("create", "namespace", "gw-" + namespace)
    try:
        manifest = tmp_path / "gateway-api.yaml"
        manifest.write_text(yaml.safe_dump_all(resources))
        kubectl.run("apply", "--dry-run=server", "-f", manifest)
    finally:
        kubectl.run("delete", "namespace", "gw-" + namespace, "--wait=false", check=False)
    codes = set(f["code"] for f in results["plan"]["findings"])
    assert "rewrite-not-expressible" in codes and "cors-not-translated" in codes


def test_error_findings_block_apply_unless_allowed(istio, kubectl, namespace, playbook):
    broken = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "metadata": {"name": "broken", "namespace": namespace},
              "spec": {"ingressClassName": "nginx", "rules": [{"host": "b.example.com", "http": {"paths": [
                  {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "missing", "port": {"number": 80}}}},
                  {"path": "/ok", "pathType": "Prefix", "backend": {"service": {"name": "present", "port": {"number": 80}}}}]}}]}}
    present = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "present", "namespace": namespace},
               "spec": {"ports": [{"port": 80}]}}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all([broken, present]))
    output = playbook.run([translate_task("apply", namespace, apply=True)], expect_failure=True)[1]
    assert "1 error finding(s)" in output and "Service {0}/missing does not exist".format(namespace) in output
    assert kubectl.json("-n", namespace, "get", "virtualservices")["items"] == []
    results = playbook.run([translate_task("apply", namespace, apply=True, allow_errors=True)])[0]
    assert results["apply"]["changed"] is True


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_offline_translation_needs_no_cluster(playbook, output_api):
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    task = {"name": "Translate offline", "register": "offline",
            "adoptmesh.istio.ingress_to_gateway": {"ingresses": [ingress], "output_api": output_api,
                                                   "kubeconfig": "/nonexistent"}}
    results = playbook.run([task])[0]
    assert results["offline"]["summary"]["ingresses"] == 1 and results["offline"]["resources"]


def test_bad_options_fail_naming_the_option_not_with_a_traceback(playbook):
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    for options, named in (({"gateway_namespace": "Istio_Ingress"}, "gateway_namespace"),
                           ({"owner": "team a"}, "owner")):
        task = {"name": "Translate", "register": "bad", "adoptmesh.istio.ingress_to_gateway": dict(ingresses=[ingress], **options)}
        _results, output = playbook.run([task], expect_failure=True)
        assert "options: {0}:".format(named) in output and "Traceback" not in output, output


@pytest.mark.parametrize("output_api,deployments", [("istio", [{"name": "shop-gw", "namespace": "edge"}]),
                                                    ("gateway-api", [{"name": "shop-gw-istio", "namespace": "edge"}])])
def test_the_result_names_the_serving_deployments_and_a_claimed_ingress_is_refused(playbook, output_api, deployments):
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    options = {"ingresses": [ingress], "output_api": output_api, "gateway_name": "shop-gw", "gateway_namespace": "edge"}
    task = {"name": "Translate", "register": "first", "adoptmesh.istio.ingress_to_gateway": options}
    results = playbook.run([task])[0]
    assert results["first"]["deployments"] == deployments
    assert results["first"]["claims"] == {"shop/web": "shop-gw"}
    # The same gateway again is no conflict; another gateway taking the Ingress is, naming both.
    again = dict(task, register="again", **{"adoptmesh.istio.ingress_to_gateway": dict(options, claimed={"shop/web": "shop-gw"})})
    assert playbook.run([again])[0]["again"]["claims"] == {"shop/web": "shop-gw"}
    other = dict(task, register="other", **{"adoptmesh.istio.ingress_to_gateway": dict(
        options, gateway_name="edge-b", claimed={"shop/web": "shop-gw"})})
    output = playbook.run([other], expect_failure=True)[1]
    assert "Ingress shop/web is taken by gateways shop-gw and edge-b" in output and "Traceback" not in output
