"""Gateway credentials, gateway readiness and the cutover gate (certificates.py, gateways.py,
cutover.py)."""

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.adoptmesh.istio.plugins.module_utils import certificates as certs
from ansible_collections.adoptmesh.istio.plugins.module_utils import cutover
from ansible_collections.adoptmesh.istio.plugins.module_utils.gateways import readiness

NOW = datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)


def pair(hosts, start=NOW - datetime.timedelta(days=1), days=90, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def secret(crt, key, name="cred"):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "gw"},
            "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()}}


def test_wildcards_cover_one_label_only():
    assert certs.covers("*.example.com", "a.example.com")
    assert not certs.covers("*.example.com", "a.b.example.com") and not certs.covers("*.example.com", "example.com")
    assert certs.covers("*.example.com", "*.example.com") and not certs.covers("a.example.com", "*.example.com")
    assert certs.covers("Shop.Example.com", "shop.example.com.")


def test_a_valid_pair_covering_the_hosts_has_no_problems():
    crt, key = pair(["shop.example.com", "*.api.example.com"])
    assert certs.problems(secret(crt, key), ["shop.example.com", "v1.api.example.com"], NOW) == []


def test_each_problem_names_the_host():
    crt, key = pair(["shop.example.com"])
    assert certs.problems(secret(crt, key), ["www.example.com"], NOW) == [
        ("www.example.com", "not among the certificate's names ['shop.example.com']")]
    old_crt, old_key = pair(["shop.example.com"], start=NOW - datetime.timedelta(days=100), days=30)
    [(host, problem)] = certs.problems(secret(old_crt, old_key), ["shop.example.com"], NOW)
    assert host == "shop.example.com" and problem.startswith("the certificate expired on")
    future_crt, future_key = pair(["shop.example.com"], start=NOW + datetime.timedelta(days=1))
    assert "not valid before" in certs.problems(secret(future_crt, future_key), ["shop.example.com"], NOW)[0][1]


@pytest.mark.parametrize("data,problem", [
    ({"tls.key": "eA=="}, "has no tls.crt"),
    ({"tls.crt": base64.b64encode(b"not pem").decode(), "tls.key": "eA=="}, "tls.crt is not a PEM certificate"),
    ({"tls.crt": "!!", "tls.key": "eA=="}, "has no tls.crt"),
])
def test_broken_secrets_are_problems_not_crashes(data, problem):
    assert certs.problems({"data": data}, ["a.example.com"], NOW) == [("a.example.com", problem)]


def test_a_key_of_another_certificate_is_refused():
    crt, _key = pair(["a.example.com"])
    _other_crt, other_key = pair(["a.example.com"])
    assert certs.problems(secret(crt, other_key), ["a.example.com"], NOW) == [
        ("a.example.com", "tls.key is not the key of the certificate in tls.crt")]


def test_describe_and_redacted_never_carry_key_or_certificate_bytes():
    crt, key = pair(["shop.example.com"])
    shown = repr(certs.redacted(secret(crt, key)))
    assert "BEGIN" not in shown and base64.b64encode(key).decode()[:30] not in shown
    assert base64.b64encode(crt).decode()[:30] not in shown
    assert "'names': ['shop.example.com']" in shown and "'serial': '7'" in shown and "(redacted)" in shown


def test_credentials_of_both_output_apis():
    istio = {"kind": "Gateway", "spec": {"servers": [
        {"hosts": ["ns/a.example.com", "b.example.com"], "tls": {"mode": "SIMPLE", "credentialName": "one"}},
        {"hosts": ["c.example.com"], "port": {"number": 80}}]}}
    gateway_api = {"kind": "Gateway", "spec": {"listeners": [
        {"hostname": "d.example.com", "tls": {"certificateRefs": [{"kind": "Secret", "name": "two"}]}}]}}
    assert certs.credentials_of([istio, gateway_api, {"kind": "VirtualService"}]) == {
        "one": ["a.example.com", "b.example.com"], "two": ["d.example.com"]}


def test_copied_secret_keeps_only_tls_fields_and_names_its_source():
    crt, key = pair(["a.example.com"])
    source = secret(crt, key, name="web-tls")
    source["metadata"]["namespace"] = "shop"
    source["data"]["other"] = "eA=="
    copy = certs.copied_secret(source, "gw", "shop-web-tls", "edge")
    assert sorted(copy["data"]) == ["tls.crt", "tls.key"]
    assert copy["metadata"]["annotations"] == {certs.COPIED_FROM: "shop/web-tls"}
    assert copy["metadata"]["labels"]["adoptmesh.istio/gateway"] == "edge"
    assert certs.secret_is_current(copy, dict(copy, metadata=dict(copy["metadata"], uid="x")))
    rotated = dict(copy, data=dict(copy["data"], **{"tls.crt": "eQ=="}))
    assert not certs.secret_is_current(rotated, copy)


