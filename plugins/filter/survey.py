# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters between roles' argument specs and AWX / Automation Platform surveys."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.adoptmesh.istio.plugins.module_utils import survey


def survey_spec(argument_specs, entry_point="main", name=None, description=None, only=None, defaults=True):
    try:
        return survey.survey_spec(argument_specs, entry_point, name=name, description=description, only=only,
                                  defaults=defaults)
    except survey.SpecError as error:
        raise AnsibleFilterError("survey_spec: {0}".format(error))


def survey_value(answer, conversion, option="the answer"):
    try:
        return survey.survey_value(answer, conversion, option, load_yaml=yaml.safe_load)
    except (survey.SurveyAnswerError, yaml.YAMLError) as error:
        raise AnsibleFilterError("survey answer {0}".format(error))


def survey_awx_errors(spec):
    return survey.awx_errors(spec)


class FilterModule(object):
    def filters(self):
        return {"survey_spec": survey_spec, "survey_value": survey_value, "survey_awx_errors": survey_awx_errors}
