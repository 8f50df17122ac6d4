# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX / Automation Platform survey specs from a role's meta/argument_specs.yml, and back.

A survey answer is a string, a number, or a list of strings picked from choices. Options that are
such values already (str, int, float, choices) map straight to a survey field under their own
variable name. Booleans, free lists and dicts cannot arrive typed, so their question asks for text
under the variable `survey_<option>`, and `survey_value` turns the answer into the typed value the
role expects (the adoption playbooks do this before the first stage, from the
`adoptmesh_survey_types` extra variable the generated job templates carry). A survey answer is an
extra variable, which nothing in a play can override, hence the separate name.

What has no survey field at all (lists of objects, options nested in options, unknown types,
non-string secrets) is returned in `unmapped` with the reason, never dropped silently.

The field rules are AWX's own (awx/api/views JobTemplateSurveySpec._validate_spec_data and the
launch-time checks of SurveyJobTemplateMixin); `awx_errors` applies them to a spec.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math

from .errors import depth_guarded, field_path
from .shapes import ANY, INT, NUMBER, ListOf, MapOf, problem as shape_problem

AWX_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
             "integer": int, "float": float}
TEXT_MAX = 1024
TEXTAREA_MAX = 4096
CONVERTED_PREFIX = "survey_"
SCALAR_ELEMENTS = ("str", "int", "float", "path")


class SurveyAnswerError(ValueError):
    """An answer that cannot become the option's type; names the option."""


class SpecError(ValueError):
    """An argument spec that cannot become a survey; names the entry point and option."""


def _text_limits(default, field_max):
    return {"min": 0, "max": max(field_max, len(default or ""))}


def _is_template(value):
    return isinstance(value, str) and "{{" in value


def _description(option):
    text = option.get("description") or ""
    if isinstance(text, list):
        text = " ".join(str(line) for line in text)
    return " ".join(str(text).split())


def _base(name, option, variable):
    return {"question_name": name, "question_description": _description(option), "variable": variable,
            "required": bool(option.get("required", False))}


def question(name, option):
    """(question, conversion, problem) for one option: the survey field or None, the type its
    answer converts to (None when the answer is the value), and why there is no field, if not."""
    kind = option.get("type", "str")
    default = option.get("default")
    choices = option.get("choices")
    notes = []
    if _is_template(default):
        # A computed default (from other variables) stays the role's: the question starts empty.
        notes.append("default {0} is computed by the role when the answer is left empty".format(default))
        default = None
    if option.get("options"):
        return None, None, "{0} has options of its own (type {1} with suboptions); set it in the job template's " \
            "extra variables".format(name, kind)
    if option.get("no_log"):
        if kind not in ("str", "path"):
            return None, None, "{0} is a secret of type {1}; a password field holds text only".format(name, kind)
        item = dict(_base(name, option, name), type="password", **_text_limits(default, TEXT_MAX))
        if default is not None:
            item["default"] = str(default)
        return _noted(item, notes), None, None
    if choices:
        if kind == "list":
            item = dict(_base(name, option, name), type="multiselect", choices=[str(c) for c in choices])
            if default:
                item["default"] = "\n".join(str(d) for d in default)
            return _noted(item, notes), None if option.get("elements", "str") == "str" else "list", None
        item = dict(_base(name, option, name if kind == "str" else CONVERTED_PREFIX + name), type="multiplechoice",
                    choices=[_choice_text(c) for c in choices])
        if default is not None:
            item["default"] = _choice_text(default)
        return _noted(item, notes), None if kind == "str" else kind, None
    if kind in ("str", "path"):
        text = "" if default is None else str(default)
        field = "textarea" if "\n" in text or len(text) > TEXT_MAX else "text"
        item = dict(_base(name, option, name), type=field,
                    **_text_limits(text, TEXTAREA_MAX if field == "textarea" else TEXT_MAX))
        if default is not None:
            item["default"] = text
        return _noted(item, notes), None, None
    if kind in ("int", "float"):
        item = dict(_base(name, option, name), type="integer" if kind == "int" else "float", min=None, max=None)
        if default is not None:
            item["default"] = int(default) if kind == "int" else float(default)
        return _noted(item, notes), None, None
    if kind == "bool":
        item = dict(_base(name, option, CONVERTED_PREFIX + name), type="multiplechoice", choices=["true", "false"])
        if default is not None:
            item["default"] = "true" if default else "false"
        return _noted(item, notes), "bool", None
    if kind == "list":
        elements = option.get("elements", "str")
        if elements not in SCALAR_ELEMENTS:
            return None, None, "{0} is a list of {1}; a survey answers text, numbers or choices: set it in the job " \
                "template's extra variables".format(name, elements)
        items = [str(d) for d in default or []]
        # Empty or multi-line items do not survive one item per line: those defaults are JSON.
        text = json.dumps(default) if any(i == "" or "\n" in i for i in items) else "\n".join(items)
        item = dict(_base(name, option, CONVERTED_PREFIX + name), type="textarea", **_text_limits(text, TEXTAREA_MAX))
        item["question_description"] = (item["question_description"] + " One item per line, or a JSON list.").strip()
        if default is not None:
            item["default"] = text
        return _noted(item, notes), "list:" + elements, None
    if kind in ("dict", "raw", "json", "jsonarg"):
        text = "" if default in (None, {}) else json.dumps(default, sort_keys=True)
        item = dict(_base(name, option, CONVERTED_PREFIX + name), type="textarea", **_text_limits(text, TEXTAREA_MAX))
        item["question_description"] = (item["question_description"] + " YAML or JSON.").strip()
        if default not in (None, {}):
            item["default"] = text
        return _noted(item, notes), "yaml", None
    return None, None, "{0} has type {1}, which no survey field holds".format(name, kind)


