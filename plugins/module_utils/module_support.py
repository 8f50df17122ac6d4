# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the cluster-facing modules: argument spec with kubernetes.core's auth options,
one API client per run, and errors turned into clear failures. The logic lives elsewhere."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule

from .cluster import Cluster, ClusterError, connect

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:
    KUBERNETES_CORE_IMPORT_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {}
    CoreException = ClusterError
else:
    KUBERNETES_CORE_IMPORT_ERROR = None

FAILURES = (ClusterError, CoreException)


def cluster_module(argument_spec, **kwargs):
    """An AnsibleK8SModule with the auth options added, or a clear failure without kubernetes.core."""
    if KUBERNETES_CORE_IMPORT_ERROR:
        AnsibleModule(argument_spec={}, supports_check_mode=True).fail_json(
            msg="the kubernetes.core collection is required", exception=KUBERNETES_CORE_IMPORT_ERROR)
    spec = dict(argument_spec)
    spec.update(AUTH_ARG_SPEC)
    return AnsibleK8SModule(module_class=AnsibleModule, argument_spec=spec, supports_check_mode=True, **kwargs)


def describe(params):
    """Where the module was pointed, for error messages; kubeconfig may hold credentials, so it is not named."""
    parts = ["{0} {1}".format(key, params[key]) for key in ("host", "context")
             if isinstance(params.get(key), str) and params.get(key)]
    return ", ".join(parts) or "the kubeconfig and context given"


def open_cluster(module, field_manager="adoptmesh-istio"):
    client = connect(lambda: get_api_client(module).client, describe(module.params))
    return Cluster(client, field_manager=field_manager, dry_run=module.check_mode)
