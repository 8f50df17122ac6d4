# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh state read from a cluster in a few LISTs (namespaces, pods, PeerAuthentications)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .cluster import ClusterError
from .mesh import (SYSTEM_NAMESPACES, coverage, jobs_that_may_not_finish, peer_authentication_modes,
                   services_without_protocol, workloads_to_restart)


def read_status(cluster, names, root_namespace):
    """Coverage, mTLS modes and the restart plan of the given namespaces (default: all but system)."""
    wanted = set(names or [])
    namespaces = [n for n in cluster.list("v1", "Namespace")
                  if (n["metadata"]["name"] in wanted if wanted else n["metadata"]["name"] not in SYSTEM_NAMESPACES)]
    # One cluster-wide LIST beats one per namespace once there are more than a handful.
    pods = cluster.list("v1", "Pod") if namespaces else []
    try:
        peer_authentications = cluster.list("security.istio.io/v1", "PeerAuthentication")
        istio_crds = True
    except ClusterError:
        peer_authentications, istio_crds = [], False
    report = coverage(namespaces, pods)
    modes = peer_authentication_modes(peer_authentications, root_namespace)
    for name, entry in report.items():
        entry["mtls_mode"] = modes.get(name)
    selected = [n["metadata"]["name"] for n in namespaces]
    services = [s for s in cluster.list("v1", "Service") if s["metadata"]["namespace"] in selected]
    jobs = [j for kind in ("Job", "CronJob") for j in cluster.list("batch/v1", kind)
            if j["metadata"]["namespace"] in selected]
    return {"namespaces": report, "mesh_wide_mode": modes.get(None), "restart_plan": workloads_to_restart(report),
            "istio_crds": istio_crds, "services_without_protocol": services_without_protocol(services),
            "jobs_that_may_not_finish": jobs_that_may_not_finish(jobs, namespaces, wanted)}