def _without_default(name, option, item, conversion):
    item = dict(item, variable=CONVERTED_PREFIX + name)
    default = item.pop("default", None)
    if default not in (None, ""):
        shown = default.replace("\n", ", ") if isinstance(default, str) else default
        item["question_description"] = (item["question_description"] + " Left empty: the inventory's value, or "
                                        "the role's default ({0}).".format(shown)).strip()
    if conversion is None:
        kind = option.get("type", "str")
        conversion = "list" if item["type"] == "multiselect" else kind if kind in ("int", "float") else "str"
    return item, conversion


def _choice_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _noted(item, notes):
    if notes:
        item["question_description"] = (item["question_description"] + " (" + "; ".join(notes) + ")").strip()
    return item


# The parts of an argument spec a survey reads (Ansible's own argument spec format).
_SCALAR_DEFAULTS = {"int": INT, "float": NUMBER, "bool": bool, "list": ListOf(ANY)}
_OPTION = {"type": str, "elements": str, "choices": ListOf(ANY), "required": bool, "no_log": bool,
           "default": ANY, "description": ANY, "options": ANY}
_ENTRY = {"short_description": str, "description": ANY, "options": MapOf(ANY)}


def _spec_problem(entry_point, entry, names):
    """SpecError text for an entry point whose options are not what Ansible's argument spec
    format allows (a mutated or hand-written spec), else None."""
    found = shape_problem(entry, _ENTRY)
    if found:
        return "entry point {0}: {1}: {2}".format(entry_point, field_path(*found[0]) or "(itself)", found[1])
    for option_name in names:
        option = (entry.get("options") or {})[option_name]
        found = shape_problem(option, _OPTION) if option is not None else None
        kind = option.get("type", "str") if isinstance(option, dict) else None
        if not found and isinstance(option, dict) and not _is_template(option.get("default")):
            found = shape_problem(option.get("default"), _SCALAR_DEFAULTS.get(kind, ANY), ("default",))
        if found:
            return "entry point {0}: option {1}: {2}: {3}".format(entry_point, option_name,
                                                                  field_path(*found[0]) or "(itself)", found[1])
    return None


