#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_credentials
short_description: Give an ingress gateway the TLS credentials its Gateways name
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Makes the Secrets that the C(credentialName)s of a translation's Gateways refer to exist in
    the gateway's namespace, in one of three ways (O(mode)), and removes the ones an earlier run
    made that are no longer named.
  - C(copy) copies the Ingresses' own TLS Secrets (the C(secrets_to_copy) that
    M(adoptmesh.istio.ingress_to_gateway) returns). Every run compares the copy with its source and
    updates it when the source changed (a renewed certificate), and only the Secret, as Istio's
    gateways load certificates through SDS and nothing restarts. A copy that names a client CA
    (C(ca_source_name), for C(nginx.ingress.kubernetes.io/auth-tls-secret)) holds that Secret's
    C(ca.crt) and C(ca.crl) instead of the source's own CA; a CA Secret that is missing or holds no
    PEM certificates fails the module, and nothing is served without the client certificates.
  - C(static) writes Secrets from PEM text held on the controller (files, Ansible Vault). Every
    entry is checked before anything is written. The certificate must load, match its key and be
    valid now (an expired or not yet valid one is refused with its dates); a private key given
    by mistake in C(certificate) or C(ca) is refused without being shown, at any verbosity.
  - C(cert_manager) applies one cert-manager C(Certificate) per credential, for the hosts the
    Gateway serves with it (the C(credentials) result of M(adoptmesh.istio.ingress_to_gateway)),
    whose C(secretName) is the credential name, and waits until each is Ready; a timeout names
    each Certificate that is not and its Ready condition's message.
  - Key material never appears in the result, in C(--diff) (which shows each certificate's names,
    serial and expiry) or in a failure message. An error of the API server or a webhook that quotes a
    Secret is redacted (PEM blocks, Secret data values, base64 of keys) before it is reported.
  - Everything written carries C(app.kubernetes.io/managed-by=adoptmesh.istio) and
    C(adoptmesh.istio/gateway=<owner>); only objects with both are ever pruned.
options:
  namespace:
    description: The gateway's namespace, where the Secrets (and Certificates) go.
    type: str
    required: true
  owner:
    description: The owning gateway, as given to M(adoptmesh.istio.ingress_to_gateway) (its C(owner) label).
    type: str
    required: true
  mode:
    description: Where the credentials come from.
    type: str
    choices: [copy, static, cert_manager]
    required: true
  copies:
    description:
      - With C(copy), the Secrets to copy, as the C(secrets_to_copy) result of
        M(adoptmesh.istio.ingress_to_gateway).
    type: list
    elements: dict
    default: []
  static:
    description: With C(static), the credentials to write.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The Secret's name, the Gateway's C(credentialName).
        type: str
        required: true
      certificate:
        description: The certificate chain, PEM, leaf first.
        type: str
        required: true
      key:
        description: The private key, PEM. Never logged.
        type: str
        required: true
      ca:
        description: Optional CA bundle (C(ca.crt)), PEM.
        type: str
  credentials:
    description:
      - With C(cert_manager), the credentials to issue, as the C(credentials) result of
        M(adoptmesh.istio.ingress_to_gateway) - each a C(name) (the Gateway's C(credentialName))
        and the C(hosts) served with it. A Certificate is made for each.
    type: list
    elements: dict
    default: []
  issuer:
    description: With C(cert_manager), the issuer of the Certificates.
    type: dict
    suboptions:
      name:
        description: The Issuer or ClusterIssuer's name.
        type: str
        required: true
      kind:
        description: C(Issuer) (in O(namespace)) or C(ClusterIssuer).
        type: str
        default: Issuer
      group:
        description: The issuer's API group (external issuers have their own).
        type: str
        default: cert-manager.io
  duration:
    description: With C(cert_manager), the Certificates' C(duration) (cert-manager's default when unset).
    type: str
  renew_before:
    description: With C(cert_manager), the Certificates' C(renewBefore).
    type: str
  wait_timeout:
    description: With C(cert_manager), seconds to wait for every Certificate to be Ready; 0 does not wait.
    type: int
    default: 300
  prune:
    description:
      - Delete the Secrets (C(copy), C(static)) or Certificates (C(cert_manager)) an earlier run
        made for this owner that are no longer wanted.
    type: bool
    default: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
  - adoptmesh.istio.progress
