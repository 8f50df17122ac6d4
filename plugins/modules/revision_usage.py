#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: revision_usage
short_description: What still depends on an Istio control-plane revision
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Lists the running pods whose sidecar the revision's injector gave (Istio writes the revision
    on each injected pod as the C(istio.io/rev) annotation), the namespaces whose labels resolve to
    the revision (C(istio.io/rev=<revision or tag>), or C(istio-injection=enabled) for the
    revision the C(default) tag or the revision-less install serves) and the revision tags
    pointing at it, from one LIST each of Pods, Namespaces and MutatingWebhookConfigurations.
  - With O(fail_when_used), fails naming all of them - the gate before a revision is uninstalled.
  - Read-only; the same in check mode.
options:
  revision:
    description: The revision; C(default) for the revision-less install (Helm release C(istiod)).
    type: str
    required: true
  fail_when_used:
    description: Fail when anything still depends on the revision.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Refuse to remove revision 1-30 while anything uses it
  adoptmesh.istio.revision_usage:
    revision: 1-30
    fail_when_used: true
"""

RETURN = r"""
pods:
  description: Running pods with a sidecar from the revision, C(namespace/name).
  returned: always
  type: list
  elements: str
namespaces:
  description: Namespaces whose new pods the revision would inject.
  returned: always
  type: list
  elements: str
tags:
  description: Revision tags pointing at the revision.
  returned: always
  type: list
  elements: str
in_use:
  description: Whether anything depends on the revision.
  returned: always
  type: bool
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh import revision_tags, revision_users
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)


def main():
    module = cluster_module(dict(revision=dict(type="str", required=True),
                                 fail_when_used=dict(type="bool", default=False)))
    revision = module.params["revision"] or "default"
    cluster = None
    try:
        cluster = open_cluster(module)
        names = revision_tags(cluster.list("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"))
        users = revision_users(revision, cluster.list("v1", "Namespace"), cluster.list("v1", "Pod"), names)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    in_use = bool(users["pods"] or users["namespaces"] or users["tags"])
    if in_use and module.params["fail_when_used"]:
        parts = []
        if users["namespaces"]:
            parts.append("namespaces {0} ask for it".format(", ".join(users["namespaces"])))
        if users["tags"]:
            parts.append("tags {0} point at it".format(", ".join(users["tags"])))
        if users["pods"]:
            parts.append("{0} running pods have its sidecar ({1}{2})".format(
                len(users["pods"]), ", ".join(users["pods"][:5]), ", ..." if len(users["pods"]) > 5 else ""))
        module.fail_json(msg="cluster {0}: revision {1} is still in use: {2}".format(cluster.name, revision,
                                                                                     "; ".join(parts)),
                         in_use=True, **users)
    module.exit_json(changed=False, in_use=in_use, **users)


if __name__ == "__main__":
    main()
