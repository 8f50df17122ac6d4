"""Survey specs from the roles' argument specs: every option type, AWX's field rules, and the way
back from an answer to the value the role expects."""

import glob
import os

import pytest
import yaml

from ansible_collections.adoptmesh.istio.plugins.module_utils import survey

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE_SPECS = sorted(glob.glob(os.path.join(REPO, "roles", "*", "meta", "argument_specs.yml")))

EVERY_TYPE = {"argument_specs": {"main": {"short_description": "Every type", "options": {
    "a_str": {"type": "str", "default": "istio-system", "description": "A namespace."},
    "a_path": {"type": "path", "default": "/tmp/x"},
    "a_long": {"type": "str", "default": "line one\nline two"},
    "an_int": {"type": "int", "default": 5},
    "a_float": {"type": "float", "default": 1.5},
    "a_bool": {"type": "bool", "default": False},
    "a_list": {"type": "list", "elements": "str", "default": ["shop", "payments"]},
    "a_list_of_ints": {"type": "list", "elements": "int", "default": [80, 443]},
    "a_dict": {"type": "dict", "default": {"pilot": {"env": {"A": "1"}}}},
    "a_raw": {"type": "raw"},
    "a_choice": {"type": "str", "choices": ["allow_any", "registry_only"], "default": "allow_any"},
    "an_int_choice": {"type": "int", "choices": [1, 2, 3], "default": 2},
    "a_multi": {"type": "list", "elements": "str", "choices": ["a", "b", "c"], "default": ["a", "c"]},
    "required_one": {"type": "str", "required": True},
    "a_secret": {"type": "str", "no_log": True},
    "a_computed": {"type": "str", "default": "{{ playbook_dir }}/../backups"},
    "objects": {"type": "list", "elements": "dict", "default": []},
    "nested": {"type": "dict", "options": {"name": {"type": "str"}}},
    "secret_list": {"type": "list", "no_log": True},
    "odd": {"type": "bits"},
}}}}


def by_option(result):
    return dict((q["variable"][len(survey.CONVERTED_PREFIX):] if q["variable"].startswith(survey.CONVERTED_PREFIX)
                 else q["variable"], q) for q in result["spec"])


def test_every_option_type_maps_to_a_field_or_is_reported():
    result = survey.survey_spec(EVERY_TYPE)
    questions = by_option(result)
    assert dict((k, q["type"]) for k, q in questions.items()) == {
        "a_str": "text", "a_path": "text", "a_long": "textarea", "an_int": "integer", "a_float": "float",
        "a_bool": "multiplechoice", "a_list": "textarea", "a_list_of_ints": "textarea", "a_dict": "textarea",
        "a_raw": "textarea", "a_choice": "multiplechoice", "an_int_choice": "multiplechoice",
        "a_multi": "multiselect", "required_one": "text", "a_secret": "password", "a_computed": "text"}
    assert sorted(u["option"] for u in result["unmapped"]) == ["nested", "objects", "odd", "secret_list"]
    assert all(u["reason"].startswith(u["option"] + " ") for u in result["unmapped"])
    assert questions["required_one"]["required"] is True and questions["a_str"]["required"] is False
    assert questions["a_choice"]["choices"] == ["allow_any", "registry_only"]
    assert questions["a_multi"]["default"] == "a\nc"
    assert "default" not in questions["a_computed"] and "computed by the role" in questions["a_computed"][
        "question_description"]
    assert result["conversions"] == {"a_bool": "bool", "a_list": "list:str", "a_list_of_ints": "list:int",
                                     "a_dict": "yaml", "a_raw": "yaml", "an_int_choice": "int"}
    assert questions["a_bool"]["variable"] == "survey_a_bool" and questions["a_str"]["variable"] == "a_str"
    assert survey.awx_errors(result) == []


def test_each_default_answer_comes_back_as_the_options_default():
    options = EVERY_TYPE["argument_specs"]["main"]["options"]
    result = survey.survey_spec(EVERY_TYPE)
    for name, question in by_option(result).items():
        if "default" not in question:
            continue
        conversion = result["conversions"].get(name)
        answer = question["default"]
        if question["type"] == "multiselect":
            answer = answer.splitlines()  # AWX hands a multiselect answer over as a list
        value = survey.survey_value(answer, conversion, name) if conversion else answer
        assert value == options[name]["default"], name


