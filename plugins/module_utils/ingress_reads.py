# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a translation of Ingresses reads from a cluster, in bulk. No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def read_ingress_sources(cluster, namespaces, label_selectors, secrets=True):
    """(Ingresses, their namespaces' Services, {(namespace, name)} of the TLS Secrets they name that
    exist): what a translation reads. One LIST per kind and namespace."""
    ingresses = cluster.list("networking.k8s.io/v1", "Ingress", namespaces, label_selectors)
    ingress_namespaces = sorted(set(i["metadata"]["namespace"] for i in ingresses))
    services = cluster.list("v1", "Service", ingress_namespaces) if ingress_namespaces else []
    if not secrets:
        return ingresses, services, None
    referenced = set()
    for item in ingresses:
        for entry in item.get("spec", {}).get("tls") or []:
            if isinstance(entry, dict) and isinstance(entry.get("secretName"), str):
                referenced.add((item["metadata"]["namespace"], entry["secretName"]))
    # Existence only, asking for metadata: the Secrets' keys never leave the cluster. One LIST per
    # namespace with a referenced Secret, not one GET per Secret.
    secret_namespaces = sorted(set(namespace for namespace, _name in referenced))
    listed = cluster.list("v1", "Secret", secret_namespaces, metadata_only=True) if secret_namespaces else []
    known = set((s["metadata"]["namespace"], s["metadata"]["name"]) for s in listed) & referenced
    return ingresses, services, known
