#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_networks
short_description: Read a cluster's Service and Pod address ranges
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - The Service CIDRs from the C(networking.k8s.io/v1) ServiceCIDR objects (Kubernetes 1.33 and
    later) and the Pod CIDRs from the Nodes' C(spec.podCIDRs), merged where they touch.
  - A range that cannot be read is not guessed - the single IP of the C(kubernetes) Service does
    not tell the range around it, and CNIs that do not use the Nodes' podCIDRs leave them empty.
    RV(unknown) says which range is missing and why; the egress stage then needs it given.
  - Read-only; the same in check mode.
options: {}
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Read the cluster's address ranges
  adoptmesh.istio.cluster_networks:
  register: networks

- name: Capture only in-cluster traffic in the sidecars
  ansible.builtin.debug:
    msg: "{{ (networks.service_cidrs + networks.pod_cidrs) | join(',') }}"
"""

RETURN = r"""
service_cidrs:
  description: The Service address ranges found.
  returned: always
  type: list
  elements: str
pod_cidrs:
  description: The Pod address ranges found.
  returned: always
  type: list
  elements: str
unknown:
  description: Per range not found (C(service_cidrs), C(pod_cidrs)), why.
  returned: always
  type: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.egress import cluster_ranges
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)


def main():
    module = cluster_module({})
    cluster = None
    try:
        cluster = open_cluster(module)
        service_cidrs = cluster.list("networking.k8s.io/v1", "ServiceCIDR", missing_ok=True)
        nodes = cluster.list("v1", "Node")
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    services, pods = cluster_ranges(service_cidrs, nodes)
    unknown = {}
    if not services:
        unknown["service_cidrs"] = ("cluster {0} has no networking.k8s.io/v1 ServiceCIDR objects (Kubernetes "
                                    "before 1.33, or the API is off)".format(cluster.name))
    if not pods:
        unknown["pod_cidrs"] = ("cluster {0}: none of its {1} Nodes has spec.podCIDRs (the CNI allocates pod "
                                "addresses itself)".format(cluster.name, len(nodes)))
    module.exit_json(changed=False, service_cidrs=services, pod_cidrs=pods, unknown=unknown)


if __name__ == "__main__":
    main()
