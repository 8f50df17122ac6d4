"""The egress stage (adoption_stage=egress) on a control plane of its own."""

import ipaddress
import json
import os
import subprocess
import threading

import pytest
import yaml

import route_oracle
from conftest import BIN, own_plane, recap_changed
from test_adoption_playbook import Adoption

PAYMENTS = {"name": "payments-api", "hosts": ["api.payments.example"], "ports": [{"number": 443, "protocol": "TLS"}]}
PARTNER_DB = {"name": "partner-db", "hosts": ["db.partner.example"], "ports": [{"number": 5432, "protocol": "TCP"}]}
EXTERNAL_NAME = """
apiVersion: v1
kind: Service
metadata: {name: partner-db, namespace: shop}
spec:
  type: ExternalName
  externalName: db.partner.example
  ports: [{port: 5432, name: tcp-postgres}]
"""


@pytest.fixture(scope="module")
def egress_plane():
    with own_plane("egress") as plane:
        yield plane


@pytest.fixture(scope="module")
def adoption(egress_plane, tmp_path_factory):
    adoption = Adoption(egress_plane, tmp_path_factory.mktemp("egress"))
    adoption.seed()
    adoption.kubectl.run("apply", "-f", "-", input=EXTERNAL_NAME)
    return adoption


def egress(adoption, *args, expect_failure=False, **settings):
    extra = ["-e", "adoption_stage=egress", "-e", json.dumps(settings)]
    return adoption.run(*(extra + list(args)), expect_failure=expect_failure)


