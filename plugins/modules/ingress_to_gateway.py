#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ingress_to_gateway
short_description: Translate Ingress objects to Istio Gateway and VirtualService with the same routing
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Translates Kubernetes Ingresses (networking.k8s.io/v1) into one Istio Gateway per gateway
    namespace and selector, one VirtualService per host, and the DestinationRules and
    AuthorizationPolicies that ingress-nginx annotations call for; or into Kubernetes Gateway API
    objects with O(output_api=gateway-api).
  - The goal is routing equivalence. For every host, path and header a client can send, the
    result routes to the same Service and port as ingress-nginx (class C(nginx)) or Istio's own
    Ingress support (class C(istio)) did. Where that cannot be kept, a finding says so, naming the
    Ingress, a stable code and a severity; C(error) means some traffic would not be routed as before.
  - Path semantics are kept exactly, in particular C(Prefix) per path segment (C(/foo) matches
    C(/foo/bar) but not C(/foobar)), route order by specificity, oldest Ingress winning conflicts,
    and certificates attached only to the hosts of their own C(tls) entry.
  - Works offline on O(ingresses) and O(services), or reads them from the cluster with one LIST
    per kind and namespace. The source Ingresses are never modified or deleted; they keep serving
    until an explicit cutover.
  - With O(apply=true) the result is written by server-side apply (objects already as wanted are
    left alone), refused when there are error findings unless O(allow_errors=true). Check mode
    sends the writes as a server-side dry run, so the API server validates them; C(--diff) shows
    each object.
options:
  ingresses:
    description: Ingress objects to translate offline. When given, nothing is read from a cluster.
    type: list
    elements: dict
  services:
    description: Service objects used to resolve named backend ports (offline use).
    type: list
    elements: dict
    default: []
  known_secrets:
    description:
      - TLS Secrets known to exist, as C(namespace/name) (offline use). When reading from a
        cluster the referenced Secrets are checked there. A C(credentialName) for a missing
        Secret is never emitted silently.
    type: list
    elements: str
  namespaces:
    description: Namespaces to read Ingresses from. Empty means all namespaces.
    type: list
    elements: str
    default: []
  label_selectors:
    description: Label selectors; an Ingress is taken when it matches any of them.
    type: list
    elements: str
    default: []
  ingress_classes:
    description: Ingress classes to translate (C(spec.ingressClassName), else the C(kubernetes.io/ingress.class) annotation).
    type: list
    elements: str
    default: [nginx, istio]
  include_classless:
    description: Also translate Ingresses without any class.
    type: bool
    default: false
  classless_controller:
    description:
      - The controller that served the Ingresses without a class (with O(include_classless)), whose
        semantics their translation follows (paths, defaults). An C(info) finding names it on each.
    type: str
    choices: [nginx, istio]
    default: nginx
  gateway_namespace:
    description: Namespace of the ingress gateway pods; the generated objects and the TLS Secrets go there.
    type: str
    default: istio-ingress
  gateway_selector:
    description: Labels of the ingress gateway pods (Istio output).
    type: dict
    default: {istio: ingressgateway}
  gateway_name:
    description: Name of the generated Gateway. Default, a stable name derived from the namespace and selector.
    type: str
  cluster_domain:
    description: The cluster's DNS domain, for the destinations' FQDNs.
    type: str
    default: cluster.local
  output_api:
    description: C(istio) for Gateway + VirtualService, C(gateway-api) for Gateway API Gateway + HTTPRoute.
    type: str
    choices: [istio, gateway-api]
    default: istio
  certificates:
    description:
      - Where the gateway's certificates come from.
      - C(ingress-secrets), each Ingress's own TLS Secret; those outside O(gateway_namespace) are
        listed in RV(secrets_to_copy) (the C(gateway_certificates) role copies them). A Secret
        that does not exist is an error finding.
      - C(issued), Secrets that will be made in O(gateway_namespace) under the same
        C(credentialName) (cert-manager Certificates or static files, the C(gateway_certificates)
        role); the Ingresses' Secrets need not exist.
      - C(external), TLS ends at a load balancer in front of the gateway; the gateway gets HTTP
        servers only and no HTTPS redirects (the load balancer redirects), each said by an C(info)
        finding.
    type: str
    choices: [ingress-secrets, issued, external]
    default: ingress-secrets
  owner:
    description:
      - The value of the C(adoptmesh.istio/gateway) label put on every generated object, next to
        C(app.kubernetes.io/managed-by=adoptmesh.istio). Runs for different gateways must use
        different owners; O(prune) only ever touches objects with both labels and this owner.
      - Default, the generated Gateway's name.
    type: str
  gateway_release:
    description:
      - The Helm release of Istio's gateway chart that serves the Istio output (the chart names its
        Deployment after the release), reported in RV(deployments). Default, the generated Gateway's name.
      - Not used for O(output_api=gateway-api), where istiod deploys each Gateway itself.
    type: str
  claimed:
    description:
      - The Ingresses other gateways took earlier in the same run, as C(namespace/name) to the
        gateway (owner) that took it, the union of their RV(claims). An Ingress of this translation
        among them fails the task before anything is written, naming both gateways, since a cutover
        would retire it for both.
    type: dict
    default: {}
  gateway_annotations:
    description:
      - Annotations for the generated Gateways, for example
        C(external-dns.alpha.kubernetes.io/target) for external-dns's Istio gateway source.
    type: dict
    default: {}
  apply:
    description:
      - Write the result to the cluster by server-side apply. Objects already as wanted (same
        spec, labels and annotations) are not written at all.
    type: bool
    default: false
  prune:
    description:
      - With O(apply), delete the objects an earlier run for the same O(owner) generated that this
        translation no longer produces (a host removed from an Ingress, an Ingress deselected).
      - Only objects labelled C(app.kubernetes.io/managed-by=adoptmesh.istio) and
        C(adoptmesh.istio/gateway=<owner>) are candidates, so objects users made are never
        touched. Check mode and C(--diff) list what would be pruned.
    type: bool
    default: false
  allow_errors:
    description: Apply even when there are error findings.
    type: bool
    default: false
  field_manager:
    description: Field manager name for server-side apply.
    type: str
    default: adoptmesh-istio
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
notes:
  - TLS Secrets that live outside O(gateway_namespace) are listed in RV(secrets_to_copy) with
    the name the Gateway uses for them; the C(gateway_certificates) role copies them.
  - A host with client certificates (C(nginx.ingress.kubernetes.io/auth-tls-secret)) gets a
    credential of its own that holds the auth-tls Secret's CA, always listed in
    RV(secrets_to_copy); it needs O(certificates=ingress-secrets).
  - Objects generated by an earlier run for hosts that no longer exist are deleted only with
    O(prune=true).