@depth_guarded("argument_specs", SpecError)
def survey_spec(argument_specs, entry_point="main", name=None, description=None, only=None, defaults=True):
    """{name, description, spec, conversions, unmapped} for one entry point of a role's
    argument_specs (the parsed meta/argument_specs.yml, with or without its top key). `only`
    limits the questions to those options, in that order.

    With defaults=False every question asks for `survey_<option>` with no default (the role's
    default is named in its description) and every answer goes through `survey_value`: a question
    left empty then keeps what the inventory or the role sets, instead of a survey default
    overriding it (survey answers are extra variables, which win over everything)."""
    if not isinstance(argument_specs, dict):
        raise SpecError("argument_specs is {0}, not a mapping".format(type(argument_specs).__name__))
    specs = argument_specs.get("argument_specs", argument_specs)
    if not isinstance(specs, dict) or not all(isinstance(key, str) for key in specs):
        raise SpecError("argument_specs is not a mapping of entry point names")
    if entry_point not in specs:
        raise SpecError("argument_specs has no entry point {0} (it has {1})".format(
            entry_point, ", ".join(sorted(specs)) or "none"))
    entry = specs[entry_point] or {}
    problem = _spec_problem(entry_point, entry, [])
    if problem:
        raise SpecError(problem)
    options = entry.get("options") or {}
    if only is not None and (not isinstance(only, (list, tuple)) or not all(isinstance(n, str) for n in only)):
        raise SpecError("only must be a list of option names")
    names = list(only) if only is not None else sorted(options, key=str)
    missing = [n for n in names if n not in options]
    if missing:
        raise SpecError("entry point {0} has no option {1}".format(entry_point, ", ".join(missing)))
    problem = _spec_problem(entry_point, entry, names)
    if problem:
        raise SpecError(problem)
    spec, conversions, unmapped = [], {}, []
    for option_name in names:
        item, conversion, problem = question(option_name, options[option_name] or {})
        if problem:
            unmapped.append({"option": option_name, "reason": problem})
            continue
        if not defaults:
            item, conversion = _without_default(option_name, options[option_name] or {}, item, conversion)
        spec.append(item)
        if conversion:
            conversions[option_name] = conversion
    return {"name": name or entry.get("short_description") or entry_point,
            "description": description or _description({"description": entry.get("description")}),
            "spec": spec, "conversions": conversions, "unmapped": unmapped}


@depth_guarded("survey answer", SurveyAnswerError)
def survey_value(answer, conversion, option="the answer", load_yaml=json.loads):
    """The typed value of a survey answer given for a converted option (`load_yaml` reads the
    text of dict and raw options; JSON unless a YAML loader is given)."""
    if conversion == "yaml":
        if not isinstance(answer, str):
            return answer
        if not answer.strip():
            return None
        try:
            return load_yaml(answer)
        except (ValueError, RecursionError) as error:
            raise SurveyAnswerError("{0}: the answer is not YAML or JSON: {1}".format(option, error))
    if conversion == "bool":
        text = str(answer).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0", ""):
            return False
        raise SurveyAnswerError("{0}: {1!r} is not true or false".format(option, answer))
    if conversion == "str":
        return str(answer)
    if conversion in ("int", "float"):
        try:
            value = int(answer) if conversion == "int" else float(answer)
        except (TypeError, ValueError, OverflowError):
            raise SurveyAnswerError("{0}: {1!r} is not a number".format(option, str(answer)[:80]))
        if isinstance(value, float) and not math.isfinite(value):
            raise SurveyAnswerError("{0}: {1!r} is not a finite number".format(option, str(answer)[:80]))
        return value
    if conversion and conversion.startswith("list:"):
        if isinstance(answer, list):
            lines = answer
        elif str(answer).strip().startswith("["):
            try:
                lines = json.loads(answer)
            except (ValueError, RecursionError) as error:
                raise SurveyAnswerError("{0}: the answer is not a JSON list: {1}".format(option, error))
            if not isinstance(lines, list):
                raise SurveyAnswerError("{0}: the answer is not a JSON list".format(option))
            return lines
        else:
            lines = [line.strip() for line in str(answer).splitlines()]
        items = [line for line in lines if line != ""]
        elements = conversion.split(":", 1)[1]
        if elements in ("int", "float"):
            return [survey_value(item, elements, "{0} item {1}".format(option, i + 1)) for i, item in enumerate(items)]
        return items
    if conversion == "list":
        return list(answer) if isinstance(answer, list) else [line for line in str(answer).splitlines() if line]
    raise SurveyAnswerError("{0}: no conversion {1}".format(option, conversion))


