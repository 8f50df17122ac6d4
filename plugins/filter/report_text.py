# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""md_text, md_code, md_block: data escaped for the place it takes in a Markdown report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.adoptmesh.istio.plugins.module_utils import report_text


class FilterModule(object):
    def filters(self):
        return {"md_text": report_text.md_text, "md_code": report_text.md_code, "md_block": report_text.md_block}