@pytest.mark.parametrize("path", ROLE_SPECS, ids=lambda p: p.split(os.sep)[-3])
def test_every_roles_argument_specs_round_trip_through_a_survey_awx_accepts(path):
    with open(path) as handle:
        specs = yaml.safe_load(handle)
    for entry_point, entry in specs["argument_specs"].items():
        options = entry.get("options") or {}
        result = survey.survey_spec(specs, entry_point)
        assert survey.awx_errors(result) == [], (path, entry_point)
        answered = set(by_option(result))
        reported = set(u["option"] for u in result["unmapped"])
        assert answered | reported == set(options) and not answered & reported, (path, entry_point)
        for name, question in by_option(result).items():
            default = options[name].get("default")
            if "default" not in question or default is None:
                continue
            conversion = result["conversions"].get(name)
            answer = question["default"].splitlines() if question["type"] == "multiselect" else question["default"]
            value = survey.survey_value(answer, conversion, name) if conversion else answer
            expected = None if conversion == "yaml" and default == {} else default
            assert value == expected, (path, entry_point, name)


@pytest.mark.parametrize("answer, conversion, expected", [
    ("true", "bool", True), ("False", "bool", False), ("", "bool", False),
    ("shop\n payments \n\n", "list:str", ["shop", "payments"]),
    ("80\n443", "list:int", [80, 443]), (["a", "b"], "list", ["a", "b"]),
    ('{"a": 1}', "yaml", {"a": 1}), ("  ", "yaml", None), ("7", "int", 7),
])
def test_answers_convert_to_the_options_type(answer, conversion, expected):
    assert survey.survey_value(answer, conversion, "x") == expected


@pytest.mark.parametrize("answer, conversion, message", [
    ("maybe", "bool", "sidecar_injection_restart: 'maybe' is not true or false"),
    ("80\nhttp", "list:int", "sidecar_injection_restart item 2: 'http' is not a number"),
    ("{not json", "yaml", "sidecar_injection_restart: the answer is not YAML or JSON"),
])
def test_answers_that_do_not_convert_name_the_option(answer, conversion, message):
    with pytest.raises(survey.SurveyAnswerError, match=message):
        survey.survey_value(answer, conversion, "sidecar_injection_restart")


def question(**fields):
    item = {"type": "text", "question_name": "q", "variable": "v", "required": False}
    item.update(fields)
    return {"name": "s", "description": "", "spec": [item]}


@pytest.mark.parametrize("spec, error", [
    ({"name": "s", "description": "", "spec": []}, "'spec' doesn't contain any items."),
    ({"description": "", "spec": [{}]}, "Field 'name' is missing"),
    (question(type="checkbox"), "is not one of the allowed question types"),
    (question(required="yes"), "'required' in survey question 0 expected to be boolean."),
    (question(type="integer", default="5"), "Default value '5' in survey question 0 expected to be integer."),
    (question(type="float", default=1), "expected to be float"),
    (question(type="integer", default=True), "expected to be integer"),
    (question(min="0"), "The min limit in survey question 0 expected to be integer."),
    (question(type="multiplechoice"), "must specify choices"),
    (question(type="multiplechoice", choices=["a", "b"], default="a\nb"), "can only have one default value"),
    (question(type="multiselect", choices=["a", "b"], default="c"), "Default choice must be answered from the choices"),
    (question(default="x" * 11, max=10), "outside min None / max 10"),
    (question(type="integer", default=11, min=0, max=10), "default 11 is outside min 0 / max 10"),
    ({"name": "s", "description": "", "spec": [question()["spec"][0], question()["spec"][0]]},
     "'variable' 'v' duplicated in survey question 1."),
])
def test_awx_rules_catch_what_awx_refuses(spec, error):
    assert any(error in message for message in survey.awx_errors(spec)), survey.awx_errors(spec)


def test_unknown_entry_points_and_options_are_named():
    with pytest.raises(ValueError, match="no entry point cutover"):
        survey.survey_spec(EVERY_TYPE, "cutover")
    with pytest.raises(ValueError, match="has no option nope"):
        survey.survey_spec(EVERY_TYPE, only=["a_str", "nope"])


def test_without_defaults_every_answer_is_converted_and_an_empty_one_keeps_the_inventorys_value():
    result = survey.survey_spec(EVERY_TYPE, defaults=False)
    assert survey.awx_errors(result) == []
    assert all(q["variable"].startswith("survey_") and "default" not in q for q in result["spec"])
    assert set(result["conversions"]) == set(by_option(result))
    assert result["conversions"]["a_str"] == "str" and result["conversions"]["an_int"] == "int"
    assert result["conversions"]["a_multi"] == "list"
    assert "Left empty: the inventory's value, or the role's default (istio-system)." in \
        by_option(result)["a_str"]["question_description"]
    assert survey.survey_value(5, "int", "an_int") == 5 and survey.survey_value("x", "str") == "x"
