# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The progress lines of the modules that wait."""

    DOCUMENTATION = r"""
options:
  progress_file:
    description:
      - A file the module appends a progress line to while it waits (a line per batch, or one
        every half-minute), with counts and the time so far.
      - Set by the collection's action plugin, which shows each line on the controller as it is
        written, prefixed with the cluster, when the module runs there (C(ansible_connection=local)).
        Leave it unset.
    type: path
"""
