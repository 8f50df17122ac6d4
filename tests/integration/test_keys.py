"""Keys never leak: a real validating webhook that quotes the Secret it denies, a key given in a
certificate field, and static certificates that are expired or not yet valid, all on the plane
and read at -vvv."""

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_ingress_stage import key_material_in, pem_pair


class EchoingWebhook:
    """An admission webhook over HTTPS on loopback that denies every request and quotes the whole
    object in its message, the way careless policy webhooks do."""

    def __init__(self, directory):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .sign(key, hashes.SHA256()))
        self.ca = cert.public_bytes(serialization.Encoding.PEM)
        (directory / "webhook.crt").write_bytes(self.ca)
        (directory / "webhook.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.requests = []
        webhook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the handler's name)
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                webhook.requests.append(review["request"]["kind"]["kind"])
                answer = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {
                    "uid": review["request"]["uid"], "allowed": False,
                    "status": {"code": 403, "message": "echo policy denies " + json.dumps(review["request"]["object"])}}}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(directory / "webhook.crt"), str(directory / "webhook.key"))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def configuration(self, namespace):
        return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": namespace + "-echo"},
                "webhooks": [{"name": "echo.test.adoptmesh.io",
                              "clientConfig": {"url": "https://127.0.0.1:{0}/validate".format(self.port),
                                               "caBundle": base64.b64encode(self.ca).decode()},
                              "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                         "resources": ["secrets"]}],
                              "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                              "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 5,
                              "admissionReviewVersions": ["v1"]}]}

    def close(self):
        self.server.shutdown()


def key_leaks(output, pair):
    """The key's PEM, body or base64 in the output (the certificate is public: its PEM may show in
    the module's arguments at -vvv)."""
    return [found for found in key_material_in(output, [pair]) if found != "-----BEGIN"]


def static_credentials(namespace, pair, name="shop-tls"):
    return {"name": "Write a static credential", "register": "credentials", "adoptmesh.istio.gateway_credentials": {
        "namespace": namespace, "owner": "gw", "mode": "static",
        "static": [{"name": name, "certificate": pair[0], "key": pair[1]}]}}


def test_a_webhook_that_quotes_the_denied_secret_leaks_no_key(kubectl, namespace, playbook, tmp_path):
    webhook = EchoingWebhook(tmp_path)
    kubectl.run("apply", "-f", "-", input=json.dumps(webhook.configuration(namespace)))
    pair = pem_pair(["shop.example.test"])
    try:
        deadline = time.monotonic() + 30
        while not webhook.requests and time.monotonic() < deadline:  # until the API server calls it
            kubectl.run("-n", namespace, "create", "secret", "generic", "probe", "--from-literal=a=b", check=False)
            time.sleep(0.5)
        assert webhook.requests, "the API server never called the webhook"
        _results, output = playbook.run([static_credentials(namespace, pair)], extra_args=["-vvv"],
                                        expect_failure=True)
    finally:
        kubectl.run("delete", "validatingwebhookconfiguration", namespace + "-echo", check=False)
        webhook.close()
    assert "echo.test.adoptmesh.io" in output and "echo policy denies" in output, output[-3000:]
    assert "<redacted>" in output
    assert key_leaks(output, pair) == [], output[-3000:]


def test_a_key_in_the_certificate_field_is_refused_without_being_shown(kubectl, namespace, playbook):
    pair = pem_pair(["shop.example.test"])
    _results, output = playbook.run([static_credentials(namespace, (pair[1], pair[1]))], extra_args=["-vvv"],
                                    expect_failure=True)
    assert "static[0] (shop-tls): certificate holds a private key (not shown)" in output
    assert key_leaks(output, pair) == [], output[-3000:]
    assert kubectl.json("-n", namespace, "get", "secrets")["items"] == []


@pytest.mark.parametrize("start,days,message", [
    (datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc), 30, "the certificate expired on 2020-01-31"),
    (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10), 30,
     "the certificate is not valid before"),
])
def test_static_certificates_out_of_their_validity_are_refused_before_any_write(
        kubectl, namespace, playbook, start, days, message):
    pair = pem_pair(["shop.example.test"], days=days, start=start)
    _results, output = playbook.run([static_credentials(namespace, pair)], expect_failure=True)
    assert "static[0] (shop-tls): " + message in output and "nothing was written" in output
    assert kubectl.json("-n", namespace, "get", "secrets")["items"] == []


def _secret(namespace, name, data, kind="Opaque"):
    return {"apiVersion": "v1", "kind": "Secret", "type": kind, "metadata": {"name": name, "namespace": namespace},
            "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}


def test_a_copy_with_a_client_ca_holds_the_auth_tls_ca_and_a_ca_secret_without_one_is_refused(
        kubectl, namespace, playbook):
    """The credential of a host with auth-tls-secret: the certificate and key of the tls entry's
    Secret, the ca.crt of the auth-tls Secret (istiod reads the CA of a MUTUAL server there), no key
    shown at -vvv, a re-run without change; a CA Secret without ca.crt writes nothing."""
    pair, ca = pem_pair(["partner.example.test"]), pem_pair(["Partner CA"])
    kubectl.run("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        _secret(namespace, "web-tls", {"tls.crt": pair[0], "tls.key": pair[1], "ca.crt": pair[0]}, "kubernetes.io/tls"),
        _secret(namespace, "partner-ca", {"ca.crt": ca[0]}), _secret(namespace, "no-ca", {"tls.crt": ca[0]})]}))
    copy = {"source_namespace": namespace, "source_name": "web-tls", "target_name": "web-tls-client-ca",
            "ca_source_namespace": namespace, "ca_source_name": "partner-ca"}
    task = {"name": "Copy with the client CA", "register": "credentials", "adoptmesh.istio.gateway_credentials": {
        "namespace": namespace, "owner": "gw", "mode": "copy", "copies": [copy]}}
    results, output = playbook.run([task], extra_args=["-vvv"])
    assert results["credentials"]["changed"] and key_leaks(output, pair) == [], output[-3000:]
    copied = kubectl.json("-n", namespace, "get", "secret", "web-tls-client-ca")
    data = dict((k, base64.b64decode(v).decode()) for k, v in copied["data"].items())
    assert data == {"tls.crt": pair[0], "tls.key": pair[1], "ca.crt": ca[0]}
    assert copied["metadata"]["annotations"]["adoptmesh.istio/ca-copied-from"] == namespace + "/partner-ca"
    results, _output = playbook.run([task])
    assert results["credentials"]["changed"] is False

    refused = dict(task, **{"adoptmesh.istio.gateway_credentials": dict(task["adoptmesh.istio.gateway_credentials"], copies=[
        dict(copy, target_name="web-tls-no-ca", ca_source_name="no-ca")])})
    refused.pop("register")
    _results, output = playbook.run([refused], expect_failure=True)
    assert "Secret {0}/no-ca (the client CA of {0}/web-tls-no-ca): has no ca.crt".format(namespace) in output, output[-2000:]
    assert kubectl.run("-n", namespace, "get", "secret", "web-tls-no-ca", check=False).returncode != 0
