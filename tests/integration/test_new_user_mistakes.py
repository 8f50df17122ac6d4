"""A new user's mistakes end in a clear failure that says what to fix, never in a green run that
did nothing or in an error that hides the cause."""

import json
import os

import pytest
import yaml

from conftest import REPO
from test_adoption_playbook import run_playbook

PLAYBOOKS = ["adopt-istio.yml", "rollback-istio.yml", "upgrade-istio.yml", "restore-ingresses.yml", "fleet_report.yml"]


EMPTY = ({"all": {"children": {"clusters": {"hosts": {}}}}}, [], "clusters")


@pytest.mark.parametrize("playbook,inventory,extra,pattern", [(playbook,) + EMPTY for playbook in PLAYBOOKS] + [
    ("adopt-istio.yml", {"all": {"children": {"cluster": {"hosts": {"prod": {"ansible_connection": "local"}}}}}},
     [], "clusters"),  # a misspelt group
    ("rollback-istio.yml", {"all": {"children": {"clusters": {"hosts": {"prod": {"ansible_connection": "local"}}}}}},
     ["-e", "adoption_hosts=eu"], "eu"),
])
def test_a_run_whose_host_patterns_match_no_cluster_fails(tmp_path, playbook, inventory, extra, pattern):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    output = run_playbook(["-i", str(path)] + extra, tmp_path, expect_failure=True, playbook=playbook)
    assert "no host of the inventory matches " + pattern in output, output[-2000:]


def unreachable_inventory(tmp_path, **variables):
    """One cluster whose API nothing answers: a failure that names a setting came before any request."""
    host = dict({"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "adoptmesh_host": "https://127.0.0.1:9",
                 "adoptmesh_report_dir": str(tmp_path / "reports")}, **variables)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"clusters": {"hosts": {"prod": host}}}}}))
    return str(path)


@pytest.mark.parametrize("stage,variables,message", [
    ("inject", {"sidecar_injection_batch_size": 0}, "sidecar_injection_batch_size and sidecar_injection_batch_timeout at least 1"),
    ("inject", {"probes_overrides": {"shop/Deployment/web": "fix-it"}}, "probes_overrides must map namespace/Kind/name"),
    ("ingress", {"ingress_gateway_gateways": [{"name": "public"}]},
     "ingress_gateway_gateways[0] (public): namespace is missing"),
    ("cutover", {"ingress_gateway_gateways": [{"name": "public", "namespace": "Bad_Name"}]},
     "ingress_gateway_gateways[0] (public): namespace is missing or not a namespace name"),
    ("strict", {"mesh_policy_force": "shop"}, "mesh_policy_force"),
])
def test_every_requested_stage_is_checked_before_the_first_request(tmp_path, stage, variables, message):
    inventory = unreachable_inventory(tmp_path, adoptmesh_namespaces=["shop"], **variables)
    output = run_playbook(["-i", inventory, "-e", "adoption_stage=" + stage], tmp_path, expect_failure=True)
    assert message in output, output[-3000:]
    assert "cannot reach the Kubernetes API" not in output.split(message)[0], output[-3000:]


def test_a_failed_item_of_a_loop_is_named_in_the_final_error_and_the_report(tmp_path):
    gateways = [{"name": "public", "namespace": "gw"}, {"name": "internal"}]
    inventory = unreachable_inventory(tmp_path, ingress_gateway_gateways=gateways)
    output = run_playbook(["-i", inventory, "-e", "adoption_stage=ingress"], tmp_path, expect_failure=True)
    final = [line for line in output.splitlines() if "the run to stage ingress stopped at task" in line][-1]
    assert "item internal: ingress_gateway_gateways[1] (internal): namespace is missing" in final, final
    assert "One or more items failed" not in final
    report = json.loads((tmp_path / "reports" / "prod.json").read_text())
    assert "ingress_gateway_gateways[1] (internal): namespace is missing" in report["error"]
    assert "ingress_gateway_gateways[1] (internal)" in (tmp_path / "reports" / "prod.md").read_text()


def test_a_missing_kubeconfig_is_named_with_where_it_came_from(tmp_path):
    missing = str(tmp_path / "nowhere" / "kubeconfig.yaml")
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"clusters": {"hosts": {"prod": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "adoptmesh_kubeconfig": missing,
        "adoptmesh_report_dir": str(tmp_path / "reports")}}}}}}))
    output = run_playbook(["-i", str(path), "-e", "adoption_stage=preflight"], tmp_path, expect_failure=True)
    expected = "the kubeconfig {0} (from the kubeconfig option (adoptmesh_kubeconfig in the playbooks)) does not exist"
    final = [line for line in output.splitlines() if "the run to stage preflight stopped at task" in line][-1]
    assert expected.format(missing) in final and "not recorded on the cluster either" in final, final


def test_every_kubernetes_core_connection_option_has_an_adoptmesh_variable():
    import sys
    sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    with open(os.path.join(REPO, "playbooks", "vars", "connection.yml")) as handle:
        connection = yaml.safe_load(handle)
    k8s = connection["adoptmesh_k8s_connection"]
    assert sorted(k8s) == sorted(AUTH_ARG_SPEC)
    assert all("adoptmesh_" + option in value for option, value in k8s.items())
    for playbook in ("adopt_istio.yml", "rollback_istio.yml", "upgrade_istio.yml", "restore_ingresses.yml"):
        with open(os.path.join(REPO, "playbooks", playbook)) as handle:
            plays = [p for p in yaml.safe_load(handle) if "module_defaults" in p]
        assert plays and all(p["vars_files"] == ["vars/connection.yml"] for p in plays), playbook
        assert all(p["module_defaults"]["group/adoptmesh.istio.k8s"] == "{{ adoptmesh_k8s_connection }}"
                   for p in plays), playbook


def test_connection_options_reach_the_modules(tmp_path):
    """An impersonated user and a proxy set by adoptmesh_* variables are what the module uses: the
    API at a closed port is reached through the proxy named, and fails naming it."""
    inventory = unreachable_inventory(tmp_path, adoptmesh_proxy="http://127.0.0.1:7",
                                      adoptmesh_impersonate_user="system:serviceaccount:x:y",
                                      adoptmesh_validate_certs=False)
    output = run_playbook(["-i", inventory, "-e", "adoption_stage=preflight", "-vvv"], tmp_path,
                          expect_failure=True)
    assert '"proxy": "http://127.0.0.1:7"' in output and '"impersonate_user": "system:serviceaccount:x:y"' in output
    assert '"validate_certs": false' in output