seealso:
  - module: adoptmesh.istio.probe_convert
  - name: Istio Ingress Gateways
    description: How Istio's Gateway and VirtualService serve ingress traffic.
    link: https://istio.io/latest/docs/tasks/traffic-management/ingress/ingress-control/
"""

EXAMPLES = r"""
- name: Translate the shop namespace's Ingresses and show what would change
  adoptmesh.istio.ingress_to_gateway:
    namespaces: [shop]
    gateway_namespace: istio-ingress
  register: translation

- name: Apply the translation beside the Ingresses, which keep serving
  adoptmesh.istio.ingress_to_gateway:
    namespaces: [shop]
    apply: true

- name: Apply the team gateway's translation and prune what its Ingresses no longer ask for
  adoptmesh.istio.ingress_to_gateway:
    namespaces: [team-a]
    gateway_namespace: team-a-gateway
    gateway_selector: {istio: team-a-gateway}
    owner: team-a-gateway
    certificates: issued
    apply: true
    prune: true

- name: Translate a manifest offline, to Gateway API
  adoptmesh.istio.ingress_to_gateway:
    ingresses: "{{ lookup('ansible.builtin.file', 'ingresses.yaml') | from_yaml_all | list }}"
    services: "{{ lookup('ansible.builtin.file', 'services.yaml') | from_yaml_all | list }}"
    output_api: gateway-api
  register: offline
"""

RETURN = r"""
changed:
  description: Whether anything was (or in check mode would be) written.
  returned: always
  type: bool
resources:
  description: The generated objects in a deterministic order (Gateway first).
  returned: always
  type: list
  elements: dict
findings:
  description: What could not be kept, per Ingress, with a stable code and a severity.
  returned: always
  type: list
  elements: dict
  sample:
    - ingress: shop/web
      severity: warning
      code: unsupported-annotation
      message: nginx.ingress.kubernetes.io/configuration-snippet is not translated; its behaviour is lost
not_translated:
  description:
    - Ingresses not translated (another class, no class, no spec), each with the reason. Their count
      is C(summary.skipped). (Named so because Ansible reads a result key C(skipped) as "the task was skipped".)
  returned: always
  type: list
  elements: dict
ingresses:
  description: Per Ingress (C(namespace/name)), its class, hosts, number of routes and the objects it produced.
  returned: always
  type: dict