def test_ready_condition_needs_the_current_generation():
    certificate = {"metadata": {"generation": 2}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "observedGeneration": 1, "reason": "Ready", "message": "ok"}]}}
    assert certs.ready_condition(certificate)[0] is False
    certificate["status"]["conditions"][0]["observedGeneration"] = 2
    assert certs.ready_condition(certificate) == (True, "Ready: ok")
    assert "no Ready condition" in certs.ready_condition({})[1]


def deployment(available=True, replicas=1, ready=1):
    return {"metadata": {"name": "gw", "namespace": "gw", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"istio": "gw"}}},
            "status": {"observedGeneration": 1, "updatedReplicas": replicas, "availableReplicas": ready,
                       "conditions": [{"type": "Available", "status": "True" if available else "False",
                                       "message": "Deployment does not have minimum availability."}]}}


def pod(**status):
    return {"metadata": {"name": "gw-1", "namespace": "gw", "labels": {"istio": "gw"}}, "status": status}


def test_gateway_readiness_says_why_in_the_clusters_words():
    assert readiness(deployment(), []) == (True, "available (1/1 replicas)")
    assert "does not exist" in readiness(None, [])[1]
    unscheduled = pod(conditions=[{"type": "PodScheduled", "status": "False",
                                   "message": "0/2 nodes are available: 2 Insufficient cpu."}])
    ready, reason = readiness(deployment(False, ready=0), [unscheduled])
    assert not ready and "pod gw-1 is not scheduled: 0/2 nodes are available: 2 Insufficient cpu." in reason
    pulling = pod(conditions=[{"type": "PodScheduled", "status": "True"}], containerStatuses=[
        {"name": "istio-proxy", "ready": False, "state": {"waiting": {"reason": "ImagePullBackOff",
                                                                      "message": "Back-off pulling image"}}}])
    assert "container istio-proxy is waiting: ImagePullBackOff (Back-off pulling image)" in readiness(
        deployment(False, ready=0), [pulling])[1]
    unready = pod(conditions=[{"type": "PodScheduled", "status": "True"}],
                  containerStatuses=[{"name": "istio-proxy", "ready": False, "state": {"running": {}}}])
    assert "readiness probe failing" in readiness(deployment(False, ready=0), [unready])[1]


def test_the_gate_names_hosts_objects_and_gateways():
    crt, key = pair(["a.example.com"])
    gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "gw", "labels": {"x": "1"}, "annotations": {}},
               "spec": {"servers": [{"hosts": ["a.example.com", "b.example.com"],
                                     "tls": {"credentialName": "cred"}}]}}
    translation = {"resources": [gateway], "findings": [
        {"severity": "error", "ingress": "shop/web", "code": "secret-not-found", "message": "gone"}]}
    failures = cutover.gate_failures(translation, [], {"cred": secret(crt, key)}, {"gw/gw": deployment(False, ready=0)},
                                     [], {"cred": ["a.example.com", "b.example.com"]}, NOW)
    assert failures[0] == "shop/web: error finding secret-not-found: gone"
    assert "Gateway gw/gw is not applied as generated" in failures[1]
    assert failures[2].startswith("host b.example.com: credential cred: not among the certificate's names")
    assert failures[3].startswith("gateway gw/gw: 0/1 replicas available")
    translation["findings"] = []
    assert cutover.gate_failures(translation, [gateway], {"cred": secret(crt, key)}, {"gw/gw": deployment()}, [],
                                 {"cred": ["a.example.com"]}, NOW) == []
    assert cutover.gate_failures(translation, [gateway], {"cred": None}, {}, [], {"cred": ["a.example.com"]}, NOW) == [
        "host a.example.com: credential Secret cred does not exist"]


def test_the_gate_stays_closed_on_replayed_traffic_that_would_go_elsewhere():
    crt, key = pair(["a.example.com"])
    gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "gw", "labels": {"x": "1"}, "annotations": {}},
               "spec": {"servers": [{"hosts": ["a.example.com"], "tls": {"credentialName": "cred"}}]}}
    translation = {"resources": [gateway], "findings": []}
    replay = {"findings": [
        {"severity": "error", "ingress": "shop/api", "code": "replay-mismatch", "message": "14 logged request(s)"},
        {"severity": "warning", "ingress": "shop/web", "code": "replay-ambiguous", "message": "2 logged request(s)"}]}
    arguments = (translation, [gateway], {"cred": secret(crt, key)}, {"gw/gw": deployment()}, [],
                 {"cred": ["a.example.com"]}, NOW)
    assert cutover.gate_failures(*arguments, replay=replay) == ["shop/api: replayed traffic: 14 logged request(s)"]
    assert cutover.gate_failures(*arguments, replay={"findings": replay["findings"][1:]}) == []


