"""The ingress stage on the local plane: roles ingress_gateway and gateway_certificates, modules
ingress_to_gateway (prune), gateway_credentials, gateway_ready and ingress_cutover, with Istio's
gateway chart, istiod's webhooks and cert-manager's own controllers."""

import base64
import datetime
import json
import os
import stat
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ISTIO_CHART_VERSIONS, recap_changed

GENERATED = "app.kubernetes.io/managed-by=adoptmesh.istio"
KINDS = "gateways.networking.istio.io,virtualservices.networking.istio.io,destinationrules,authorizationpolicies"


def pem_pair(hosts, days=365, start=None):
    """A self-signed certificate for hosts and its key, PEM (valid from `start`, default now)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    start = start or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def tls_secret(name, namespace, pair):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"tls.crt": base64.b64encode(pair[0].encode()).decode(),
                     "tls.key": base64.b64encode(pair[1].encode()).decode()}}


def ingress(name, namespace, hosts, secret=None, service="web", labels=None):
    spec = {"ingressClassName": "nginx", "rules": [
        {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": service, "port": {"number": 80}}}}]}} for host in hosts]}
    if secret:
        spec["tls"] = [{"hosts": list(hosts), "secretName": secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"team": "a"},
                         "annotations": {"example.com/owner": "team-a"}}, "spec": spec}


def key_material_in(output, pairs):
    """PEM markers or any test key (PEM or its base64) in the output."""
    found = [marker for marker in ("-----BEGIN", "PRIVATE KEY") if marker in output]
    for _cert, key in pairs:
        encoded = base64.b64encode(key.encode()).decode()
        body = "".join(key.strip().splitlines()[1:-1])
        found += [what for what, text in (("key base64", encoded[:40]), ("key body", body[:40])) if text in output]
    return found


class Stage:
    """One gateway in its own namespace, driven through the roles."""

    def __init__(self, kubectl, playbook, namespace):
        self.kubectl = kubectl
        self.playbook = playbook
        self.source = namespace
        self.name = "gw-" + uuid.uuid4().hex[:6]
        self.namespace = self.name
        self.backups = str(playbook.directory / "backups")

    def gateway(self, **extra):
        entry = {"name": self.name, "namespace": self.namespace,
                 "service": {"type": "ClusterIP"}, "ingresses": {"namespaces": [self.source]}}
        entry.update(extra)
        return entry

    def role_vars(self, gateways=None, **extra):
        values = {"ingress_gateway_gateways": gateways or [self.gateway()],
                  "ingress_gateway_chart_source": self.playbook.plane.charts_oci, "adoptmesh_chart_plain_http": True,
                  "ingress_gateway_chart_version": ISTIO_CHART_VERSIONS[0],
                  "ingress_gateway_backup_dir": self.backups, "ingress_gateway_wait_timeout": 120}
        values.update(extra)
        return values

    def run(self, tasks_from="main", check=False, diff=False, expect_failure=False, verbose=False, **role_vars):
        task = {"name": "Run the stage", "ansible.builtin.include_role": {
            "name": "adoptmesh.istio.ingress_gateway", "tasks_from": tasks_from}, "vars": self.role_vars(**role_vars)}
        results, output = self.playbook.run([task], check=check, diff=diff, expect_failure=expect_failure,
                                            extra_args=["-v"] if verbose else [])
        return output

    def apply(self, *objects):
        self.kubectl.run("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def generated(self):
        items = self.kubectl.json("get", KINDS, "-A", "-l", "adoptmesh.istio/gateway=" + self.name)["items"]
        return dict(("{0}/{1}".format(i["kind"], i["metadata"]["name"]), i) for i in items)

    def versions(self, *kinds):
        items = self.kubectl.json("get", ",".join(kinds), "-n", self.namespace)["items"] + \
            self.kubectl.json("get", "ingresses,secrets", "-n", self.source)["items"]
        return dict(("{0}/{1}/{2}".format(i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]),
                     i["metadata"]["resourceVersion"]) for i in items)

    def deployment(self):
        return self.kubectl.json("get", "deployment", self.name, "-n", self.namespace)


@pytest.fixture
def stage(istio, kubectl, playbook, namespace):
    kubectl.run("-n", namespace, "create", "service", "clusterip", "web", "--tcp=80:8080")
    created = Stage(kubectl, playbook, namespace)
    yield created
    kubectl.run("delete", "namespace", created.namespace, "--wait=false", check=False)


def test_the_stage_installs_translates_copies_and_reruns_without_change(stage):
    pair = pem_pair(["shop.example.test"])
    stage.apply(tls_secret("shop-tls", stage.source, pair),
                ingress("shop", stage.source, ["shop.example.test"], secret="shop-tls"),
                ingress("api", stage.source, ["api.example.test"]))
    ingresses_before = stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]
    first = stage.run(diff=True)
    assert not key_material_in(first, [pair])
    deployment = stage.deployment()
    assert deployment["status"]["availableReplicas"] >= 1
    generated = stage.generated()
    gateway = next(v for k, v in generated.items() if k.startswith("Gateway/"))
    credentials = [s["tls"]["credentialName"] for s in gateway["spec"]["servers"] if "tls" in s]
    assert len(credentials) == 1 and gateway["spec"]["selector"] == {"istio": stage.name.replace("istio-", "")}
    copy = stage.kubectl.json("get", "secret", credentials[0], "-n", stage.namespace)
    assert copy["data"]["tls.crt"] == base64.b64encode(pair[0].encode()).decode()
    assert sorted(v["spec"]["hosts"][0] for k, v in generated.items() if k.startswith("VirtualService/")) == [
        "api.example.test", "shop.example.test"]
    # The Ingresses keep serving, untouched.
    assert stage.kubectl.json("get", "ingress", "-n", stage.source)["items"] == ingresses_before

    versions = stage.versions("gateways.networking.istio.io", "virtualservices", "secrets", "deployments")
    assert recap_changed(stage.run()) == 0
    check = stage.run(check=True, diff=True)
    assert recap_changed(check) == 0
    assert stage.versions("gateways.networking.istio.io", "virtualservices", "secrets", "deployments") == versions

    # Rotation: the source certificate changes; only the copy follows, the gateway does not restart.
    renewed = pem_pair(["shop.example.test"])
    stage.apply(tls_secret("shop-tls", stage.source, renewed))
    output = stage.run(diff=True, verbose=True)
    assert not key_material_in(output, [pair, renewed])
    copy = stage.kubectl.json("get", "secret", credentials[0], "-n", stage.namespace)
    assert copy["data"]["tls.crt"] == base64.b64encode(renewed[0].encode()).decode()
    after = stage.deployment()
    assert after["metadata"]["generation"] == deployment["metadata"]["generation"]
    assert after["spec"]["template"] == deployment["spec"]["template"]


def test_pruning_removes_only_what_a_removed_host_generated(stage):
    stage.apply(ingress("shop", stage.source, ["a.example.test", "b.example.test"]))
    stage.run()
    before = stage.generated()
    assert any(v["spec"].get("hosts") == ["b.example.test"] for v in before.values())
    # A Gateway and a VirtualService a user made in the gateway namespace, with our managed-by
    # label even (but not the owner label): never candidates.
    user_gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                    "metadata": {"name": "users-own", "namespace": stage.namespace,
                                 "labels": {"app.kubernetes.io/managed-by": "adoptmesh.istio"}},
                    "spec": {"selector": {"istio": "x"}, "servers": [
                        {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["b.example.test"]}]}}
    user_vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
               "metadata": {"name": "users-own", "namespace": stage.namespace},
               "spec": {"hosts": ["b.example.test"], "gateways": ["users-own"],
                        "http": [{"route": [{"destination": {"host": "web." + stage.source + ".svc.cluster.local"}}]}]}}
    stage.apply(user_gateway, user_vs)
    stage.apply(ingress("shop", stage.source, ["a.example.test"]))

    check = stage.run(check=True, diff=True)
    doomed = next(k.split("/", 1)[1] for k, v in before.items() if v["spec"].get("hosts") == ["b.example.test"])
    assert "VirtualService {0}/{1} (before)".format(stage.namespace, doomed) in check
    assert stage.generated() == before

    stage.run()
    after = stage.generated()
    gone = set(before) - set(after)
    assert len(gone) == 1 and before[gone.pop()]["spec"]["hosts"] == ["b.example.test"]
    for kind in ("gateway.networking.istio.io", "virtualservice"):
        assert stage.kubectl.run("get", kind, "users-own", "-n", stage.namespace, check=False).returncode == 0


def test_cert_manager_mode_issues_ready_certificates_for_the_credentials(stage):
    stage.kubectl.run("create", "namespace", stage.namespace)
    stage.apply({"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                 "metadata": {"name": "selfsigned", "namespace": stage.namespace}, "spec": {"selfSigned": {}}})
    stage.apply(ingress("shop", stage.source, ["shop.example.test", "www.example.test"], secret="not-yet-issued"))
    gateway = stage.gateway(certificates={"mode": "cert_manager", "issuer": {"name": "selfsigned"}})
    output = stage.run(gateways=[gateway], verbose=True)
    certificates = stage.kubectl.json("get", "certificates.cert-manager.io", "-n", stage.namespace)["items"]
    assert len(certificates) == 1
    certificate = certificates[0]
    assert sorted(certificate["spec"]["dnsNames"]) == ["shop.example.test", "www.example.test"]
    assert [c["status"] for c in certificate["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    secret = stage.kubectl.json("get", "secret", certificate["spec"]["secretName"], "-n", stage.namespace)
    gateway_object = next(v for k, v in stage.generated().items() if k.startswith("Gateway/"))
    assert [s["tls"]["credentialName"] for s in gateway_object["spec"]["servers"] if "tls" in s] == [
        secret["metadata"]["name"]]
    issued_key = base64.b64decode(secret["data"]["tls.key"]).decode()
    assert not key_material_in(output, [("", issued_key)])
    assert recap_changed(stage.run(gateways=[gateway])) == 0


def test_a_team_gateway_can_read_only_its_own_namespace_secrets(stage, kubectl):
    stage.apply(ingress("shop", stage.source, ["a.example.test"]))
    stage.run()
    account = "system:serviceaccount:{0}:{1}".format(stage.namespace, stage.name)

    def can(verb, namespace):
        return kubectl.run("auth", "can-i", verb, "secrets", "-n", namespace, "--as", account,
                           check=False).stdout.strip() == "yes"
    assert can("get", stage.namespace) and can("list", stage.namespace)
    assert not can("get", stage.source) and not can("list", "istio-system") and not can("get", "default")


def test_cutover_gate_backup_retire_and_restore(stage, tmp_path):
    good = pem_pair(["shop.example.test"])
    stage.apply(tls_secret("shop-tls", stage.source, good),
                ingress("shop", stage.source, ["shop.example.test"], secret="shop-tls"),
                ingress("api", stage.source, ["api.example.test"], labels={"team": "a", "tier": "edge"}))
    stage.run()
    originals = dict((i["metadata"]["name"], i) for i in stage.kubectl.json("get", "ingress", "-n", stage.source)["items"])

    # A certificate that does not cover the host: the gate names the host, nothing is retired.
    stage.apply(tls_secret("shop-tls", stage.source, pem_pair(["other.example.test"])))
    stage.run()
    output = stage.run(tasks_from="cutover", expect_failure=True)
    assert "cutover gate closed" in output and "host shop.example.test" in output and "other.example.test" in output
    # An expired one: the same.
    expired = pem_pair(["shop.example.test"], days=1, start=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    stage.apply(tls_secret("shop-tls", stage.source, expired))
    stage.run()
    output = stage.run(tasks_from="cutover", expect_failure=True)
    assert "host shop.example.test" in output and "expired" in output
    assert len(stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]) == 2

    stage.apply(tls_secret("shop-tls", stage.source, good))
    stage.run()
    # A backup folder that cannot be written: nothing retired.
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    if os.access(str(locked), os.W_OK):  # root ignores the mode: a file where the folder should be
        os.chmod(locked, stat.S_IRWXU)
        locked.rmdir()
        locked.write_text("not a folder")
    output = stage.run(tasks_from="cutover", expect_failure=True, ingress_gateway_backup_dir=str(locked / "sub"))
    assert "cannot write the Ingress backup" in output and "nothing retired" in output
    assert len(stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]) == 2

    # Check mode retires nothing and writes no backup; then the real cutover.
    stage.run(tasks_from="cutover", check=True)
    assert len(stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]) == 2
    assert not os.path.exists(stage.backups)
    stage.run(tasks_from="cutover")
    assert stage.kubectl.json("get", "ingress", "-n", stage.source)["items"] == []
    backup = json.load(open(os.path.join(stage.backups, "localhost.ingresses.json")))
    assert sorted(i["metadata"]["name"] for i in backup["ingresses"]) == ["api", "shop"]
    assert backup["ingresses"][0]["metadata"]["uid"] == originals["api"]["metadata"]["uid"]  # exactly as read

    restore = {"name": "Restore", "adoptmesh.istio.ingress_cutover": {
        "state": "restored", "backup_dir": stage.backups, "cluster_name": "localhost"}, "register": "restored"}
    results, _output = stage.playbook.run([restore])
    assert sorted(results["restored"]["restored"]) == sorted(stage.source + "/" + n for n in ("api", "shop"))
    for item in stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]:
        original = originals[item["metadata"]["name"]]
        assert item["spec"] == original["spec"]
        assert item["metadata"]["labels"] == original["metadata"]["labels"]
        assert item["metadata"]["annotations"] == original["metadata"]["annotations"]
    results, _output = stage.playbook.run([restore])
    assert results["restored"]["changed"] is False

    # Disable instead of delete, then restore in place.
    stage.run(tasks_from="cutover", ingress_gateway_retire="disable")
    classes = [i["spec"]["ingressClassName"] for i in stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]]
    assert classes == ["adoptmesh-retired", "adoptmesh-retired"]
    stage.playbook.run([restore])
    for item in stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]:
        assert item["spec"] == originals[item["metadata"]["name"]]["spec"]


def test_replayed_access_logs_are_reported_and_hold_the_cutover(stage, tmp_path):
    stage.apply(ingress("shop", stage.source, ["shop.example.test"]))
    upstream = "{0}-web-80".format(stage.source)
    log_format = '$remote_addr - [$time_local] "$request" $status $host [$proxy_upstream_name] $upstream_addr'
    same = '10.0.0.1 - [20/Nov/2026:10:00:00 +0000] "GET /cart HTTP/1.1" 200 shop.example.test [{0}] 10.1.0.1:80'
    # ingress-nginx answered these from its default backend; the translation would route them to web.
    elsewhere = ('10.0.0.1 - [20/Nov/2026:10:00:01 +0000] "GET /old-page HTTP/1.1" 404 shop.example.test '
                 '[upstream-default-backend] 127.0.0.1:8181')
    log = tmp_path / "access.log"
    log.write_text("\n".join([same.format(upstream)] * 3 + [elsewhere] * 2 + ["not a log line"]) + "\n")
    replay = {"ingress_gateway_replay_logs": [str(log)], "ingress_gateway_replay_log_format": log_format}
    output = stage.run(verbose=True, **replay)
    assert '"mismatched": 2' in output and '"same": 3' in output and "replay-mismatch" in output, output[-6000:]
    assert recap_changed(stage.run(**replay)) == 0

    output = stage.run(tasks_from="cutover", expect_failure=True, **replay)
    assert "cutover gate closed" in output and "replayed traffic" in output and "2 logged request(s)" in output
    assert len(stage.kubectl.json("get", "ingress", "-n", stage.source)["items"]) == 1
    # Two requests of one shape are tolerated when the user says so: the cutover goes ahead.
    stage.run(tasks_from="cutover", ingress_gateway_replay_max_mismatches=2, **replay)
    assert stage.kubectl.json("get", "ingress", "-n", stage.source)["items"] == []


@pytest.mark.parametrize("entry,message", [
    ({"name": "gw"}, "ingress_gateway_gateways[0] (gw): namespace is missing"),
    ({"name": "gw", "namespace": "gw", "certificates": {"mode": "acme"}},
     "ingress_gateway_gateways[0] (gw): certificates.mode acme is not one of"),
    ({"name": "gw", "namespace": "gw", "certificates": {"mode": "cert_manager"}},
     "ingress_gateway_gateways[0] (gw): certificates.issuer.name is missing"),
])
def test_bad_gateway_entries_fail_before_any_write(stage, entry, message):
    output = stage.run(gateways=[entry], expect_failure=True)
    assert message in output
    assert stage.kubectl.run("get", "namespace", "gw", check=False).returncode != 0
    assert "adoptmesh-istio" not in stage.kubectl.run("get", "gateways.networking.istio.io", "-A").stdout


def test_gateway_api_output_gets_the_gateways_istiod_deploys(stage, kubectl):
    crds = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        ".build", "content", "crds", "gateway-api-standard.yaml")
    kubectl.run("apply", "--server-side", "-f", crds)
    pair = pem_pair(["shop.example.test"])
    stage.apply(tls_secret("shop-tls", stage.source, pair),
                ingress("shop", stage.source, ["shop.example.test"], secret="shop-tls"))
    stage.run(ingress_gateway_output_api="gateway-api")
    gateways = kubectl.json("get", "gateways.gateway.networking.k8s.io", "-n", stage.namespace)["items"]
    assert [g["metadata"]["name"] for g in gateways] == [stage.name]
    assert gateways[0]["metadata"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP"
    # No chart release: the Deployment is the one istiod made for the Gateway, and it is Available.
    assert kubectl.run("get", "deployment", stage.name, "-n", stage.namespace, check=False).returncode != 0
    deployment = kubectl.json("get", "deployment", stage.name + "-istio", "-n", stage.namespace)
    assert deployment["status"]["availableReplicas"] >= 1
    assert kubectl.json("get", "service", stage.name + "-istio", "-n", stage.namespace)["spec"]["type"] == "ClusterIP"
    routes = kubectl.json("get", "httproutes", "-n", stage.namespace)["items"]
    assert routes and all(r["spec"]["hostnames"] == ["shop.example.test"] for r in routes)
    listener = next(l for l in gateways[0]["spec"]["listeners"] if l["protocol"] == "HTTPS")
    copy = kubectl.json("get", "secret", listener["tls"]["certificateRefs"][0]["name"], "-n", stage.namespace)
    assert copy["data"]["tls.crt"] == base64.b64encode(pair[0].encode()).decode()
    assert recap_changed(stage.run(ingress_gateway_output_api="gateway-api")) == 0
    # The cutover gates on istiod's Deployment and the HTTPS listener's certificate, then retires.
    stage.run(tasks_from="cutover", ingress_gateway_output_api="gateway-api")
    assert kubectl.json("get", "ingress", "-n", stage.source)["items"] == []


def test_an_ingress_taken_by_two_gateways_is_refused_naming_both(stage):
    stage.apply(ingress("shop", stage.source, ["a.example.test"]))
    second = dict(stage.gateway(), name=stage.name + "-b", namespace=stage.namespace + "-b")
    try:
        output = stage.run(gateways=[stage.gateway(), second], expect_failure=True)
        assert "Ingress {0}/shop is taken by gateways {1} and {1}-b".format(stage.source, stage.name) in output
    finally:
        stage.kubectl.run("delete", "namespace", second["namespace"], "--wait=false", check=False)


def test_the_second_gateway_writes_nothing_when_it_would_take_an_ingress_already_taken(stage):
    stage.apply(ingress("shop", stage.source, ["a.example.test"]))
    second = dict(stage.gateway(), name=stage.name + "-c", namespace=stage.namespace + "-c")
    try:
        stage.run(gateways=[stage.gateway(), second], expect_failure=True)
        assert stage.kubectl.json("get", "virtualservices,gateways.networking.istio.io", "-n", second["namespace"])[
            "items"] == []
    finally:
        stage.kubectl.run("delete", "namespace", second["namespace"], "--wait=false", check=False)


def test_static_certificates_from_files_never_show_the_key(stage, tmp_path):
    pair = pem_pair(["static.example.test"])
    (tmp_path / "tls.crt").write_text(pair[0])
    (tmp_path / "tls.key").write_text(pair[1])
    stage.apply(ingress("shop", stage.source, ["static.example.test"], secret="static-tls"))
    gateway = stage.gateway(certificates={"mode": "static", "static": [
        {"secret": stage.source + "/static-tls", "certificate_file": str(tmp_path / "tls.crt"),
         "key_file": str(tmp_path / "tls.key")}]})
    output = stage.run(gateways=[gateway], diff=True, verbose=True)
    assert not key_material_in(output, [pair])
    generated = next(v for k, v in stage.generated().items() if k.startswith("Gateway/"))
    credential = next(s["tls"]["credentialName"] for s in generated["spec"]["servers"] if "tls" in s)
    secret = stage.kubectl.json("get", "secret", credential, "-n", stage.namespace)
    assert base64.b64decode(secret["data"]["tls.key"]).decode().strip() == pair[1].strip()
    assert recap_changed(stage.run(gateways=[gateway])) == 0
    # An entry for a Secret no Ingress of this gateway uses fails before any key is read, and says so.
    wrong = stage.gateway(certificates={"mode": "static", "static": [
        {"secret": "elsewhere/tls", "certificate_file": str(tmp_path / "tls.crt"), "key_file": str(tmp_path / "tls.key")}]})
    output = stage.run(gateways=[wrong], expect_failure=True)
    assert "certificates.static[0]: secret elsewhere/tls is not the TLS Secret of any Ingress this gateway serves" in output


def test_external_tls_gives_http_only_and_no_secrets(stage):
    stage.apply(ingress("shop", stage.source, ["ext.example.test"], secret="missing-at-gateway"))
    output = stage.run(gateways=[stage.gateway(certificates={"mode": "external"})])
    assert "forward plain HTTP to the gateway Service's port 80" in output
    generated = next(v for k, v in stage.generated().items() if k.startswith("Gateway/"))
    assert [s["port"]["number"] for s in generated["spec"]["servers"]] == [80]
    secrets = stage.kubectl.json("get", "secrets", "-n", stage.namespace, "-l", GENERATED)["items"]
    assert secrets == []


def test_external_dns_annotations_on_the_service_or_the_gateway(stage, kubectl):
    stage.apply(ingress("shop", stage.source, ["b.example.test", "a.example.test"]))
    stage.run(gateways=[stage.gateway(external_dns={"source": "service"})])
    service = kubectl.json("get", "service", stage.name, "-n", stage.namespace)
    assert service["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] == \
        "a.example.test,b.example.test"
    stage.run(gateways=[stage.gateway(external_dns={"source": "gateway", "target": "lb.example.net"})])
    generated = next(v for k, v in stage.generated().items() if k.startswith("Gateway/"))
    assert generated["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/target"] == "lb.example.net"
    service = kubectl.json("get", "service", stage.name, "-n", stage.namespace)
    assert "external-dns.alpha.kubernetes.io/hostname" not in (service["metadata"].get("annotations") or {})


def test_a_gateway_that_cannot_start_times_out_naming_it_and_why(stage):
    stage.apply(ingress("shop", stage.source, ["a.example.test"]))
    gateway = stage.gateway(chart_values={"nodeSelector": {"adoptmesh.example/no-such-node": "true"}})
    output = stage.run(gateways=[gateway], expect_failure=True, ingress_gateway_wait_timeout=15)
    assert "gateways not ready after 15s: gateway {0}/{0}".format(stage.name) in output
    assert "is not scheduled: 0/2 nodes are available" in output


def test_a_certificate_that_cannot_be_issued_times_out_naming_it(stage):
    stage.apply(ingress("shop", stage.source, ["a.example.test"], secret="a-tls"))
    gateway = stage.gateway(certificates={"mode": "cert_manager", "issuer": {"name": "no-such-issuer"}})
    output = stage.run(gateways=[gateway], expect_failure=True, gateway_certificates_wait_timeout=15)
    [certificate] = stage.kubectl.json("get", "certificates.cert-manager.io", "-n", stage.namespace)["items"]
    message = "cert-manager Certificates not Ready after 15s in {0}: Certificate {1}: ".format(
        stage.namespace, certificate["metadata"]["name"])
    assert message in output, output