annotations:
  description:
    - Per ingress-nginx annotation (without its prefix), how many of the translated Ingresses set it and
      what became of it on each, C(translated), C(warning) or C(error) (the worst finding naming it on
      that Ingress, else its decision), and C(decision), what the translation decides for the annotation
      on this output API (C(unknown) for a name ingress-nginx does not read). Every decision is listed in
      docs/ingress-translation.md.
  returned: always
  type: dict
  sample:
    rewrite-target: {ingresses: 12, translated: 12, warning: 0, error: 0, decision: translated}
    configuration-snippet: {ingresses: 2, translated: 0, warning: 0, error: 2, decision: error}
secrets_to_copy:
  description:
    - TLS Secrets to copy into the gateway namespace, with their new names.
    - An entry with C(ca_source_namespace) and C(ca_source_name) is the credential of a host with
      client certificates (C(nginx.ingress.kubernetes.io/auth-tls-secret)); its copy holds the
      certificate and key of the source and the C(ca.crt) (and C(ca.crl)) of that auth-tls Secret.
  returned: always
  type: list
  elements: dict
  sample:
    - {source_namespace: shop, source_name: storefront-tls, target_namespace: istio-ingress,
       target_name: shop-storefront-tls-c5e68de2}
    - {source_namespace: shop, source_name: partner-tls, target_namespace: istio-ingress,
       target_name: shop-partner-tls-client-ca-6b91cc19, ca_source_namespace: shop, ca_source_name: partner-ca}
credentials:
  description:
    - The TLS credentials the generated Gateways name, each with the hosts served with it (what
      M(adoptmesh.istio.gateway_credentials) issues certificates for) and the Ingress Secret
      (C(namespace/name)) it stands for.
  returned: always
  type: list
  elements: dict
  sample:
    - name: shop-storefront-tls-c5e68de2
      hosts: [shop.example.com]
      ingress_secret: shop/storefront-tls
extension_providers:
  description:
    - The Envoy external authorization providers that the C(CUSTOM) AuthorizationPolicies from
      C(nginx.ingress.kubernetes.io/auth-url) name, in C(meshConfig.extensionProviders) form.
    - Register them with the install stage (variable C(adoptmesh_extension_providers) of the
      C(adoptmesh.istio.istio_install) role) before applying; until then istiod denies every request
      those policies cover.
  returned: always
  type: list
  elements: dict
  sample:
    - name: ingress-auth-3f2a9c1e
      envoyExtAuthzHttp:
        service: oauth2-proxy.auth.svc.cluster.local
        port: 4180
        pathPrefix: /oauth2/auth
        includeRequestHeadersInCheck: [authorization, cookie]
deployments:
  description:
    - The Deployments that serve the generated objects, each C(name) and C(namespace) (what
      M(adoptmesh.istio.gateway_ready) waits for). For the Istio output, the gateway chart's
      release (O(gateway_release)); for the Gateway API, the C(<Gateway>-istio) Deployment istiod
      makes for each Gateway of class C(istio).
  returned: always
  type: list
  elements: dict
  sample: [{name: shop-gateway, namespace: istio-ingress}]
claims:
  description: The Ingresses this gateway takes, C(namespace/name) to its owner; pass their union to the next gateway's O(claimed).
  returned: always
  type: dict
  sample: {shop/web: shop-gateway}
pruned:
  description: The objects deleted (in check mode, that would be deleted) by O(prune), as C(Kind namespace/name).
  returned: always
  type: list
  elements: str
  sample: [VirtualService istio-ingress/shop-example-com]
summary:
  description: Counts of Ingresses, skipped ones, objects, and findings by severity.
  returned: always
  type: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.certificates import credentials_of
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.findings import count_by_severity
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import Options, Translator
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress_output import serving_deployments
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress_reads import read_ingress_sources
from ansible_collections.adoptmesh.istio.plugins.module_utils.sync import sync_owned
from ansible_collections.adoptmesh.istio.plugins.module_utils.owned import claims, taken_elsewhere
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import surface_findings


ERRORS_LISTED = 20


