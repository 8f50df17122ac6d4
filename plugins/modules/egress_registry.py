#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: egress_registry
short_description: Register the external destinations the mesh may reach, and report what REGISTRY_ONLY would block
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Checks every declared destination first and fails, naming the entry and the field, before
    any write.
  - Applies one ServiceEntry (C(MESH_EXTERNAL)) per destination, and for those with
    C(through_gateway) the Gateway and VirtualService that send their traffic from
    every sidecar through the egress gateway O(gateway), as Istio's egress gateway task does
    (HTTP by Host, HTTPS and TLS by SNI, passed through).
  - Every generated object carries C(app.kubernetes.io/managed-by=adoptmesh.istio) and
    C(adoptmesh.istio/egress=<owner>); objects of the owner that are no longer declared are
    pruned, and nothing without both labels is ever touched.
  - Then reports in RV(blocked) what C(meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY) would
    block - the hosts of ExternalName Services and the O(observed) destinations that no
    ServiceEntry registers, the users' own ServiceEntries included. This module does not change
    the mode; the egress stage does, after it.
  - Check mode applies as server-side dry runs; the report is the same.
options:
  destinations:
    description:
      - The external destinations the mesh may reach, each a mapping. Every problem is reported
        at once, naming the entry (C(egress_destinations[i] (name))) and the field.
      - C(hosts) (required) - DNS names; a leading C(*.) registers every subdomain and needs
        C(resolution=NONE).
      - C(ports) (required) - each C({number, protocol[, name]}); protocol one of HTTP, HTTPS,
        HTTP2, GRPC, TLS, TCP, MONGO.
      - C(resolution) - C(DNS) (default), C(DNS_ROUND_ROBIN), C(STATIC) (needs C(endpoints)) or C(NONE).
      - C(name) - of the generated objects (C(egress-<name>)); default, the first host.
      - C(addresses), C(endpoints) - as in a ServiceEntry.
      - C(through_gateway) - send this destination through the egress gateway O(gateway)
        (HTTP, HTTPS and TLS ports only).
    type: list
    elements: raw
    default: []
  namespace:
    description: Namespace of the ServiceEntries (Istio's root namespace makes them visible to the whole mesh).
    type: str
    default: istio-system
  owner:
    description: Value of the C(adoptmesh.istio/egress) label of everything generated.
    type: str
    default: registry
  gateway:
    description: The egress gateway, C({name, namespace}) as its Helm release; needed when a destination goes through it.
    type: dict
  validate_only:
    description: Only check O(destinations) and O(gateway), without reading or writing the cluster.
    type: bool
    default: false
  observed:
    description:
      - Destinations seen leaving the cluster (C(host) or C(host:port)), from access logs or flow
        logs, to be checked against the registry.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Register the payment provider and the package mirror
  adoptmesh.istio.egress_registry:
    destinations:
      - name: payments-api
        hosts: [api.payments.example]
        ports: [{number: 443, protocol: TLS}]
      - hosts: ["*.mirror.example"]
        ports: [{number: 443, protocol: TLS}]
        resolution: NONE
    observed: [api.payments.example:443, telemetry.vendor.example:443]
  register: registry

- name: Show what REGISTRY_ONLY would block
  ansible.builtin.debug:
    msg: "{{ registry.blocked }}"
"""

RETURN = r"""
service_entries:
  description: The ServiceEntries declared, C(namespace/name).
  returned: always
  type: list
  elements: str
pruned:
  description: Generated objects deleted because their destination is no longer declared.
  returned: always
  type: list
  elements: str
blocked:
  description: Each destination REGISTRY_ONLY would block, C({host, ports, source}).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils import egress
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.sync import sync_labelled
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import object_ref

SERVICE_ENTRY = ("networking.istio.io/v1", "ServiceEntry")
KINDS = (SERVICE_ENTRY, ("networking.istio.io/v1", "Gateway"), ("networking.istio.io/v1", "VirtualService"))


def main():
    module = cluster_module(dict(
        # Checked by egress.validate, which names the entry and field of each problem.
        destinations=dict(type="list", elements="raw", default=[]),
        namespace=dict(type="str", default="istio-system"),
        owner=dict(type="str", default="registry"),
        gateway=dict(type="dict"),
        observed=dict(type="list", elements="str", default=[]),
        validate_only=dict(type="bool", default=False),
    ))
    params = module.params
    errors = egress.validate(params["destinations"])
    if not errors and params["gateway"] is None and any(d.get("through_gateway") for d in params["destinations"]):
        errors.append("a destination goes through the egress gateway but gateway is not set")
    if params["gateway"] is not None and not (params["gateway"].get("name") and params["gateway"].get("namespace")):
        errors.append("gateway needs name and namespace, got {0!r}".format(params["gateway"]))
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors)
    if params["validate_only"]:
        module.exit_json(changed=False, pruned=[], blocked=[], service_entries=[])
    gateway = None
    if params["gateway"]:
        name = params["gateway"]["name"]
        gateway = {"name": name, "namespace": params["gateway"]["namespace"],
                   # The gateway chart's selector label: the release name without "istio-".
                   "selector": {"istio": name[len("istio-"):] if name.startswith("istio-") else name}}
    desired = egress.resources(params["destinations"], params["namespace"], params["owner"], gateway)
    cluster, diffs, pruned = None, [], []
    try:
        cluster = open_cluster(module)
        diffs, pruned = sync_labelled(cluster, desired, KINDS, egress.owner_selector(params["owner"]), prune=True)
        ours = set(object_ref(r) for r in desired if r["kind"] == "ServiceEntry")
        others = [s for s in cluster.list(*SERVICE_ENTRY) if object_ref(s) not in ours]
        known = egress.registered([r for r in desired if r["kind"] == "ServiceEntry"] + others)
        external = [s for s in cluster.list("v1", "Service") if (s.get("spec") or {}).get("type") == "ExternalName"]
        blocked = egress.would_block(known, external, params["observed"])
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    result = dict(changed=bool(diffs), pruned=pruned, blocked=blocked,
                  service_entries=sorted(object_ref(r) for r in desired if r["kind"] == "ServiceEntry"))
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
