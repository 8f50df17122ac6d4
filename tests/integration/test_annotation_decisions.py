"""The decision table (plugins/module_utils/ingress_annotation_decisions.py) against ingress-nginx.

- ingress-nginx's own list: the pinned controller's annotation extractor, read by the oracle
  binary (tools/cluster/go/ingressnginx/annotations_oracle_test.go), names every annotation it
  parses and the aliases it accepts; the table must decide each, and nothing it does not read
  (bar the names later releases added, listed with their release).
- `needs`: where the table says ingress-nginx ignores an annotation without another, the
  controller's configuration with the annotation alone must be the configuration without it, and
  with the other annotation beside it must differ from that annotation alone: so the decision's
  "no effect" is the controller's, and the example values are ones it accepts.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile

import pytest

import nginx_oracle
from self_signed import certificate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress_annotation_decisions as decisions  # noqa: E402

N = nginx_oracle.N

# Values ingress-nginx's validators accept, for the annotations the table says need another, and
# for the ones they need.
EXAMPLES = {
    "affinity": "cookie", "session-cookie-expires": "172800", "session-cookie-domain": "example.com",
    "session-cookie-secure": "true", "session-cookie-samesite": "Strict",
    "session-cookie-conditional-samesite-none": "true", "session-cookie-change-on-failure": "true",
    "affinity-mode": "persistent", "affinity-canary-behavior": "legacy",
    "upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true", "upstream-hash-by-subset-size": "5",
    "custom-http-errors": "404,503", "disable-proxy-intercept-errors": "true",
    "mirror-target": "https://mirror.example.com$request_uri", "mirror-host": "mirror.example.com",
    "mirror-request-body": "off",
    "proxy-ssl-secret": "shop/backend-tls", "proxy-ssl-verify-depth": "3", "proxy-ssl-ciphers": "HIGH:!aNULL",
    "proxy-ssl-protocols": "TLSv1.3",
    "auth-url": "http://auth.sso.svc.cluster.local/check", "auth-signin": "https://a.example.com/login",
    "auth-signin-redirect-param": "return_to", "auth-method": "POST", "auth-cache-key": "$remote_user",
    "auth-cache-duration": "200 10m", "auth-always-set-cookie": "true", "auth-request-redirect": "/after",
    "auth-proxy-set-headers": "shop/auth-headers", "auth-keepalive": "10", "auth-keepalive-requests": "50",
    "auth-keepalive-timeout": "30", "auth-keepalive-share-vars": "true", "auth-snippet": "proxy_set_header A b;",
    "auth-type": "basic", "auth-secret": "shop/htpasswd", "auth-secret-type": "auth-map", "auth-realm": "Staff only",
    "auth-tls-secret": "shop/client-ca", "auth-tls-verify-client": "optional", "auth-tls-verify-depth": "3",
    "auth-tls-error-page": "https://a.example.com/cert-error", "auth-tls-pass-certificate-to-upstream": "true",
    "auth-tls-match-cn": "CN=client",
    "global-rate-limit": "100", "global-rate-limit-window": "1m", "global-rate-limit-key": "$http_x_api_client",
    "global-rate-limit-ignored-cidrs": "10.0.0.0/8",
    "limit-rate": "1024", "limit-rate-after": "4096",
    "enable-modsecurity": "true", "modsecurity-transaction-id": "$request_id",
}


# What makes a needed annotation take effect: its whole group, as its parser requires it.
GROUPS = {"auth-type": ("auth-type", "auth-secret"), "global-rate-limit": ("global-rate-limit", "global-rate-limit-window")}
# Snippets and every risk level allowed, so that the controller reads everything it can.
CONFIGMAP = {"allow-snippet-annotations": "true", "annotations-risk-level": "Critical"}


def ingress_nginx_annotations():
    """[{"name", "parser", "aliases", ...}] from the pinned controller's extractor."""
    with tempfile.TemporaryDirectory() as scratch:
        target = os.path.join(scratch, "annotations.json")
        completed = subprocess.run([nginx_oracle.ORACLE, "-test.run", "^TestIngressNginxAnnotations$"],
                                   env=dict(os.environ, INGRESS_NGINX_ANNOTATIONS_OUTPUT=target),
                                   capture_output=True, text=True, timeout=120, check=False)
        assert os.path.exists(target), completed.stdout[-2000:] + completed.stderr[-2000:]
        with open(target) as handle:
            return json.load(handle)


