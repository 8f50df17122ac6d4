# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adoptmesh.istio.outbound_ranges with a line per batch and while it waits for rollouts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.adoptmesh.istio.plugins.plugin_utils.progress import ProgressAction


class ActionModule(ProgressAction):
    pass
