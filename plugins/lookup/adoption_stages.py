# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: adoption_stages
author: adoptmesh.istio maintainers (@adoptmesh)
version_added: 0.1.0
short_description: The adoption stages, in the order a run passes them
description:
  - The one list of stages that the adoption playbooks, the state record on each cluster, the
    reports, preflight and the AWX workflow read.
  - "Each stage is a dictionary: C(name) (what C(adoption_stage) takes), C(role) (the role that
    does it, in this collection), C(label) (for reports), C(writes) (whether it changes the
    cluster), C(side) and C(after) (a side stage runs the main stages through C(after), then
    itself), and C(runs), the stages a run to it completes, in order."
  - Without terms, every stage; with stage names, those stages, in the order asked. A name that is
    not a stage fails the lookup with the list of stages.
options:
  _terms:
    description: Stage names; none for every stage.
    type: list
    elements: str
    required: false
"""

EXAMPLES = r"""
- name: Show every stage a run to cutover goes through
  ansible.builtin.debug:
    msg: "{{ lookup('adoptmesh.istio.adoption_stages', 'cutover').runs }}"

- name: List the stage names
  ansible.builtin.debug:
    msg: "{{ query('adoptmesh.istio.adoption_stages') | map(attribute='name') | list }}"
"""

RETURN = r"""
_raw:
  description: One dictionary per stage.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.adoptmesh.istio.plugins.module_utils import stages


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        every = stages.as_dicts()
        if not terms:
            return every
        by_name = dict((stage["name"], stage) for stage in every)
        found = []
        for term in terms:
            if not isinstance(term, str) or term not in by_name:
                raise AnsibleLookupError("adoption_stage {0!r} is not one of {1}".format(term, ", ".join(stages.NAMES)))
            found.append(by_name[term])
        return found