def ingress(name, cls="nginx", annotation=False):
    metadata = {"name": name, "namespace": "shop", "uid": "u-" + name, "resourceVersion": "5",
                "labels": {"team": "a"}, "annotations": {"keep": "me"}}
    spec = {"rules": [{"host": "a.example.com"}]}
    if annotation:
        metadata["annotations"][cutover.CLASS_ANNOTATION] = cls
    else:
        spec["ingressClassName"] = cls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def test_backup_adds_never_loses_and_refuses_foreign_files():
    first = cutover.merge_backup(None, "prod", [ingress("b"), ingress("a")])
    assert [i["metadata"]["name"] for i in first["ingresses"]] == ["a", "b"] and first["cluster"] == "prod"
    second = cutover.merge_backup(first, "prod", [ingress("c")])
    assert [i["metadata"]["name"] for i in second["ingresses"]] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="not an adoptmesh.istio Ingress backup"):
        cutover.merge_backup({"format": "x"}, "prod", [])


def test_disable_moves_class_and_restore_gives_back_spec_labels_annotations():
    for original in (ingress("web"), ingress("old", annotation=True)):
        moved = cutover.disabled(original, "adoptmesh-retired")
        assert moved["spec"]["ingressClassName"] == "adoptmesh-retired"
        assert cutover.CLASS_ANNOTATION not in moved["metadata"]["annotations"]
        assert moved["metadata"]["annotations"][cutover.RETIRED_FROM] == "nginx"
        back = cutover.restored(original)
        assert back["spec"] == original["spec"] and back["metadata"]["labels"] == original["metadata"]["labels"]
        assert back["metadata"]["annotations"] == original["metadata"]["annotations"]
        assert "uid" not in back["metadata"] and "resourceVersion" not in back["metadata"]
        assert cutover.same_ingress(original, back) and not cutover.same_ingress(moved, back)


def _backed_up(host="web.example.test", labels=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop", "uid": "1", "resourceVersion": "7",
                         "labels": labels or {"team": "a"}},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": host}]}}


def test_restore_creates_a_missing_ingress_and_leaves_one_made_since_alone():
    backed_up = _backed_up()
    assert cutover.restore_step(backed_up, None, "adoptmesh-retired") == ("create", [])
    assert cutover.restore_step(backed_up, _backed_up(), "adoptmesh-retired") == ("same", [])
    disabled = cutover.disabled(_backed_up(), "adoptmesh-retired")
    assert cutover.restore_step(backed_up, disabled, "adoptmesh-retired") == ("put-back", [])
    remade = _backed_up("web.other.test", {"team": "b"})
    assert cutover.restore_step(backed_up, remade, "adoptmesh-retired") == ("conflict", ["spec.rules", "metadata.labels"])
    # Disabled, then edited by someone: no longer ours to put back.
    edited = cutover.disabled(_backed_up("web.other.test"), "adoptmesh-retired")
    assert cutover.restore_step(backed_up, edited, "adoptmesh-retired")[0] == "conflict"


@pytest.mark.parametrize("document,problem", [
    (None, "holds a NoneType"), ([], "holds a list"), ({"format": "v0"}, "format is 'v0'"),
    ({"format": cutover.BACKUP_FORMAT, "cluster": "b", "ingresses": []}, "the backup of another cluster"),
    ({"format": cutover.BACKUP_FORMAT, "cluster": "a", "ingresses": {}}, "ingresses is a dict, not a list"),
    ({"format": cutover.BACKUP_FORMAT, "cluster": "a", "ingresses": ["x"]}, "ingresses[0].metadata is missing"),
    ({"format": cutover.BACKUP_FORMAT, "cluster": "a", "ingresses": [{"metadata": {"name": "w", "namespace": "../x"},
                                                                      "spec": {}}]},
     "ingresses[0].metadata.namespace is not a namespace name"),
    ({"format": cutover.BACKUP_FORMAT, "cluster": "a", "ingresses": [{"metadata": {"name": "w", "namespace": "s",
                                                                                   "labels": {"a": 1}}, "spec": {}}]},
     "ingresses[0].metadata.labels is not a mapping of strings"),
])
def test_a_backup_of_the_wrong_shape_names_the_field(document, problem):
    assert any(problem in p for p in cutover.backup_problems(document, "a"))
    with pytest.raises(ValueError):
        cutover.merge_backup(document or {"format": "v0"}, "a", [])


def test_a_sound_backup_has_no_problems():
    document = cutover.merge_backup(None, "a", [_backed_up()])
    assert cutover.backup_problems(document, "a") == []