def awx_errors(survey):
    """The errors AWX would answer when this survey spec is posted (400 Bad Request), and those
    its own default answers would meet at launch. An empty list means AWX accepts it."""
    errors = []
    for field, expected in (("name", str), ("description", str), ("spec", list)):
        if field not in survey:
            errors.append("Field '{0}' is missing from survey spec.".format(field))
        elif not isinstance(survey[field], expected):
            errors.append("Expected {0} for field '{1}'.".format(expected.__name__, field))
    if isinstance(survey.get("spec"), list) and not survey["spec"]:
        errors.append("'spec' doesn't contain any items.")
    seen = set()
    for index, item in enumerate(survey.get("spec") or []):
        where = "survey question {0}".format(index)
        if not isinstance(item, dict):
            errors.append("{0} is not a json object.".format(where))
            continue
        for field in ("type", "question_name", "variable", "required"):
            if field not in item:
                errors.append("'{0}' missing from {1}".format(field, where))
            elif not isinstance(item[field], bool if field == "required" else str):
                errors.append("'{0}' in {1} expected to be {2}.".format(
                    field, where, "boolean" if field == "required" else "string"))
        variable = item.get("variable")
        if variable in seen:
            errors.append("'variable' '{0}' duplicated in {1}.".format(variable, where))
        seen.add(variable)
        kind = item.get("type")
        if kind not in AWX_TYPES:
            errors.append("'{0}' in {1} is not one of the allowed question types.".format(kind, where))
            continue
        default = item.get("default", "")
        # bool is an int to Python, not to a survey.
        if default != "" and (not isinstance(default, AWX_TYPES[kind]) or isinstance(default, bool)):
            errors.append("Default value {0!r} in {1} expected to be {2}.".format(default, where, kind))
        for key in ("min", "max"):
            if item.get(key) is not None and (not isinstance(item[key], int) or isinstance(item[key], bool)):
                errors.append("The {0} limit in {1} expected to be integer.".format(key, where))
        if kind in ("multiplechoice", "multiselect"):
            choices = item.get("choices")
            if not choices:
                errors.append("{0} of type {1} must specify choices.".format(where, kind))
                continue
            choices = choices.splitlines() if isinstance(choices, str) else choices
            defaults = default.splitlines() if isinstance(default, str) else default
            defaults = [d for d in defaults if str(d).strip()]
            if kind == "multiplechoice" and len(defaults) > 1:
                errors.append("Multiple Choice (Single Select) can only have one default value ({0}).".format(where))
            if any(d not in choices for d in defaults):
                errors.append("Default choice must be answered from the choices listed ({0}).".format(where))
        if kind in ("text", "textarea", "password") and isinstance(default, str) and default:
            low, high = item.get("min"), item.get("max")
            if low not in (None, "") and len(default) < int(low) or high not in (None, "") and len(default) > int(high):
                errors.append("{0}: default of {1} characters is outside min {2} / max {3}".format(
                    where, len(default), low, high))
        if kind in ("integer", "float") and default != "" and isinstance(default, (int, float)):
            low, high = item.get("min"), item.get("max")
            if low not in (None, "") and default < low or high not in (None, "") and default > high:
                errors.append("{0}: default {1} is outside min {2} / max {3}".format(where, default, low, high))
    return errors