requirements:
  - kubernetes >= 24.2.0
  - cryptography
notes:
  - Reads the source Secrets of C(copy) in full (their keys travel from the cluster to the
    controller and back, as with C(kubectl get secret)); everything else asks for metadata only.
  - Check mode sends every write as a server-side dry run and does not wait.
seealso:
  - module: adoptmesh.istio.ingress_to_gateway
  - name: Istio secure gateways
    description: Gateways load certificates from Secrets in their own namespace through SDS.
    link: https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/
"""

EXAMPLES = r"""
- name: Translate and apply the Ingresses of shop
  adoptmesh.istio.ingress_to_gateway:
    namespaces: [shop]
    owner: istio-ingressgateway
    apply: true
  register: translation

- name: Copy their TLS Secrets into the gateway namespace
  adoptmesh.istio.gateway_credentials:
    namespace: istio-ingress
    owner: istio-ingressgateway
    mode: copy
    copies: "{{ translation.secrets_to_copy }}"

- name: Or have cert-manager issue them
  adoptmesh.istio.gateway_credentials:
    namespace: istio-ingress
    owner: istio-ingressgateway
    mode: cert_manager
    credentials: "{{ translation.credentials }}"
    issuer: {name: letsencrypt, kind: ClusterIssuer}
"""

RETURN = r"""
changed:
  description: Whether anything was (or in check mode would be) written or deleted.
  returned: always
  type: bool
credentials:
  description: The credential names now provided, with the certificate's names and expiry where known. No key material.
  returned: always
  type: list
  elements: dict
  sample:
    - name: shop-5f3a2c-shop-tls
      source: shop/shop-tls
      names: [shop.example.com]
      not_after: "2027-01-01T00:00:00+00:00"
written:
  description: The objects written (or in check mode that would be), as C(Kind namespace/name).
  returned: always
  type: list
  elements: str
pruned:
  description: The objects deleted (or that would be) because no Gateway names them any more.
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.adoptmesh.istio.plugins.module_utils import certificates as certs
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import object_ref
from ansible_collections.adoptmesh.istio.plugins.module_utils.owned import is_current, owner_selector
from ansible_collections.adoptmesh.istio.plugins.module_utils.redaction import holds_private_key
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry
from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import Waiter, progress_writer

try:
    import cryptography  # noqa: F401 pylint: disable=unused-import
except ImportError:
    CRYPTOGRAPHY_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_ERROR = None

CERTIFICATE_API = ("cert-manager.io/v1", "Certificate")
COPY_FIELDS = ("source_namespace", "source_name", "target_name")


def argument_spec():
    return dict(
        namespace=dict(type="str", required=True),
        owner=dict(type="str", required=True),
        mode=dict(type="str", choices=["copy", "static", "cert_manager"], required=True),
        copies=dict(type="list", elements="dict", default=[]),
        static=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            certificate=dict(type="str", required=True),
            key=dict(type="str", required=True, no_log=True),
            ca=dict(type="str"))),
        credentials=dict(type="list", elements="dict", default=[]),
        issuer=dict(type="dict", options=dict(
            name=dict(type="str", required=True),
            kind=dict(type="str", default="Issuer"),
            group=dict(type="str", default="cert-manager.io"))),
        duration=dict(type="str"),
        renew_before=dict(type="str"),
        wait_timeout=dict(type="int", default=300),
        prune=dict(type="bool", default=True),
        progress_file=dict(type="path"),
    )