def test_every_annotation_ingress_nginx_reads_has_one_decision():
    listed = ingress_nginx_annotations()
    names = set(entry["name"] for entry in listed)
    aliases = dict((alias, entry["name"]) for entry in listed for alias in entry["aliases"])
    assert len(names) > 130  # the extractor was read, not an empty map
    decided = set(decisions.DECISIONS) - set(decisions.LATER_RELEASES)
    assert sorted((names | set(aliases)) - decided) == []
    assert sorted(decided - names - set(aliases)) == []
    assert aliases == decisions.ALIASES
    # A decision's `needs` is an annotation ingress-nginx reads too.
    assert set(d.needs for d in decisions.DECISIONS.values() if d.needs) <= names


def _ingress(annotations):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "annotations": dict((N + k, v) for k, v in annotations.items())},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}


def _secrets():
    """The Secrets the examples name: a CA and a client certificate, an htpasswd."""
    cert, key = certificate(("client-ca.example.com",))
    pems = (("ca.crt", cert), ("tls.crt", cert), ("tls.key", key))
    encoded = dict((k, base64.b64encode(v).decode()) for k, v in pems)

    def secret(name, data):
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "shop"},
                "type": "Opaque", "data": data}
    digest = b"$apr1$Gj7Hh6yq$Vh2vJ0ZcXc9i5WmMKQ0aS."
    # Both forms: `auth` for auth-secret-type auth-file (the default), one key per user for auth-map.
    auth_map = {"auth": base64.b64encode(b"user:" + digest + b"\n").decode(), "user": base64.b64encode(digest).decode()}
    return [secret("client-ca", encoded), secret("backend-tls", encoded), secret("htpasswd", auth_map)]


def _comparable(answer):
    """The controller's configuration without what names the Ingress's own metadata."""
    def strip(value):
        if isinstance(value, dict):
            return dict((k, strip(v)) for k, v in value.items()
                        if k not in ("annotations", "resourceVersion", "uid", "creationTimestamp", "ingress"))
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value
    return json.dumps(strip(answer.configuration), sort_keys=True), answer.nginx_conf


NEEDING = sorted(name for name, decision in decisions.DECISIONS.items() if decision.needs)


def test_an_annotation_that_needs_another_is_ignored_without_it_and_read_with_it():
    assert NEEDING and not [name for name in NEEDING if name not in EXAMPLES]
    extra = _secrets()
    cases = [nginx_oracle.case("none", [_ingress({})], configmap=CONFIGMAP, extra=extra)]
    for name in NEEDING:
        needs = decisions.DECISIONS[name].needs
        needed = dict((key, EXAMPLES[key]) for key in GROUPS.get(needs, (needs,)) if key != name)
        both = dict(needed, **{name: EXAMPLES[name]})
        cases += [nginx_oracle.case(name + ":alone", [_ingress({name: EXAMPLES[name]})], configmap=CONFIGMAP,
                                    extra=extra),
                  nginx_oracle.case(name + ":needed", [_ingress(needed)], configmap=CONFIGMAP, extra=extra),
                  nginx_oracle.case(name + ":both", [_ingress(both)], configmap=CONFIGMAP, extra=extra)]
    answers = dict((answer.id, answer) for answer in nginx_oracle.controller(cases))
    baseline = _comparable(answers["none"])
    read_alone = [name for name in NEEDING if _comparable(answers[name + ":alone"]) != baseline]
    assert read_alone == []
    # With what it needs, the annotation changes what the controller runs: it is read, and the
    # example value is one ingress-nginx accepts (else the check above would prove nothing).
    unread = [name for name in NEEDING if "shop/web" not in answers[name + ":both"].ingresses
              or _comparable(answers[name + ":both"]) == _comparable(answers[name + ":needed"])]
    assert unread == []


@pytest.mark.parametrize("output_api", ["istio", "gateway-api"])
def test_the_table_is_what_the_translation_reports(output_api):
    """Each annotation, with an example value (and what it needs), gives the finding its decision
    says, on the output API it says it for."""
    from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator
    wrong = []
    for name in sorted(EXAMPLES):
        decision = decisions.DECISIONS[name]
        annotations = {name: EXAMPLES[name]}
        if decision.needs:
            annotations[decision.needs] = EXAMPLES[decision.needs]
        result = translator.translate([_ingress(annotations)], None, output_api=output_api)
        naming = [f for f in result.findings if N + name in f.message and f.code != "annotation-without-effect"]
        expected = decisions.outcome(name, output_api)
        severities = set(f.severity for f in naming)
        if expected == decisions.ERROR and "error" not in severities:
            wrong.append((name, expected, [(f.severity, f.code) for f in naming]))
        elif expected == decisions.WARNING and (severities != {"warning"}):
            wrong.append((name, expected, [(f.severity, f.code) for f in naming]))
    assert wrong == []