class Watch:
    """`kubectl get --watch-only` on one kind: every event the API server sends, in order."""

    def __init__(self, adoption, *args):
        command = [os.path.join(BIN, "kubectl"), "--kubeconfig", adoption.plane.kubeconfig, "get"] + list(args) + [
            "--watch-only", "--output-watch-events", "-o", "json"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.text = []
        self.reader = threading.Thread(target=lambda: self.text.append(self.process.stdout.read()), daemon=True)
        self.reader.start()

    def events(self):
        self.process.terminate()
        self.reader.join(10)
        decoder, text, position, found = json.JSONDecoder(), "".join(self.text), 0, []
        while position < len(text.strip()):
            while text[position].isspace():
                position += 1
            event, position = decoder.raw_decode(text, position)
            found.append(event)
        return found


def injected_outbound_ranges(adoption):
    """The ranges Istio's own injector puts on a new pod in a meshed namespace (server-side dry run)."""
    answer, refusal = adoption.new_pod("shop")
    assert answer, refusal
    containers = answer["spec"].get("initContainers", []) + answer["spec"]["containers"]
    init = [c for c in containers if c["name"] in ("istio-init", "istio-validation")][0]
    return init["args"][init["args"].index("-i") + 1]


def pod_outbound_ranges(adoption, namespace):
    """The ranges the injector gave the running pods of a namespace's Deployments, once rolled out."""
    adoption.kubectl.run("wait", "--for=condition=Available", "deployment", "--all", "-n", namespace, "--timeout=120s")
    ranges = set()
    for pod in adoption.kubectl.json("-n", namespace, "get", "pods")["items"]:
        if pod["status"].get("phase") != "Running" or pod["metadata"].get("deletionTimestamp"):
            continue
        for container in pod["spec"].get("initContainers", []):
            if container["name"] == "istio-init":
                ranges.add(container["args"][container["args"].index("-i") + 1])
    return ranges


def mesh_config(adoption):
    return adoption.kubectl.json("-n", "istio-system", "get", "configmap", "istio")["data"]["mesh"]


def test_bad_egress_input_fails_before_any_write_naming_entry_and_field(adoption):
    before = adoption.resource_versions()
    output = egress(adoption, expect_failure=True, egress_mode="sideways")
    assert "egress_mode must be allow_any, bypass_ranges or registry_only (got sideways)" in output
    without_ports = dict(PAYMENTS)
    del without_ports["ports"]
    output = egress(adoption, expect_failure=True, egress_mode="registry_only",
                    egress_destinations=[PARTNER_DB, without_ports])
    assert "egress_destinations[1] (payments-api): ports is missing" in output
    output = egress(adoption, expect_failure=True, egress_destinations=[dict(PARTNER_DB, hosts=["*.partner.example"])])
    assert "egress_destinations[0] (partner-db): wildcard host *.partner.example needs resolution NONE" in output
    assert adoption.resource_versions() == before


def test_registry_only_registers_first_reports_what_it_blocks_then_switches(adoption):
    observed = ["telemetry.vendor.example:443", "api.payments.example:443", "web.shop.svc.cluster.local:80"]
    output = egress(adoption, expect_failure=True, egress_mode="registry_only", egress_destinations=[PAYMENTS],
                    egress_observed_destinations=observed)
    # The report names the undeclared ExternalName host and the observed one; nothing is switched.
    assert "REGISTRY_ONLY would block 2 destination(s): db.partner.example from ExternalName Service shop/partner-db; " \
           "telemetry.vendor.example from observed destination" in output
    assert "REGISTRY_ONLY" not in mesh_config(adoption)
    assert adoption.kubectl.json("-n", "istio-system", "get", "serviceentry", "egress-payments-api")

    settings = dict(egress_mode="registry_only", egress_destinations=[PAYMENTS, PARTNER_DB],
                    egress_observed_destinations=observed[1:])
    watched = "serviceentries,configmaps"
    before = adoption.resource_versions(extra_kinds="," + watched)
    egress(adoption, "--check", **settings)
    assert adoption.resource_versions(extra_kinds="," + watched) == before

    entries, config_maps = Watch(adoption, "serviceentries", "-A"), Watch(adoption, "configmaps", "-n", "istio-system")
    egress(adoption, **settings)
    entry_events, config_events = entries.events(), config_maps.events()
    added = [int(e["object"]["metadata"]["resourceVersion"]) for e in entry_events
             if e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "egress-partner-db"]
    switched = [int(e["object"]["metadata"]["resourceVersion"]) for e in config_events
                if e["object"]["metadata"]["name"] == "istio" and "REGISTRY_ONLY" in e["object"]["data"]["mesh"]]
    # etcd's revision orders every write the API server made: the ServiceEntry came first.
    assert added and switched and max(added) < min(switched), (added, switched)
    assert "mode: REGISTRY_ONLY" in mesh_config(adoption)
    report = adoption.report()["egress"]
    assert report["mode"] == "registry_only" and report["blocked"] == []
    assert sorted(report["service_entries"]) == ["istio-system/egress-partner-db", "istio-system/egress-payments-api"]

    assert recap_changed(egress(adoption, **settings)) == 0
    # Dropping a destination prunes its ServiceEntry (the mode stays; the report warns).
    output = egress(adoption, egress_mode="registry_only", egress_destinations=[PAYMENTS])
    assert "REGISTRY_ONLY blocks db.partner.example:5432 (ExternalName Service shop/partner-db)" in output
    assert adoption.kubectl.run("-n", "istio-system", "get", "serviceentry", "egress-partner-db",
                                check=False).returncode != 0


def test_bypass_ranges_captures_the_ranges_found_in_the_cluster(adoption):
    from plane import SERVICE_CIDR, node_pod_cidr  # the plane's own settings, not what the stage read
    egress(adoption, egress_mode="bypass_ranges", egress_destinations=[PAYMENTS])
    # The nodes' adjacent pod ranges are merged into one.
    pods = ipaddress.collapse_addresses(ipaddress.ip_network(node_pod_cidr(i)) for i in range(adoption.plane.node_count))
    assert injected_outbound_ranges(adoption) == ",".join([SERVICE_CIDR] + [str(n) for n in pods])
    assert "ALLOW_ANY" in mesh_config(adoption)
    # Given ranges win over discovered ones; the install stage keeps them on later runs.
    egress(adoption, egress_mode="bypass_ranges", egress_service_cidrs=["10.96.0.0/12"],
           egress_pod_cidrs=["10.64.0.0/12"], egress_extra_ranges=["192.168.10.0/24"])
    assert injected_outbound_ranges(adoption) == "10.96.0.0/12,10.64.0.0/12,192.168.10.0/24"
    adoption.run("-e", "adoption_stage=install")
    assert injected_outbound_ranges(adoption) == "10.96.0.0/12,10.64.0.0/12,192.168.10.0/24"
    # Per namespace instead: payments' workloads get Istio's per-pod annotation and roll out; the
    # injector puts those ranges on their new pods, while the mesh-wide setting goes back to "*".
    egress(adoption, egress_mode="bypass_ranges", egress_service_cidrs=["10.96.0.0/12"],
           egress_pod_cidrs=["10.64.0.0/12"], egress_bypass_namespaces=["payments"])
    assert injected_outbound_ranges(adoption) == "*"
    assert pod_outbound_ranges(adoption, "payments") == {"10.96.0.0/12,10.64.0.0/12"}
    assert "those of payments only `10.96.0.0/12,10.64.0.0/12`" in adoption.report_markdown()
    egress(adoption, egress_mode="allow_any")
    assert injected_outbound_ranges(adoption) == "*"
    assert pod_outbound_ranges(adoption, "payments") == {"*"}


def live(adoption, kinds, *args):
    """Objects as read back, without what the API server adds, for the oracle."""
    items = adoption.kubectl.json("get", kinds, *args)["items"]
    for item in items:
        item["metadata"] = dict((k, v) for k, v in item["metadata"].items()
                                if k in ("name", "namespace", "labels", "annotations"))
        item.pop("status", None)
    return items


def test_an_egress_gateway_carries_the_declared_hosts_as_istiod_configures_it(adoption):
    httpbin = {"name": "httpbin", "hosts": ["httpbin.example"], "through_gateway": True,
               "ports": [{"number": 80, "protocol": "HTTP"}, {"number": 443, "protocol": "TLS"}]}
    settings = dict(egress_mode="registry_only", egress_destinations=[PAYMENTS, PARTNER_DB, httpbin],
                    egress_gateway_enabled=True)
    egress(adoption, **settings)
    assert recap_changed(egress(adoption, **settings)) == 0
    deployment = adoption.kubectl.json("-n", "istio-egress", "get", "deployment", "istio-egressgateway")
    assert deployment["status"]["readyReplicas"] >= 1

    # What the stage generated and the gateway's Service, as they are in the cluster, through
    # Istio's own config generation and traffic simulation, under the mesh config now installed.
    config = live(adoption, "serviceentries,gateways.networking.istio.io,virtualservices", "-A",
                  "-l", "adoptmesh.istio/egress")
    kube = live(adoption, "namespaces,services", "-n", "istio-egress")
    kube = [o for o in kube if o["kind"] != "Namespace"] + [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("istio-egress", "shop", "istio-system")]
    gateway_service = "outbound|{0}||istio-egressgateway.istio-egress.svc.cluster.local"
    sidecar_calls = [
        {"mode": "outbound", "address": "203.0.113.10", "host": "httpbin.example", "port": 80, "path": "/get"},
        {"mode": "outbound", "address": "203.0.113.10", "host": "httpbin.example", "port": 443, "tls": True,
         "sni": "httpbin.example"},
        {"mode": "outbound", "address": "203.0.113.11", "host": "api.payments.example", "port": 443, "tls": True,
         "sni": "api.payments.example"},
        {"mode": "outbound", "address": "203.0.113.12", "host": "undeclared.example", "port": 80, "path": "/"},
    ]
    gateway_calls = [{"host": "httpbin.example", "port": 80, "path": "/get"},
                     {"host": "httpbin.example", "port": 443, "tls": True, "sni": "httpbin.example"}]

    def case(case_id, proxy, calls, mode):
        return {"id": case_id, "config": yaml.safe_dump_all(config), "kube": yaml.safe_dump_all(kube), "proxy": proxy,
                "calls": calls, "mesh_config": "outboundTrafficPolicy: {mode: %s}\n" % mode}

    sidecar = {"namespace": "shop", "labels": {"app": "web"}, "ip": "10.64.0.50", "type": "sidecar"}
    router = {"namespace": "istio-egress", "labels": {"istio": "egressgateway"}, "ip": "10.64.0.60"}
    installed = "REGISTRY_ONLY" if "REGISTRY_ONLY" in mesh_config(adoption) else "ALLOW_ANY"
    assert installed == "REGISTRY_ONLY"
    answers = route_oracle.run_raw([case("sidecar", sidecar, sidecar_calls, installed),
                                    case("gateway", router, gateway_calls, installed),
                                    case("sidecar-allow-any", sidecar, sidecar_calls[3:], "ALLOW_ANY")])
    clusters = dict((a["id"], [c["cluster"] or c["error"] for c in a["calls"]]) for a in answers)
    assert clusters["sidecar"][:3] == [gateway_service.format(80), gateway_service.format(443),
                                       "outbound|443||api.payments.example"], clusters
    assert clusters["gateway"] == ["outbound|80||httpbin.example", "outbound|443||httpbin.example"], clusters
    # An undeclared host: blocked under REGISTRY_ONLY (istiod's block_all virtual host answers
    # without any cluster), passed through under ALLOW_ANY.
    blocked = answers[0]["calls"][3]
    assert (blocked["virtual_host"], blocked["route"], blocked["cluster"]) == ("block_all", "block_all", ""), blocked
    assert clusters["sidecar-allow-any"] == ["PassthroughCluster"], clusters


def test_rollback_lets_traffic_out_before_it_removes_the_registry_and_keeps_users_entries(adoption):
    user_entry = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                  "metadata": {"name": "team-entry", "namespace": "shop"},
                  "spec": {"hosts": ["team.partner.example"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                           "resolution": "DNS", "location": "MESH_EXTERNAL"}}
    adoption.kubectl.run("apply", "-f", "-", input=json.dumps(user_entry))
    assert "REGISTRY_ONLY" in mesh_config(adoption)
    entries, config_maps = Watch(adoption, "serviceentries", "-A"), Watch(adoption, "configmaps", "-n", "istio-system")
    adoption.run(playbook="rollback-istio.yml")
    entry_events, config_events = entries.events(), config_maps.events()
    deleted = [int(e["object"]["metadata"]["resourceVersion"]) for e in entry_events if e["type"] == "DELETED"]
    opened = [int(e["object"]["metadata"]["resourceVersion"]) for e in config_events
              if e["object"]["metadata"]["name"] == "istio" and "ALLOW_ANY" in e["object"]["data"]["mesh"]]
    assert deleted and opened and min(opened) < min(deleted), (opened, deleted)
    remaining = adoption.kubectl.json("get", "serviceentries,gateways.networking.istio.io,virtualservices", "-A",
                                      "-l", "adoptmesh.istio/egress")["items"]
    assert remaining == []
    assert adoption.kubectl.json("-n", "shop", "get", "serviceentry", "team-entry")["spec"]["hosts"] == [
        "team.partner.example"]
    # No namespace asks for injection any more; the injector's own values say what it would capture.
    injector = adoption.kubectl.json("-n", "istio-system", "get", "configmap", "istio-sidecar-injector")
    assert json.loads(injector["data"]["values"])["global"]["proxy"]["includeIPRanges"] == "*"
    assert recap_changed(adoption.run(playbook="rollback-istio.yml")) == 0
