import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import errors, findings, gocompat


def test_input_error_names_object_and_field():
    error = errors.InputError("Ingress", "shop/web", errors.field_path("spec", "rules", 0, "host"),
                              '"Shop.example.com" is not a valid host name')
    assert str(error) == 'Ingress shop/web: spec.rules[0].host: "Shop.example.com" is not a valid host name'
    assert isinstance(error, ValueError)


def test_input_error_without_field():
    assert str(errors.InputError("", "shop/web", "", "not found")) == "shop/web: not found"


def test_field_path():
    assert errors.field_path("spec", "rules", 2, "http", "paths", 0) == "spec.rules[2].http.paths[0]"
    assert errors.field_path() == ""


def test_findings_sort_most_severe_first_per_object():
    found = [
        findings.Finding("ingress", "b/x", findings.INFO, "i1", "info"),
        findings.Finding("ingress", "a/y", findings.WARNING, "w1", "warn"),
        findings.Finding("ingress", "a/y", findings.ERROR, "e1", "err"),
    ]
    ordered = findings.sorted_findings(found)
    assert [f.code for f in ordered] == ["e1", "w1", "i1"]
    assert findings.has_errors(found)
    assert not findings.has_errors(found[:2])
    assert findings.count_by_severity(found) == {"info": 1, "warning": 1, "error": 1}


def test_finding_as_dict_keeps_details_and_drops_empty_ones():
    finding = findings.Finding("workload", "shop/Deployment/web", findings.ERROR, "probe-host-set",
                               "httpGet.host is set", container="web", probe="readinessProbe", port=None)
    assert finding.as_dict() == {
        "workload": "shop/Deployment/web", "severity": "error", "code": "probe-host-set",
        "message": "httpGet.host is set", "container": "web", "probe": "readinessProbe",
    }
    assert finding == findings.Finding("workload", "shop/Deployment/web", "error", "probe-host-set",
                                       "httpGet.host is set", container="web", probe="readinessProbe")


def test_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        findings.Finding("ingress", "a/b", "fatal", "x", "y")


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True", True])
def test_go_bool_true(value):
    assert gocompat.parse_go_bool(value) is True


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False", False])
def test_go_bool_false(value):
    assert gocompat.parse_go_bool(value) is False


@pytest.mark.parametrize("value", ["yes", "no", "on", "tRUE", " true", "", None, 1, "2"])
def test_go_bool_rejects_what_go_rejects(value):
    assert gocompat.parse_go_bool(value) is None
