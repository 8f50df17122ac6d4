# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""file_name: a cluster's name checked before it becomes part of a path on the controller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.adoptmesh.istio.plugins.module_utils.names import file_name_problem


def file_name(value, what="cluster name"):
    problem = file_name_problem(value)
    if problem:
        raise AnsibleFilterError("{0} {1}".format(what, problem))
    return value


class FilterModule(object):
    def filters(self):
        return {"file_name": file_name}
