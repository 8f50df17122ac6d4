# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway certificates: which credentials a translation's Gateways use, for which hosts, and
whether a Secret holds a usable certificate and key for them.

Key material is only ever read here to check it: nothing in this file returns or formats a key,
and descriptions of a Secret name the certificate (subject, names, serial, expiry), never its bytes.
No Ansible imports; `cryptography` (a dependency of ansible-core) parses the PEM.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID, NameOID
except ImportError:  # reported by the modules that need it
    x509 = None

from .ingress_model import MANAGED_BY, OWNER_LABEL

COPIED_FROM = "adoptmesh.istio/copied-from"
SECRET_FIELDS = ("tls.crt", "tls.key", "ca.crt")
CA_FIELDS = ("ca.crt", "ca.crl")  # of an auth-tls Secret, as ingress-nginx reads it
CA_COPIED_FROM = "adoptmesh.istio/ca-copied-from"


def credentials_of(resources):
    """{credential name: sorted hosts} of the TLS servers (Istio) and HTTPS listeners (Gateway
    API) among `resources`; hosts without their `namespace/` prefix."""
    found = {}
    for resource in resources:
        spec = resource.get("spec") or {}
        if resource.get("kind") != "Gateway":
            continue
        for server in spec.get("servers") or []:
            credential = (server.get("tls") or {}).get("credentialName")
            if credential:
                found.setdefault(credential, set()).update(h.split("/", 1)[-1] for h in server.get("hosts") or [])
        for listener in spec.get("listeners") or []:
            for ref in (listener.get("tls") or {}).get("certificateRefs") or []:
                if listener.get("hostname"):
                    found.setdefault(ref["name"], set()).add(listener["hostname"])
    return dict((name, sorted(hosts)) for name, hosts in found.items())


def covers(pattern, host):
    """Whether a certificate name covers a host: exactly, or `*.example.com` for one more label
    (RFC 6125). A wildcard host is covered only by the same wildcard."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and not host.startswith("*."):
        return "." in host and host.split(".", 1)[1] == pattern[2:]
    return False


def _decode(value):
    try:
        return base64.b64decode(value or "", validate=True)
    except (TypeError, ValueError):
        return None


def _names(certificate):
    try:
        extension = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        return extension.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        # Without SANs clients ignore the common name; it is reported, not trusted.
        return []


def _not_after(certificate):
    value = getattr(certificate, "not_valid_after_utc", None)
    return value if value is not None else certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def _not_before(certificate):
    value = getattr(certificate, "not_valid_before_utc", None)
    return value if value is not None else certificate.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def load(secret):
    """(certificate, problem): the leaf certificate of a TLS Secret once its key is checked to
    match, or None and why not. The key is loaded only to compare public keys."""
    data = secret.get("data") or {}
    crt, key = _decode(data.get("tls.crt")), _decode(data.get("tls.key"))
    if not crt:
        return None, "has no tls.crt"
    if not key:
        return None, "has no tls.key"
    try:
        certificate = x509.load_pem_x509_certificate(crt)
    except ValueError:
        return None, "tls.crt is not a PEM certificate"
    try:
        private_key = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError):
        return None, "tls.key is not an unencrypted PEM private key"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (private_key.public_key().public_bytes(serialization.Encoding.DER, public)
            != certificate.public_key().public_bytes(serialization.Encoding.DER, public)):
        return None, "tls.key is not the key of the certificate in tls.crt"
    return certificate, None


def validity_problem(certificate, now=None):
    """Why a certificate cannot serve now (expired, not yet valid), with its dates; None when it can."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if _not_after(certificate) <= now:
        return "the certificate expired on {0}".format(_not_after(certificate).isoformat())
    if _not_before(certificate) > now:
        return "the certificate is not valid before {0} (valid {0} to {1})".format(
            _not_before(certificate).isoformat(), _not_after(certificate).isoformat())
    return None


def problems(secret, hosts, now=None):
    """[(host or None, problem)] that keep a Secret from serving `hosts` now; empty when it can."""
    if x509 is None:
        raise RuntimeError("the cryptography Python package is needed to check certificates")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certificate, problem = load(secret)
    if problem:
        return [(host, problem) for host in hosts] or [(None, problem)]
    found = []
    problem = validity_problem(certificate, now)
    if problem:
        found.extend((host, problem) for host in hosts)
    names = _names(certificate)
    for host in hosts:
        if not any(covers(name, host) for name in names):
            found.append((host, "not among the certificate's names {0}".format(names)))
    return found


def describe(secret):
    """What a Secret holds, fit for a diff or a log: the certificate's names, serial and validity,
    and which other keys exist. Never the bytes of any of them."""
    data = secret.get("data") or {}
    shown = {}
    certificate = None
    crt = _decode(data.get("tls.crt"))
    if crt and x509 is not None:
        try:
            certificate = x509.load_pem_x509_certificate(crt)
        except ValueError:
            certificate = None
    if certificate is not None:
        subject = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        shown["tls.crt"] = {"subject": subject[0].value if subject else "", "names": _names(certificate),
                            "serial": format(certificate.serial_number, "x"),
                            "not_after": _not_after(certificate).isoformat()}
    elif "tls.crt" in data:
        shown["tls.crt"] = "(not a PEM certificate)"
    for field in sorted(data):
        if field != "tls.crt":
            shown[field] = "(redacted)"
    return shown


