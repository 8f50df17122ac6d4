"""playbooks/upgrade-istio.yml: a canary upgrade from the 1.30 chart to the 1.31 chart by revisions."""

import json
import re

import pytest

from conftest import ISTIO_CHART_VERSIONS, own_plane, recap_changed
from test_adoption_playbook import Adoption

NEW = {"name": "1-31", "version": ISTIO_CHART_VERSIONS[1]}
CANARY = {"name": "canary", "revision": "1-31"}


@pytest.fixture(scope="module")
def adoption(tmp_path_factory):
    with own_plane("revisions") as plane:
        adoption = Adoption(plane, tmp_path_factory.mktemp("revisions"))
        adoption.seed()
        adoption.run("-e", "adoption_stage=inject")
        yield adoption


def upgrade(adoption, expect_failure=False, check=False, **steps):
    args = ["-e", json.dumps(steps)] + (["--check"] if check else [])
    return adoption.run(*args, expect_failure=expect_failure, playbook="upgrade-istio.yml")


def sidecar_revisions(adoption, namespace):
    """The revision Istio's injector wrote on each running pod of the namespace."""
    pods = adoption.kubectl.json("-n", namespace, "get", "pods")["items"]
    return sorted(set(p["metadata"].get("annotations", {}).get("istio.io/rev", "none") for p in pods
                      if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")))


def dry_run_revision(adoption, namespace):
    answer, refusal = adoption.new_pod(namespace)
    assert answer, refusal
    return answer["metadata"].get("annotations", {}).get("istio.io/rev", "no sidecar")


def settle(adoption, *namespaces):
    for namespace in namespaces:
        adoption.kubectl.run("wait", "--for=condition=Available", "deployment", "--all", "-n", namespace,
                             "--timeout=120s")


def test_a_revision_name_that_is_not_a_dns_label_fails_before_any_write(adoption):
    before = adoption.resource_versions()
    output = upgrade(adoption, expect_failure=True, istio_revisions_installed=[{"name": "1.31", "version": "1.31.0"}])
    assert "istio_revisions_installed[0] (1.31): name is missing or not a DNS label" in output
    output = upgrade(adoption, expect_failure=True, istio_revisions_installed=[NEW],
                     istio_revisions_moves=[{"namespaces": ["shop"], "to": "Canary"}])
    assert "istio_revisions_moves[0]: to is missing or not a DNS label" in output
    output = adoption.run("-e", "adoption_stage=install", expect_failure=True, adoptmesh_revision="1.31")
    assert "adoptmesh_revision 1.31 is not a DNS label" in output
    assert adoption.resource_versions() == before


def test_canary_upgrade_moves_namespaces_removes_the_old_revision_last_and_can_be_taken_back(adoption):
    assert sidecar_revisions(adoption, "shop") == ["default"]
    first = dict(istio_revisions_installed=[NEW], istio_revisions_tags=[CANARY],
                 istio_revisions_moves=[{"namespaces": ["shop"], "to": "canary"}])
    before = adoption.resource_versions()
    upgrade(adoption, check=True, **first)
    assert adoption.resource_versions() == before
    output = upgrade(adoption, **first)
    assert re.search(r"shop: (\d+)/\1 pods meshed, by revision \{'1-31': \1\}", output), output[-3000:]
    settle(adoption, "shop")
    # Istio's injectors say who injected what: shop by the new revision, the others still by the old.
    assert sidecar_revisions(adoption, "shop") == ["1-31"]
    assert sidecar_revisions(adoption, "payments") == ["default"]
    assert dry_run_revision(adoption, "shop") == "1-31" and dry_run_revision(adoption, "payments") == "default"
    assert recap_changed(upgrade(adoption, **first)) == 0

    # The old revision stays while anything uses it, and the run says what.
    output = upgrade(adoption, expect_failure=True, istio_revisions_removed=["default"], istio_revisions_default="1-31")
    assert "revision default is still in use: namespaces batch, legacy, payments ask for it" in output
    assert adoption.kubectl.json("-n", "istio-system", "get", "deployment", "istiod")

    # Taking the upgrade back: shop moves home, injected by the old revision again.
    upgrade(adoption, istio_revisions_moves=[{"namespaces": ["shop"], "to": "default"}])
    settle(adoption, "shop")
    assert sidecar_revisions(adoption, "shop") == ["default"]
    assert adoption.kubectl.json("get", "namespace", "shop")["metadata"]["labels"].get("istio-injection") == "enabled"

    # Forward again, every namespace in one batch each, then the old revision goes.
    done = dict(first)
    done.update(istio_revisions_moves=[{"namespaces": ["shop", "payments"], "to": "canary"},
                                       {"namespaces": ["legacy", "batch"], "to": "canary"}],
                istio_revisions_removed=["default"], istio_revisions_default="1-31")
    upgrade(adoption, **done)
    settle(adoption, "shop", "payments", "legacy")  # batch runs only a Job
    for namespace in ("shop", "payments", "legacy"):
        assert sidecar_revisions(adoption, namespace) == ["1-31"], namespace
        assert dry_run_revision(adoption, namespace) == "1-31"
    assert adoption.kubectl.run("-n", "istio-system", "get", "deployment", "istiod", check=False).returncode != 0
    validator = adoption.kubectl.json("get", "validatingwebhookconfiguration", "istiod-default-validator")
    assert validator["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod-1-31"
    assert recap_changed(upgrade(adoption, **done)) == 0
