"""redaction.py: what a webhook or API server quotes of a Secret never reaches a result or a log."""

import base64
import json

import pytest
from hypothesis import given, strategies as st

from ansible_collections.adoptmesh.istio.plugins.module_utils import cluster as cluster_module
from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import Cluster, ClusterError
from ansible_collections.adoptmesh.istio.plugins.module_utils.redaction import holds_private_key, redact

from .standin_client import ApiError, Client

KEY = ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVq3n5p0x9sQ7hKc1\n"
       "hQ2rJm8ZpYJ6X2kQm1yNfA0YbL6hRANCAAR3kq0Vf5s8Zg2b8Lr1T0xTQ4qQ5Lr2\n-----END PRIVATE KEY-----\n")
ENCODED = base64.b64encode(KEY.encode()).decode()
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-tls", "namespace": "gw"},
          "type": "kubernetes.io/tls", "data": {"tls.crt": ENCODED, "tls.key": ENCODED},
          "stringData": {"password": "hunter2"}}


def leaked(text):
    body = "".join(KEY.strip().splitlines()[1:-1])
    return [what for what, part in (("pem", "PRIVATE KEY"), ("body", body[10:40]), ("base64", ENCODED[20:60]),
                                    ("password", "hunter2")) if part in text]


@pytest.mark.parametrize("message", [
    "admission webhook \"deny.example\" denied the request: " + json.dumps(SECRET),
    "denied: " + json.dumps(json.dumps(SECRET)),  # quoted inside a JSON string: escaped quotes and newlines
    "denied: {0!r}".format(SECRET),  # a Python webhook's repr
    "denied: object {0} with data:map[tls.key:{1}] stringData:map[password:hunter2]".format("gw/shop-tls", ENCODED),
    "invalid value: " + KEY,
    "invalid value: " + KEY[:120],  # cut off before the END line
    "denied: " + json.dumps(SECRET)[:300],  # truncated mid-object
    "bytes: {0}".format(list(KEY.encode())),
])
def test_secrets_quoted_in_error_texts_are_taken_out(message):
    text = redact(message)
    assert leaked(text) == [], text
    assert "<redacted>" in text


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_base64_of_a_pem_block_is_found_at_any_alignment(offset):
    encoded = base64.b64encode(("x" * offset + KEY).encode()).decode()
    assert "PRIVATE" not in redact(encoded) and encoded[30:60] not in redact("value " + encoded)


def test_what_is_not_key_material_stays():
    text = ("cluster prod: cannot create Secret gw/shop-tls: admission webhook \"policy.example\" denied the "
            "request: image sha256:2f1c8a6d0e5b4f3a29180716c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6 is not allowed")
    assert redact(text) == text
    assert redact(None) == "None" and redact(403) == "403"


@given(st.text(max_size=300))
def test_redaction_never_fails_and_never_grows_key_text(text):
    result = redact(text + KEY)
    assert "PRIVATE KEY" not in result


def test_a_private_key_is_told_from_a_certificate():
    assert holds_private_key(KEY) and holds_private_key("x" + ENCODED)
    assert holds_private_key("-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----")
    assert not holds_private_key("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
    assert not holds_private_key(None) and not holds_private_key(["x"])


def test_a_denial_that_quotes_the_secret_reaches_the_cluster_error_redacted():
    denial = ApiError(400, "admission webhook \"echo.example\" denied the request: " + json.dumps(SECRET))
    cluster = Cluster(Client({"Secret": denial}), name="prod")
    with pytest.raises(ClusterError) as caught:
        cluster.list("v1", "Secret", ["gw"])
    assert leaked(str(caught.value)) == [] and "echo.example" in str(caught.value)
    body = type("Failure", (Exception,), {"body": json.dumps(SECRET).encode()})()
    assert leaked(cluster_module._reason(body)) == []
