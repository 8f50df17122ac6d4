#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_review
short_description: Check in one call that the current identity may do what the adoption needs
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Sends a SelfSubjectAccessReview for each check (what C(kubectl auth can-i) does) and returns
    the denied ones.
  - Read-only, as access reviews store nothing, so it also runs in check mode.
options:
  checks:
    description: The permissions to check.
    type: list
    elements: dict
    required: true
    suboptions:
      verb:
        description: The verb, such as C(create), C(patch), C(list).
        type: str
        required: true
      resource:
        description: The resource, plural (C(namespaces), C(customresourcedefinitions)).
        type: str
        required: true
      group:
        description: The API group; empty for the core group.
        type: str
        default: ''
      namespace:
        description: The namespace; empty for all namespaces or cluster-scoped resources.
        type: str
        default: ''
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Check the permissions the install needs
  adoptmesh.istio.access_review:
    checks:
      - {verb: create, resource: customresourcedefinitions, group: apiextensions.k8s.io}
      - {verb: patch, resource: namespaces}
  register: access

- name: Stop when something is denied
  ansible.builtin.assert:
    that: access.denied | length == 0
    fail_msg: "missing permissions: {{ access.denied }}"
"""

RETURN = r"""
denied:
  description: The checks that were denied, each as given plus C(reason).
  returned: always
  type: list
  elements: dict
allowed:
  description: The checks that were allowed.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import FAILURES, cluster_module, open_cluster


def main():
    module = cluster_module(dict(checks=dict(type="list", elements="dict", required=True, options=dict(
        verb=dict(type="str", required=True), resource=dict(type="str", required=True),
        group=dict(type="str", default=""), namespace=dict(type="str", default="")))))
    denied, allowed = [], []
    try:
        cluster = open_cluster(module)
        cluster.dry_run = False  # a review stores nothing; it must really be asked, even in check mode
        for check in module.params["checks"]:
            attributes = {"verb": check["verb"], "resource": check["resource"], "group": check["group"]}
            if check["namespace"]:
                attributes["namespace"] = check["namespace"]
            answer = cluster.create({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                     "spec": {"resourceAttributes": attributes}})
            status = answer.get("status") or {}
            if status.get("allowed"):
                allowed.append(check)
            else:
                denied.append(dict(check, reason=status.get("reason") or status.get("evaluationError") or "denied"))
    except FAILURES as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, denied=denied, allowed=allowed)


if __name__ == "__main__":
    main()
