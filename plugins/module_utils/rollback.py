# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a rollback removes, what it only puts back to PERMISSIVE, and what it must leave alone.

Only objects carrying the collection's labels are candidates. Of those:
- generated gateway and egress objects (they carry an owner label as well) are removed: the
  collection made every one of them from an Ingress or a declared list, and a re-run would make
  them again;
- PeerAuthentications are removed only when the collection is the only writer the API server
  records for them (managedFields). One someone else also wrote was theirs before the collection
  raised it (or they changed it since), so it stays and only its mode goes back to PERMISSIVE.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .ingress_model import MANAGED_BY, OWNER_LABEL

EGRESS_LABEL = "adoptmesh.istio/egress"
PEER_AUTHENTICATION = ("security.istio.io/v1", "PeerAuthentication")

# Kinds per scope, in the order they are removed: routes before what they route to, and gateway
# objects before the Secrets they present.
GENERATED_KINDS = {
    "gateways": (
        ("networking.istio.io/v1", "VirtualService"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1", "TLSRoute"), ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
        ("security.istio.io/v1", "AuthorizationPolicy"), ("networking.istio.io/v1", "DestinationRule"),
        ("networking.istio.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "Gateway"),
        ("cert-manager.io/v1", "Certificate"), ("v1", "Secret"),
    ),
    "egress": (
        ("networking.istio.io/v1", "VirtualService"), ("networking.istio.io/v1", "DestinationRule"),
        ("networking.istio.io/v1", "Gateway"), ("networking.istio.io/v1", "ServiceEntry"),
    ),
}
SCOPE_LABELS = {"gateways": OWNER_LABEL, "egress": EGRESS_LABEL}


def scope_selector(scope):
    """The label selector of the objects a scope's runs generated (any owner)."""
    key, value = list(MANAGED_BY.items())[0]
    return "{0}={1},{2}".format(key, value, SCOPE_LABELS[scope])


def policy_selector():
    key, value = list(MANAGED_BY.items())[0]
    return "{0}={1}".format(key, value)


def writers(obj):
    """The field managers the API server records for an object."""
    return sorted(set(entry.get("manager") or "" for entry in (obj.get("metadata") or {}).get("managedFields") or []))


def _mode(policy):
    return ((policy.get("spec") or {}).get("mtls") or {}).get("mode")


def peer_authentication_steps(policies, field_manager):
    """[(policy, action, reason)] with action `delete`, `permissive` or `keep`, for the
    PeerAuthentications that carry the collection's label."""
    steps = []
    for policy in policies:
        labels = (policy.get("metadata") or {}).get("labels") or {}
        if any(labels.get(key) != value for key, value in MANAGED_BY.items()):
            continue
        others = [name for name in writers(policy) if name != field_manager]
        if not others:
            steps.append((policy, "delete", "created by the collection"))
        elif _mode(policy) == "STRICT":
            steps.append((policy, "permissive", "also written by {0}: kept, mode set back to PERMISSIVE".format(
                ", ".join(others))))
        else:
            steps.append((policy, "keep", "also written by {0}, and not STRICT".format(", ".join(others))))
    return steps


def permissive_policy(policy):
    """The apply that sets a policy's mode back to PERMISSIVE and nothing else."""
    metadata = policy["metadata"]
    return {"apiVersion": PEER_AUTHENTICATION[0], "kind": PEER_AUTHENTICATION[1],
            "metadata": {"name": metadata["name"], "namespace": metadata.get("namespace")},
            "spec": {"mtls": {"mode": "PERMISSIVE"}}}