def check_input(module):
    """Refuse input that cannot work before anything is written, naming the entry and field."""
    params = module.params
    for index, copy in enumerate(params["copies"]):
        missing = [field for field in COPY_FIELDS if not isinstance(copy.get(field), str) or not copy.get(field)]
        if missing:
            module.fail_json(msg="copies[{0}]: {1} missing (expected the secrets_to_copy result of "
                             "ingress_to_gateway)".format(index, ", ".join(missing)))
        if copy.get("target_namespace", params["namespace"]) != params["namespace"]:
            module.fail_json(msg="copies[{0}] ({1}/{2}): target_namespace {3} is not the gateway namespace {4}".format(
                index, copy["source_namespace"], copy["source_name"], copy["target_namespace"], params["namespace"]))
    for index, entry in enumerate(params["credentials"]):
        if not isinstance(entry.get("name"), str) or not entry.get("name") or not isinstance(entry.get("hosts"), list):
            module.fail_json(msg="credentials[{0}]: needs name and hosts (expected the credentials result of "
                             "ingress_to_gateway)".format(index))
    for index, entry in enumerate(params["static"] if params["mode"] == "static" else []):
        check_static(module, index, entry)
    if params["mode"] == "cert_manager" and not params["issuer"]:
        module.fail_json(msg="mode cert_manager needs an issuer (issuer.name, and issuer.kind for a ClusterIssuer)")


def check_static(module, index, entry):
    """A static credential is refused before any write when a public field holds a private key
    (hidden from every output first), or when the pair does not load or is not valid now."""
    where = "static[{0}] ({1})".format(index, entry["name"])
    for field in ("certificate", "ca"):
        if holds_private_key(entry.get(field)):
            getattr(module, "_module", module).no_log_values.add(entry[field])
            module.fail_json(msg="{0}: {1} holds a private key (not shown); the key belongs in key, and "
                             "nothing was written".format(where, field))
    secret = certs.static_secret(entry["name"], module.params["namespace"], entry["certificate"], entry["key"],
                                 module.params["owner"], entry.get("ca"))
    certificate, problem = certs.load(secret)
    problem = problem or certs.validity_problem(certificate)
    if problem:
        module.fail_json(msg="{0}: {1}; nothing was written".format(where, problem))


