#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: helm_adopt
short_description: Mark the existing objects a chart renders as part of a Helm release
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - For each object in O(manifests) (what C(helm template) renders for the release) that already
    exists in the cluster, sets Helm's ownership metadata - the label
    C(app.kubernetes.io/managed-by=Helm) and the annotations C(meta.helm.sh/release-name) and
    C(meta.helm.sh/release-namespace). A following C(helm upgrade --install) of the release then
    updates those objects in place instead of refusing them.
  - This is how the install stage takes an Istio installed by C(istioctl install) or the operator
    under Helm - nothing is deleted or re-created, so the injection webhook keeps answering.
  - Objects that do not exist are left to Helm; an object another release owns fails the task,
    naming it and its release, before any write.
  - Only metadata is patched; in check mode each patch is a server-side dry run.
options:
  manifests:
    description: The rendered objects (for instance C(helm_template) output through C(from_yaml_all)).
    type: list
    elements: dict
    required: true
  release_name:
    description: The Helm release.
    type: str
    required: true
  release_namespace:
    description: The release's namespace, also the namespace of rendered namespaced objects that name none.
    type: str
    required: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Render istiod as the release will install it
  kubernetes.core.helm_template:
    chart_ref: oci://ghcr.io/istio/release/charts/istiod
    chart_version: 1.31.0
    release_name: istiod
    release_namespace: istio-system
  register: rendered

- name: Take the objects istioctl made into the release
  adoptmesh.istio.helm_adopt:
    manifests: "{{ rendered.stdout | from_yaml_all | select | list }}"
    release_name: istiod
    release_namespace: istio-system
"""

RETURN = r"""
adopted:
  description: Objects marked as the release's (in check mode, that would be), C(Kind namespace/name).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.helm_ownership import OwnedElsewhere, ownership_metadata
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import object_ref
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry


def main():
    module = cluster_module(dict(manifests=dict(type="list", elements="dict", required=True),
                                 release_name=dict(type="str", required=True),
                                 release_namespace=dict(type="str", required=True)))
    params = module.params
    cluster, adopted, diffs = None, [], []
    try:
        cluster = open_cluster(module)
        plans = []
        for rendered in params["manifests"]:
            if not rendered.get("kind") or not (rendered.get("metadata") or {}).get("name"):
                continue
            resource = cluster.resource(rendered["apiVersion"], rendered["kind"])
            namespace = (rendered["metadata"].get("namespace") or params["release_namespace"]) if resource.namespaced \
                else None
            live = cluster.get(rendered["apiVersion"], rendered["kind"], rendered["metadata"]["name"], namespace)
            if live is None:
                continue
            metadata = ownership_metadata(live, params["release_name"], params["release_namespace"])
            if metadata is not None:
                plans.append((live, metadata))
        for live, metadata in plans:  # every object checked before the first write
            cluster.patch(live, dict(live, metadata=metadata))
            adopted.append("{0} {1}".format(live["kind"], object_ref(live)))
            before = {"kind": live["kind"], "metadata": {"name": live["metadata"]["name"],
                                                         "labels": live["metadata"].get("labels") or {},
                                                         "annotations": live["metadata"].get("annotations") or {}}}
            diffs.append(diff_entry(before, {"kind": live["kind"], "metadata": dict(
                (k, metadata.get(k)) for k in ("name", "namespace", "labels", "annotations") if k in metadata)}))
    except OwnedElsewhere as error:
        module.fail_json(msg="cluster {0}: {1}".format(cluster.name, error))
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error, adopted=adopted)
    result = dict(changed=bool(adopted), adopted=adopted)
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