def redacted(secret):
    """A Secret as --diff may show it: metadata, type, and describe() in place of its data."""
    if secret is None:
        return None
    shown = dict((k, v) for k, v in secret.items() if k not in ("data", "stringData"))
    shown["data"] = describe(secret)
    return shown


def copied_secret(source, target_namespace, target_name, owner, ca_source=None):
    """The gateway namespace's copy of an Ingress's TLS Secret: its TLS fields only, labelled
    as ours and naming its source, so that re-runs keep it in sync and pruning can find it.

    With `ca_source` (an auth-tls-secret), the copy's CA is that Secret's `ca.crt` and `ca.crl`
    instead of the certificate's own: Istio verifies the client certificates of a MUTUAL server
    against the credential's ca.crt (and its ca.crl), as nginx does against the auth-tls Secret."""
    metadata = source.get("metadata") or {}
    labels = dict(MANAGED_BY)
    labels[OWNER_LABEL] = owner
    data = dict((k, v) for k, v in (source.get("data") or {}).items() if k in SECRET_FIELDS)
    annotations = {COPIED_FROM: "{0}/{1}".format(metadata.get("namespace"), metadata.get("name"))}
    if ca_source is not None:
        ca_metadata = ca_source.get("metadata") or {}
        data.pop("ca.crt", None)
        data.update((k, v) for k, v in (ca_source.get("data") or {}).items() if k in CA_FIELDS)
        annotations[CA_COPIED_FROM] = "{0}/{1}".format(ca_metadata.get("namespace"), ca_metadata.get("name"))
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": target_name, "namespace": target_namespace, "labels": labels,
                         "annotations": annotations},
            "data": data}


def ca_problem(secret):
    """Why an auth-tls Secret cannot verify client certificates (ca.crt missing, or not PEM
    certificates), or None. ingress-nginx turns client certificates off for a Secret without ca.crt."""
    data = secret.get("data") or {}
    raw = _decode(data.get("ca.crt"))
    if not raw:
        return "has no ca.crt (ingress-nginx then asks for no client certificate)"
    try:
        certificates = x509.load_pem_x509_certificates(raw)
    except ValueError:
        return "ca.crt is not PEM certificates"
    if not certificates:
        return "ca.crt holds no certificate"
    if "ca.crl" in data:
        try:
            x509.load_pem_x509_crl(_decode(data["ca.crl"]) or b"")
        except ValueError:
            return "ca.crl is not a PEM certificate revocation list"
    return None


def static_secret(name, namespace, certificate_pem, key_pem, owner, ca_pem=None):
    """A TLS Secret from PEM text given on the controller (files, vault)."""
    labels = dict(MANAGED_BY)
    labels[OWNER_LABEL] = owner
    data = {"tls.crt": _b64(certificate_pem), "tls.key": _b64(key_pem)}
    if ca_pem:
        data["ca.crt"] = _b64(ca_pem)
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": {}},
            "data": data}


def _b64(text):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def certificate_resource(name, namespace, hosts, issuer, owner, duration=None, renew_before=None):
    """A cert-manager Certificate whose secretName is the Gateway's credentialName."""
    labels = dict(MANAGED_BY)
    labels[OWNER_LABEL] = owner
    spec = {"secretName": name, "dnsNames": list(hosts),
            "issuerRef": dict((k, v) for k, v in (("name", issuer["name"]), ("kind", issuer.get("kind") or "Issuer"),
                                                  ("group", issuer.get("group") or "cert-manager.io"))),
            "privateKey": {"rotationPolicy": "Always"},
            # The Secret outlives a Certificate that is pruned or re-created, and carries our labels.
            "secretTemplate": {"labels": labels}}
    if duration:
        spec["duration"] = duration
    if renew_before:
        spec["renewBefore"] = renew_before
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": {}}, "spec": spec}


def secret_is_current(desired, live):
    """Whether a live Secret already holds the desired data, type, labels and annotations."""
    if live is None or live.get("type") != desired.get("type") or (live.get("data") or {}) != desired["data"]:
        return False
    metadata, live_metadata = desired["metadata"], live.get("metadata") or {}
    return all((live_metadata.get(part) or {}).get(k) == v
               for part in ("labels", "annotations") for k, v in (metadata.get(part) or {}).items())


def ready_condition(certificate):
    """(ready, message) of a cert-manager Certificate, for the generation it was given."""
    status = certificate.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            fresh = condition.get("observedGeneration") in (None, (certificate.get("metadata") or {}).get("generation"))
            return condition.get("status") == "True" and fresh, "{0}: {1}".format(
                condition.get("reason") or condition.get("status"), condition.get("message") or "")
    return False, "no Ready condition yet (is the cert-manager controller running?)"
