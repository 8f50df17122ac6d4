#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: remove_generated
short_description: Remove what the collection generated, and nothing a user made
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - The rollback's way out of the mesh policy, the gateways and the egress stage, across the whole
    cluster in one call (one labelled LIST per kind).
  - Only objects labelled C(app.kubernetes.io/managed-by=adoptmesh.istio) are candidates.
  - C(peer_authentications) - a PeerAuthentication the collection is the only writer of (by the
    API server's managedFields) is deleted, which leaves Istio's default, PERMISSIVE. One that
    another writer also touched (a user's policy the STRICT stage raised, or one edited since) is
    kept, and only set back to C(PERMISSIVE) when it is STRICT.
  - C(gateways) - the Gateway, VirtualService, DestinationRule, AuthorizationPolicy, Gateway API
    routes and the gateway credentials (Secrets, cert-manager Certificates) the ingress stage
    generated (they also carry C(adoptmesh.istio/gateway)); routes go first.
  - C(egress) - the ServiceEntries and egress gateway routing the egress stage generated (they
    also carry C(adoptmesh.istio/egress)).
  - Deletes carry the uid listed as a precondition, so an object re-created meanwhile is not
    touched. In check mode every delete is a server-side dry run and the result lists them.
options:
  scopes:
    description: What to remove.
    type: list
    elements: str
    choices: [peer_authentications, gateways, egress]
    default: [peer_authentications, gateways, egress]
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Take STRICT back and remove the generated gateway objects
  adoptmesh.istio.remove_generated:
    scopes: [peer_authentications, gateways]
  register: removed

- name: Show the policies that were kept because a user wrote them too
  ansible.builtin.debug:
    msg: "{{ removed.kept }}"
"""

RETURN = r"""
deleted:
  description: Objects deleted (in check mode, that would be), C(Kind namespace/name).
  returned: always
  type: list
  elements: str
reverted:
  description: PeerAuthentications kept and set back to PERMISSIVE, C(Kind namespace/name).
  returned: always
  type: list
  elements: str
kept:
  description: Candidates left as they are, each with the reason.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import object_ref
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry
from ansible_collections.adoptmesh.istio.plugins.module_utils.rollback import (
    GENERATED_KINDS, PEER_AUTHENTICATION, peer_authentication_steps, permissive_policy, policy_selector,
    scope_selector)


def describe(obj):
    return "{0} {1}".format(obj["kind"], object_ref(obj))


class Remover:
    def __init__(self, cluster):
        self.cluster = cluster
        self.deleted, self.reverted, self.kept, self.diffs = [], [], [], []

    def delete(self, obj):
        if self.cluster.delete(obj):
            self.deleted.append(describe(obj))
            self.diffs.append(diff_entry(obj, None))

    def peer_authentications(self):
        api_version, kind = PEER_AUTHENTICATION
        policies = self.cluster.list(api_version, kind, label_selectors=[policy_selector()], missing_ok=True,
                                     managed_fields=True)
        for policy, action, reason in peer_authentication_steps(policies, self.cluster.field_manager):
            policy["metadata"].pop("managedFields", None)
            if action == "delete":
                self.delete(policy)
            elif action == "permissive":
                changed, before, after = self.cluster.apply(permissive_policy(policy), live=policy, live_known=True)
                if changed:
                    self.reverted.append(describe(policy))
                    self.diffs.append(diff_entry(before, after))
            else:
                self.kept.append({"object": describe(policy), "reason": reason})

    def generated(self, scope):
        for api_version, kind in GENERATED_KINDS[scope]:
            secret = kind == "Secret"
            for obj in self.cluster.list(api_version, kind, label_selectors=[scope_selector(scope)],
                                         missing_ok=True, metadata_only=secret):
                # A metadata-only list names its items PartialObjectMetadata; and a Secret's keys are never read.
                obj.update(apiVersion=api_version, kind=kind)
                self.delete(obj)


def main():
    scopes = ["peer_authentications", "gateways", "egress"]
    module = cluster_module(dict(scopes=dict(type="list", elements="str", choices=scopes, default=scopes)))
    cluster, remover = None, None
    try:
        cluster = open_cluster(module)
        remover = Remover(cluster)
        if "peer_authentications" in module.params["scopes"]:
            remover.peer_authentications()
        for scope in ("gateways", "egress"):
            if scope in module.params["scopes"]:
                remover.generated(scope)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error, deleted=remover.deleted if remover else [],
                              reverted=remover.reverted if remover else [])
    for entry in remover.kept:
        module.warn("{0} kept: {1}".format(entry["object"], entry["reason"]))
    result = dict(changed=bool(remover.deleted or remover.reverted), deleted=remover.deleted,
                  reverted=remover.reverted, kept=remover.kept)
    if module._diff and remover.diffs:
        result["diff"] = remover.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
