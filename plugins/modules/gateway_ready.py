#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_ready
short_description: Wait until ingress gateway Deployments are Available, or say why not
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Polls the Deployments of ingress gateways (one LIST of Deployments and of pods per namespace
    each round) until every one is Available with all replicas updated and ready.
  - On timeout the failure names each gateway that is not ready and why, from the cluster's own
    words - a pod that cannot be scheduled, an image that cannot be pulled, a proxy whose
    readiness probe fails, a rollout past its deadline.
  - Reads only, so check mode changes nothing; in check mode it reports without waiting, since
    the gateways were not installed.
options:
  gateways:
    description: The gateways, each with its Deployment's C(name) and C(namespace).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The gateway Deployment's name (the Helm release name of Istio's gateway chart).
        type: str
        required: true
      namespace:
        description: Its namespace.
        type: str
        required: true
  wait_timeout:
    description: Seconds to wait for all of them.
    type: int
    default: 300
    aliases: [timeout]
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
  - adoptmesh.istio.progress
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Wait for the team gateways
  adoptmesh.istio.gateway_ready:
    gateways:
      - {name: team-a-gateway, namespace: team-a-gateway}
      - {name: team-b-gateway, namespace: team-b-gateway}
    wait_timeout: 300
"""

RETURN = r"""
gateways:
  description: Per gateway (C(namespace/name)), whether it is available and the reason.
  returned: always
  type: dict
  sample:
    istio-ingress/istio-ingressgateway: {available: true, reason: available (2/2 replicas)}
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.gateways import readiness
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster, progress_spec)
from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import Waiter, progress_writer


def argument_spec():
    return progress_spec(dict(gateways=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True), namespace=dict(type="str", required=True))),
        wait_timeout=dict(type="int", default=300, aliases=["timeout"])))


def poll(cluster, gateways):
    namespaces = sorted(set(g["namespace"] for g in gateways))
    deployments = dict(((d["metadata"]["namespace"], d["metadata"]["name"]), d)
                       for d in cluster.list("apps/v1", "Deployment", namespaces))
    pods = cluster.list("v1", "Pod", namespaces)
    states = {}
    for gateway in gateways:
        key = (gateway["namespace"], gateway["name"])
        in_namespace = [p for p in pods if p["metadata"]["namespace"] == gateway["namespace"]]
        available, reason = readiness(deployments.get(key), in_namespace)
        states["{0}/{1}".format(*key)] = {"available": available, "reason": reason}
    return states


def main():
    module = cluster_module(argument_spec())
    gateways = module.params["gateways"]
    cluster, states = None, {}
    try:
        cluster = open_cluster(module)
        waiter = Waiter.for_check_mode(module.check_mode, module.params["wait_timeout"], "gateways",
                                       progress=progress_writer(module.params["progress_file"]))

        def waiting():
            states.update(poll(cluster, gateways))
            return dict((ref, state["reason"]) for ref, state in states.items() if not state["available"])

        waited = waiter.wait(waiting, total=len(gateways))
        if waited.timed_out:
            module.fail_json(msg="gateways not ready after {0}s: {1}".format(
                module.params["wait_timeout"], Waiter.describe(waited.waiting, "gateway")), gateways=states)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    module.exit_json(changed=False, gateways=states)


if __name__ == "__main__":
    main()