def argument_spec():
    spec = dict(
        ingresses=dict(type="list", elements="dict"),
        services=dict(type="list", elements="dict", default=[]),
        known_secrets=dict(type="list", elements="str", no_log=False),
        namespaces=dict(type="list", elements="str", default=[]),
        label_selectors=dict(type="list", elements="str", default=[]),
        ingress_classes=dict(type="list", elements="str", default=["nginx", "istio"]),
        include_classless=dict(type="bool", default=False),
        classless_controller=dict(type="str", choices=["nginx", "istio"], default="nginx"),
        gateway_namespace=dict(type="str", default="istio-ingress"),
        gateway_selector=dict(type="dict", default={"istio": "ingressgateway"}),
        gateway_name=dict(type="str"),
        cluster_domain=dict(type="str", default="cluster.local"),
        output_api=dict(type="str", choices=["istio", "gateway-api"], default="istio"),
        certificates=dict(type="str", choices=["ingress-secrets", "issued", "external"], default="ingress-secrets"),
        owner=dict(type="str"),
        gateway_annotations=dict(type="dict", default={}),
        gateway_release=dict(type="str"),
        claimed=dict(type="dict", default={}),
        apply=dict(type="bool", default=False),
        prune=dict(type="bool", default=False),
        allow_errors=dict(type="bool", default=False),
        field_manager=dict(type="str", default="adoptmesh-istio"),
    )
    return spec


def main():
    module = cluster_module(argument_spec())
    params = module.params
    offline = params["ingresses"] is not None
    if offline and params["apply"]:
        module.fail_json(msg="apply: true needs a cluster; it cannot be combined with ingresses")
    if params["prune"] and not params["apply"]:
        module.fail_json(msg="prune: true needs apply: true (pruning compares with what is applied)")
    cluster = None
    try:
        if offline:
            ingresses, services = params["ingresses"], params["services"]
            known = None
            if params["known_secrets"] is not None:
                known = set(tuple(entry.split("/", 1)) for entry in params["known_secrets"] if "/" in entry)
        else:
            cluster = open_cluster(module, params["field_manager"])
            ingresses, services, known = read_ingress_sources(cluster, params["namespaces"], params["label_selectors"])
        options = Options(ingress_classes=params["ingress_classes"], include_classless=params["include_classless"],
                          classless_controller=params["classless_controller"],
                          gateway_namespace=params["gateway_namespace"], gateway_selector=params["gateway_selector"],
                          gateway_name=params["gateway_name"], cluster_domain=params["cluster_domain"],
                          output_api=params["output_api"],
                          known_secrets=known, certificates=params["certificates"], owner=params["owner"],
                          gateway_annotations=params["gateway_annotations"])
        translator = Translator(options)
        translation = translator.translate(ingresses, services)
        outcome = translation.as_dict()
        owner = translator.owner()
        taken = taken_elsewhere(outcome["ingresses"], owner, params["claimed"])
        if taken:
            module.fail_json(msg="nothing applied: {0}narrow their `ingresses` selections: a cutover would retire "
                             "it for both.".format("".join("Ingress {0} is taken by gateways {1}; ".format(
                                 ref, " and ".join(owners)) for ref, owners in taken)))
        outcome["claims"] = claims(outcome["ingresses"], owner)
        outcome["deployments"] = serving_deployments(options, params["gateway_release"] or translator.gateway_name(),
                                                     translation.resources)
        changed, diffs, pruned = False, [], []
        if params["apply"]:
            if translation.has_errors and not params["allow_errors"]:
                errors = [f for f in outcome["findings"] if f["severity"] == "error"]
                listed = "; ".join("{0} [{1}]: {2}".format(f["ingress"], f["code"], f["message"])
                                   for f in errors[:ERRORS_LISTED])
                more = " ... and {0} more in `findings`".format(len(errors) - ERRORS_LISTED) \
                    if len(errors) > ERRORS_LISTED else ""
                module.fail_json(msg="nothing applied: the translation has {0} error finding(s), so some traffic would "
                                 "not be routed as before; fix them or set allow_errors: true. {1}{2}".format(
                                     len(errors), listed, more), **outcome)
            diffs, pruned = sync_owned(cluster, translation.resources, owner, params["prune"])
            changed = bool(diffs)
    except InputError as error:
        module.fail_json(msg=str(error))
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    surface_findings(module, outcome["findings"], subject="ingress")
    summary = dict(ingresses=len(outcome["ingresses"]), skipped=len(outcome["not_translated"]),
                   resources=len(outcome["resources"]))
    summary.update(count_by_severity(translation.findings))
    summary["pruned"] = len(pruned)
    outcome["credentials"] = [{"name": name, "hosts": hosts, "ingress_secret": translation.credential_secrets.get(name)}
                              for name, hosts in sorted(credentials_of(translation.resources).items())]
    outcome.update(changed=changed, summary=summary, pruned=pruned)
    if module._diff and diffs:
        outcome["diff"] = diffs
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
