# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the fleet report: the figures, and the charts drawn as inline SVG."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.adoptmesh.istio.plugins.module_utils import fleet_report


def fleet_summary(reports):
    return fleet_report.summarize(reports)


def fleet_charts(summary):
    return fleet_report.fleet_charts(summary)


class FilterModule(object):
    def filters(self):
        return {"fleet_summary": fleet_summary, "fleet_charts": fleet_charts}
