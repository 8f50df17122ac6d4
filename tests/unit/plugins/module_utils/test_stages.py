"""The one list of stages, and that everything that runs or shows stages reads it."""

import os
import re

import pytest
import yaml

from ansible.errors import AnsibleFilterError, AnsibleLookupError

from ansible_collections.adoptmesh.istio.plugins.filter.stages import awx_workflow_nodes
from ansible_collections.adoptmesh.istio.plugins.lookup.adoption_stages import LookupModule
from ansible_collections.adoptmesh.istio.plugins.module_utils import stages

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_a_run_to_a_main_stage_runs_every_main_stage_before_it():
    assert stages.covered_stages("preflight") == ["preflight"]
    assert stages.covered_stages("strict") == ["preflight", "install", "inject", "ingress", "strict"]


def test_a_side_stage_runs_the_main_stages_through_the_one_it_follows_then_itself_never_strict():
    assert stages.covered_stages("cutover") == ["preflight", "install", "inject", "ingress", "cutover"]
    assert stages.covered_stages("egress") == ["preflight", "install", "inject", "ingress", "egress"]


@pytest.mark.parametrize("name", ["canary", "", None, "Strict", ["inject"]])
def test_a_name_that_is_not_a_stage_is_refused_with_the_list(name):
    with pytest.raises(ValueError, match="is not one of preflight, install, inject, ingress, strict, cutover, egress"):
        stages.covered_stages(name)


def test_the_lookup_gives_every_stage_or_those_asked_and_names_the_list_for_any_other():
    lookup = LookupModule()
    everything = lookup.run([])
    assert [s["name"] for s in everything] == list(stages.NAMES)
    [cutover] = lookup.run(["cutover"])
    assert cutover == {"name": "cutover", "role": "ingress_gateway", "label": "Ingresses retired", "writes": True,
                       "side": True, "after": "ingress", "runs": ["preflight", "install", "inject", "ingress", "cutover"]}
    assert not everything[0]["writes"] and all(s["writes"] for s in everything[1:])
    for bad in ("canary", 3, None):
        with pytest.raises(AnsibleLookupError, match="is not one of preflight"):
            lookup.run([bad])


def test_the_awx_workflow_chains_the_stages_in_order_with_an_approval_before_the_ones_asked():
    nodes = awx_workflow_nodes(["strict", "install", "ingress", "inject"], "Istio adoption", "Default", ["strict"], 60)
    assert [n["identifier"] for n in nodes] == ["install", "inject", "ingress", "approve-strict", "strict"]
    successors = dict((n["identifier"], [s["identifier"] for s in n.get("related", {}).get("success_nodes", [])])
                      for n in nodes)
    assert successors == {"install": ["inject"], "inject": ["ingress"], "ingress": ["approve-strict"],
                          "approve-strict": ["strict"], "strict": []}
    approval = nodes[3]["unified_job_template"]
    assert approval == {"name": "Istio adoption: approve STRICT mutual TLS", "type": "workflow_approval", "timeout": 60,
                        "description": "Read the adoption reports of the ingress run before approving STRICT mutual TLS."}
    assert nodes[0]["unified_job_template"] == {"name": "Istio adoption: install", "type": "job_template",
                                                "organization": {"name": "Default"}}
    for bad in (["install", "canary"], "install", [3]):
        with pytest.raises(AnsibleFilterError, match="awx_workflow_nodes"):
            awx_workflow_nodes(bad, "p", "o")
    # A stage to approve must be one of the workflow's, in a list (a string would match by substring).
    for approve in ("strict", ["canary"], ["egress"], [None], {"strict": True}):
        with pytest.raises(AnsibleFilterError, match="awx_workflow_nodes"):
            awx_workflow_nodes(["install", "strict"], "p", "o", approve)


def test_every_stage_has_its_role_and_the_stage_tasks_run_exactly_the_stages_of_the_list():
    for stage in stages.STAGES:
        assert os.path.isdir(os.path.join(REPO, "roles", stage.role)), stage.name
    with open(os.path.join(REPO, "playbooks", "tasks", "adoption-stages.yml")) as handle:
        text = handle.read()
    # Which stages a task runs for is read from the run's stages (adoption_stages_run), never from
    # an index or a stage name compared by hand.
    assert "adoption_stage_index" not in text and "adoption_stage ==" not in text
    gated = set(re.findall(r"when: \"'([a-z]+)' in adoption_stages_run\"", text))
    assert gated == set(stages.NAMES) - {"preflight"}


def test_the_adoption_state_module_and_its_documentation_take_the_stages_of_the_list():
    from ansible_collections.adoptmesh.istio.plugins.modules import adoption_state as module
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]["stage"]["choices"]
    assert documented == list(stages.NAMES)