class Run:
    def __init__(self, module, cluster):
        self.module = module
        self.cluster = cluster
        self.params = module.params
        self.diffs, self.written, self.pruned, self.credentials = [], [], [], []

    def _put_secret(self, desired, live):
        if certs.secret_is_current(desired, live):
            return
        before = certs.redacted(live)
        self.cluster.apply(desired, live, live_known=True)
        self.written.append("Secret " + object_ref(desired))
        self.diffs.append(diff_entry(before, certs.redacted(desired)))

    def _owned(self, api_version, kind):
        return dict((obj["metadata"]["name"], obj) for obj in self.cluster.list(
            api_version, kind, [self.params["namespace"]], [owner_selector(self.params["owner"])], missing_ok=True))

    def _prune(self, owned, wanted, show=lambda obj: obj):
        if not self.params["prune"]:
            return
        for name in sorted(set(owned) - set(wanted)):
            obj = owned[name]
            obj.setdefault("apiVersion", "v1")
            if self.cluster.delete(obj):
                self.pruned.append("{0} {1}".format(obj["kind"], object_ref(obj)))
                self.diffs.append(diff_entry(show(obj), None))

    def secrets(self, desired_secrets, sources):
        # Our Secrets in the gateway namespace, keys included: the comparison needs them.
        owned = self._owned("v1", "Secret")
        for desired in desired_secrets:
            name = desired["metadata"]["name"]
            live = owned.get(name)
            if live is None:
                live = self.cluster.get("v1", "Secret", name, self.params["namespace"])
                if live is not None and (live.get("metadata") or {}).get("labels", {}).get(
                        certs.OWNER_LABEL) not in (None, self.params["owner"]):
                    self.module.fail_json(msg="Secret {0}/{1} belongs to gateway {2}, not {3}; not overwritten".format(
                        self.params["namespace"], name, live["metadata"]["labels"][certs.OWNER_LABEL],
                        self.params["owner"]), changed=bool(self.written), written=self.written)
            self._put_secret(desired, live)
            described = certs.describe(desired).get("tls.crt") or {}
            entry = {"name": name, "names": described.get("names", []) if isinstance(described, dict) else [],
                     "not_after": described.get("not_after") if isinstance(described, dict) else None}
            if name in sources:
                entry["source"] = sources[name]
            self.credentials.append(entry)
        self._prune(owned, [s["metadata"]["name"] for s in desired_secrets], certs.redacted)

    def copy(self):
        desired, sources = [], {}
        for entry in self.params["copies"]:
            source = self.cluster.get("v1", "Secret", entry["source_name"], entry["source_namespace"])
            ref = "{0}/{1}".format(entry["source_namespace"], entry["source_name"])
            if source is None:
                self.module.fail_json(msg="Secret {0} (to copy to {1}/{2}) does not exist".format(
                    ref, self.params["namespace"], entry["target_name"]), changed=bool(self.written),
                    written=self.written)
            certificate, problem = certs.load(source)
            if problem:
                self.module.fail_json(msg="Secret {0}: {1}; not copied".format(ref, problem),
                                      changed=bool(self.written), written=self.written)
            desired.append(certs.copied_secret(source, self.params["namespace"], entry["target_name"],
                                               self.params["owner"], self._ca_source(entry)))
            sources[entry["target_name"]] = ref
        self.secrets(desired, sources)

    def _ca_source(self, entry):
        """The auth-tls Secret whose CA the copy verifies client certificates with, checked; None
        for a copy without one."""
        if not entry.get("ca_source_name"):
            return None
        ref = "{0}/{1}".format(entry.get("ca_source_namespace") or entry["source_namespace"], entry["ca_source_name"])
        ca_source = self.cluster.get("v1", "Secret", entry["ca_source_name"],
                                     entry.get("ca_source_namespace") or entry["source_namespace"])
        problem = "does not exist" if ca_source is None else certs.ca_problem(ca_source)
        if problem:
            self.module.fail_json(msg="Secret {0} (the client CA of {1}/{2}): {3}; not copied, so the gateway does "
                                  "not serve those hosts without the client certificates ingress-nginx asked "
                                  "for".format(ref, self.params["namespace"], entry["target_name"], problem),
                                  changed=bool(self.written), written=self.written)
        return ca_source

    def static(self):
        desired = []
        for entry in self.params["static"]:
            secret = certs.static_secret(entry["name"], self.params["namespace"], entry["certificate"], entry["key"],
                                         self.params["owner"], entry.get("ca"))
            desired.append(secret)  # loaded and valid: check_static
        self.secrets(desired, {})

    def cert_manager(self):
        params = self.params
        wanted = dict((entry["name"], list(entry["hosts"])) for entry in params["credentials"])
        owned = self._owned(*CERTIFICATE_API)
        for name, hosts in sorted(wanted.items()):
            desired = certs.certificate_resource(name, params["namespace"], hosts, params["issuer"], params["owner"],
                                                 params["duration"], params["renew_before"])
            live = owned.get(name)
            if not is_current(desired, live):
                changed, before, after = self.cluster.apply(desired, live, live_known=live is not None)
                if changed:
                    self.written.append("Certificate " + object_ref(desired))
                    self.diffs.append(diff_entry(before, after))
            self.credentials.append({"name": name, "names": hosts})
        self._prune(owned, wanted)
        if self.cluster.dry_run or params["wait_timeout"] <= 0 or not wanted:
            return
        self._wait_ready(sorted(wanted))

    def _wait_ready(self, names):
        waiter = Waiter(self.params["wait_timeout"], "certificates", progress=progress_writer(self.params["progress_file"]))

        def not_ready():
            current = self._owned(*CERTIFICATE_API)
            waiting = {}
            for name in names:
                ready, message = certs.ready_condition(current.get(name) or {})
                if not ready:
                    waiting[name] = message
            return waiting

        waited = waiter.wait(not_ready, total=len(names))
        if waited.timed_out:
            self.module.fail_json(
                msg="cert-manager Certificates not Ready after {0}s in {1}: {2}".format(
                    self.params["wait_timeout"], self.params["namespace"], Waiter.describe(waited.waiting, "Certificate")),
                changed=bool(self.written), written=self.written, not_ready=sorted(waited.waiting))


def main():
    module = cluster_module(argument_spec())
    if CRYPTOGRAPHY_ERROR:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_ERROR)
    check_input(module)
    cluster = None
    try:
        cluster = open_cluster(module)
        run = Run(module, cluster)
        getattr(run, module.params["mode"])()
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    result = dict(changed=bool(run.written or run.pruned), credentials=run.credentials, written=run.written,
                  pruned=run.pruned)
    if module._diff and run.diffs:
        result["diff"] = run.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
