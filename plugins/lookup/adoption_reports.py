# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: adoption_reports
author: adoptmesh.istio maintainers (@adoptmesh)
version_added: 0.1.0
short_description: Read the per-cluster adoption reports of a fleet
description:
  - Reads C(<dir>/<cluster>.json), the JSON report the C(adoptmesh.istio.adoption_report) role
    writes, for each cluster named, on the controller.
  - "Returns one dictionary, C({cluster: report}), with C(null) for a cluster that has no report
    yet (it never ran)."
  - "A report that cannot be read or is not JSON does not fail the lookup: it stands as
    C({\"adoptmesh.istio/unreadable\": \"<file>: <reason>\"}), which
    P(adoptmesh.istio.fleet_summary#filter) shows as an unreadable report, so one bad file never
    hides the rest of the fleet."
  - A cluster name that cannot be a file name (C(../x)) fails the lookup.
options:
  _terms:
    description: The clusters (inventory host names).
    type: list
    elements: str
    required: true
  dir:
    description: The report folder.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Read the reports of every cluster of the inventory
  ansible.builtin.set_fact:
    fleet_reports: "{{ lookup('adoptmesh.istio.adoption_reports', groups['clusters'], dir='adoption-reports') }}"
"""

RETURN = r"""
_raw:
  description: "One dictionary, C({cluster: report or null})."
  type: list
  elements: dict
"""

import json
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.adoptmesh.istio.plugins.module_utils.fleet_report import UNREADABLE
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import file_name_problem


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        folder = self.get_option("dir")
        reports = {}
        for term in terms:
            for cluster in term if isinstance(term, list) else [term]:
                problem = file_name_problem(cluster)
                if problem:
                    raise AnsibleLookupError("adoption report: cluster name {0}".format(problem))
                path = os.path.join(folder, "{0}.json".format(cluster))
                if not os.path.exists(path):
                    reports[cluster] = None
                    continue
                try:
                    with open(path) as handle:
                        reports[cluster] = json.load(handle)
                except (OSError, ValueError, RecursionError) as error:
                    # One bad file must not hide the fleet: the page shows it as unreadable.
                    reports[cluster] = {UNREADABLE: "{0}: {1}".format(os.path.basename(path), error)}
        return [reports]
