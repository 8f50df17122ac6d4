# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.adoptmesh.istio.plugins.module_utils import stages


def awx_workflow_nodes(names, prefix, organization, approve=None, approval_timeout=86400):
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise AnsibleFilterError("awx_workflow_nodes: the input must be a list of stage names, not {0!r}".format(names))
    try:
        return stages.awx_workflow_nodes(names, prefix, organization, approve or (), approval_timeout)
    except ValueError as error:
        raise AnsibleFilterError("awx_workflow_nodes: {0}".format(error))


class FilterModule(object):
    def filters(self):
        return {"awx_workflow_nodes": awx_workflow_nodes}
