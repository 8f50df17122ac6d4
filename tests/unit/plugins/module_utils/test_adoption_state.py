"""The record of where a cluster stands: what a run adds, and that re-runs add nothing."""

import datetime

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import adoption_state

T1 = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc)
T2 = datetime.datetime(2026, 11, 27, 11, 0, tzinfo=datetime.timezone.utc)
V1 = {"istio": "1.30.3", "revision": ""}


def test_a_run_completes_every_stage_up_to_the_one_asked_and_reaches_it():
    state = adoption_state.record_success(adoption_state.decode(None), "inject", V1, T1)
    assert sorted(state["completed"]) == ["inject", "install", "preflight"]
    assert state["reached"] == "inject" and state["failure"] is None
    assert state["completed"]["inject"] == {"at": "2026-11-27T10:00:00Z", "versions": V1}


def test_side_stages_go_through_ingress_but_not_strict():
    state = adoption_state.record_success(adoption_state.decode(None), "egress", V1, T1)
    assert state["reached"] == "ingress" and state["side_stages"] == ["egress"]
    assert "strict" not in state["completed"]


def test_a_rerun_with_the_same_versions_writes_equal_data():
    first = adoption_state.record_success(adoption_state.decode(None), "strict", V1, T1)
    data = adoption_state.encode(first)
    again = adoption_state.record_success(adoption_state.decode(data), "inject", V1, T2)
    assert adoption_state.encode(again) == data
    # A lower stage asked later does not lower the stage reached.
    assert again["reached"] == "strict"


def test_other_versions_are_news_for_the_stages_the_run_covered_only():
    first = adoption_state.record_success(adoption_state.decode(None), "strict", V1, T1)
    upgraded = adoption_state.record_success(first, "install", {"istio": "1.31.0", "revision": ""}, T2)
    assert upgraded["completed"]["install"]["at"] == "2026-11-27T11:00:00Z"
    assert upgraded["completed"]["strict"]["at"] == "2026-11-27T10:00:00Z"


def test_a_failure_stays_until_a_run_covering_its_stage_completes():
    state = adoption_state.record_success(adoption_state.decode(None), "install", V1, T1)
    failed = adoption_state.record_failure(state, "strict", "Switch to STRICT", "cannot list pods: timeout", V1, T1)
    assert failed["failure"]["stage"] == "strict" and failed["reached"] == "install"
    # The same failure again keeps its first time, so a re-run that fails the same way is no change.
    again = adoption_state.record_failure(adoption_state.decode(adoption_state.encode(failed)), "strict",
                                          "Switch to STRICT", "cannot list pods: timeout", V1, T2)
    assert adoption_state.encode(again) == adoption_state.encode(failed)
    still = adoption_state.record_success(failed, "inject", V1, T2)
    assert still["failure"]["stage"] == "strict"
    over = adoption_state.record_success(still, "strict", V1, T2)
    assert over["failure"] is None and over["reached"] == "strict"
    assert "failure" not in adoption_state.encode(over)


def test_a_rollback_forgets_the_stages_it_walked_back():
    state = adoption_state.record_success(adoption_state.decode(None), "strict", V1, T1)
    state = adoption_state.record_failure(state, "egress", "Set REGISTRY_ONLY", "timeout", V1, T1)
    kept = adoption_state.record_rollback(state, uninstalled=False)
    assert sorted(kept["completed"]) == ["install", "preflight"] and kept["reached"] == "install"
    assert kept["failure"] is None
    assert adoption_state.record_rollback(state, uninstalled=True)["reached"] == "preflight"
    # Walking back again changes nothing.
    assert adoption_state.encode(adoption_state.record_rollback(kept, False)) == adoption_state.encode(kept)


@pytest.mark.parametrize("data, field", [
    ({"completed": "{not json"}, "data.completed is not JSON"),
    ({"completed": "[]"}, "data.completed is not a JSON object"),
    ({"failure": "3"}, "data.failure is not a JSON object"),
])
def test_a_record_edited_into_nonsense_is_named(data, field):
    with pytest.raises(adoption_state.StateError, match=field):
        adoption_state.decode(data, "ConfigMap istio-system/adoptmesh-adoption-state")


def test_unknown_stages_are_refused():
    with pytest.raises(adoption_state.StateError, match="stage canary is not one of"):
        adoption_state.record_success(adoption_state.decode(None), "canary", V1)
