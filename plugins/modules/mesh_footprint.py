#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mesh_footprint
short_description: Find the service mesh already on a cluster - Istio's parts, their installer, other meshes
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Read-only, in five requests - the server version, CustomResourceDefinitions (metadata only),
    MutatingWebhookConfigurations, istiod Deployments (label C(app=istiod)) and injected pods
    (label C(service.istio.io/canonical-name), sidecars and gateways) of every namespace.
  - Names Istio's CRDs, Istio's injection webhooks with their revisions, and every istiod with its
    revision, version and installer - Helm (with the release), C(istioctl install) or the Istio
    operator, or unknown. RV(foreign) lists the Istio parts no Helm release owns.
  - Names the injection webhooks of other meshes (linkerd, Consul, Kuma, Open Service Mesh, App
    Mesh), which would fight Istio's injector over the same pods.
  - With O(version), RV(skew) says how far each running istiod is from it (an upgrade, more than
    one minor version at once, a downgrade), and RV(compatibility) checks what Istio's own tools
    check before an install - the Kubernetes version against that Istio's supported range, the
    Gateway API CRD bundle against the one it needs, proxies outside the supported control plane
    / data plane skew, and images pulled from registries Istio retired (C(gcr.io/istio-release),
    C(registry.istio.io)).
options:
  version:
    description: The Istio version the adoption will install, for RV(skew) and RV(compatibility).
    type: str
  gateway_api_required:
    description:
      - Whether the adoption will create Gateway API objects (the ingress stage with Gateway API
        output). A Gateway API CRD bundle older than the target Istio needs, or none, is then an
        C(error) finding in RV(compatibility); otherwise an old bundle is a C(warning).
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Find what mesh the cluster has
  adoptmesh.istio.mesh_footprint:
    version: 1.31.0
  register: footprint

- name: Stop on an Istio that Helm does not manage
  ansible.builtin.assert:
    that: footprint.foreign | length == 0
    fail_msg: "installed without Helm: {{ footprint.foreign | join(', ') }}"
"""

RETURN = r"""
kubernetes_version:
  description: The API server's gitVersion.
  returned: always
  type: str
istio_crds:
  description: Names of the CRDs in Istio's API groups.
  returned: always
  type: list
  elements: str
istio_webhooks:
  description: Istio's injection webhook configurations (name, revision, Helm release or null).
  returned: always
  type: list
  elements: dict
istiods:
  description: Every istiod Deployment (namespace, name, revision, version, installed_by, helm_release).
  returned: always
  type: list
  elements: dict
foreign:
  description: Istio parts that no Helm release owns (installed by istioctl, the operator, or by hand).
  returned: always
  type: list
  elements: str
other_meshes:
  description: Injection webhooks of other meshes (mesh, webhook).
  returned: always
  type: list
  elements: dict
skew:
  description: One sentence per istiod whose version differs from O(version).
  returned: always
  type: list
  elements: str
compatibility:
  description:
    - With O(version) - C(istio_version), C(kubernetes_version), C(kubernetes_range) (oldest and
      newest Kubernetes minor that Istio minor supports, null when the support table has no row),
      C(gateway_api) (C(version), C(channel), C(crds) of the installed bundle, or null),
      C(gateway_api_minimum), C(image_registries) and C(proxy_versions) in use, C(findings)
      (C(cluster), C(severity), C(code), C(message); most severe first) and C(source), the page
      the support table comes from.
  returned: when O(version) is given
  type: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.footprint import footprint
from ansible_collections.adoptmesh.istio.plugins.module_utils.istio_support import compatibility
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)


def main():
    module = cluster_module(dict(version=dict(type="str"), gateway_api_required=dict(type="bool", default=False)))
    cluster = None
    try:
        cluster = open_cluster(module)
        version = cluster.get_version()
        crds = cluster.list("apiextensions.k8s.io/v1", "CustomResourceDefinition", metadata_only=True)
        webhooks = cluster.list("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
        deployments = cluster.list("apps/v1", "Deployment", label_selectors=["app=istiod"])
        proxies = (cluster.list("v1", "Pod", label_selectors=["service.istio.io/canonical-name"])
                   if module.params["version"] else [])
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    result = footprint(crds, webhooks, deployments, module.params["version"])
    if module.params["version"]:
        result["compatibility"] = compatibility(module.params["version"], version, crds, deployments, proxies,
                                                module.params["gateway_api_required"], cluster.name)
    module.exit_json(changed=False, kubernetes_version=version, **result)


if __name__ == "__main__":
    main()
