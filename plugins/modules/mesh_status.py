#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mesh_status
short_description: Where a cluster stands in the mesh - sidecar coverage, mTLS modes, stragglers
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Read-only. One LIST each of namespaces, pods, PeerAuthentications and DestinationRules.
  - Also the Service ports that declare no protocol and the Jobs that may never finish once meshed.
  - Per namespace, whether it is labelled for injection, how many running pods have a sidecar
    (C(sidecar.istio.io/status)), every pod without one with the reason (not labelled, opted
    out, hostNetwork, created before injection), its PeerAuthentication mode, and which
    workloads a restart would bring into the mesh.
options:
  namespaces:
    description: Namespaces to report on. Empty means every namespace except the system ones.
    type: list
    elements: str
    default: []
  root_namespace:
    description: Istio's root namespace (C(meshConfig.rootNamespace)), where the mesh-wide PeerAuthentication lives.
    type: str
    default: istio-system
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Read where the cluster stands
  adoptmesh.istio.mesh_status:
    namespaces: [shop, payments]
  register: mesh

- name: Show the stragglers
  ansible.builtin.debug:
    msg: "{{ mesh.namespaces.shop.without_sidecar }}"
"""

RETURN = r"""
namespaces:
  description: Per namespace, injection label, revision, pods, pods with sidecar, coverage (%), pods without sidecar and why, mTLS mode.
  returned: always
  type: dict
mesh_wide_mode:
  description: Mode of the mesh-wide PeerAuthentication in the root namespace, or null.
  returned: always
  type: str
restart_plan:
  description: Per namespace, the workloads (C(Kind/name)) whose pods lack a sidecar that a restart would give.
  returned: always
  type: dict
istio_crds:
  description: Whether Istio's security CRDs are installed.
  returned: always
  type: bool
services_without_protocol:
  description:
    - Service ports with neither a protocol name (C(http), C(grpc-api), C(tcp-db)...) nor C(appProtocol).
      Istio sniffs their protocol, which server-first protocols such as MySQL do not survive.
  returned: always
  type: list
  elements: dict
jobs_that_may_not_finish:
  description:
    - Jobs and CronJobs (C(namespace/Kind/name)) in injected namespaces whose pods get a sidecar. Without
      native sidecars (Istio 1.27+ on Kubernetes 1.33+ nodes) the sidecar keeps such a pod running after
      the job's container ends.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import read_status
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import FAILURES, cluster_module, open_cluster


def main():
    module = cluster_module(dict(namespaces=dict(type="list", elements="str", default=[]),
                                 root_namespace=dict(type="str", default="istio-system")))
    try:
        status = read_status(open_cluster(module), module.params["namespaces"], module.params["root_namespace"])
    except FAILURES as error:
        module.fail_json(msg=str(error))
    missing = sorted(set(module.params["namespaces"]) - set(status["namespaces"]))
    if missing:
        module.fail_json(msg="namespace(s) not found: {0}".format(", ".join(missing)), **status)
    module.exit_json(changed=False, **status)


if __name__ == "__main__":
    main()
