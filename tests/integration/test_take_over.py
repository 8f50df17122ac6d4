"""Taking an Istio installed with `istioctl install` under Helm, without injection ever stopping."""

import threading
import time

import pytest

from conftest import ISTIO_CHART_VERSIONS, Tool, own_plane, recap_changed
from test_adoption_playbook import Adoption


@pytest.fixture(scope="module")
def adoption(tmp_path_factory):
    with own_plane("takeover") as plane:
        yield Adoption(plane, tmp_path_factory.mktemp("takeover"))


def injects(adoption, namespace="shop"):
    """Whether Istio's injector gives a new pod of the namespace a sidecar (a server-side dry run)."""
    answer, refusal = adoption.new_pod(namespace)
    if answer is None:
        return "refused: " + refusal
    names = [c["name"] for c in answer["spec"]["containers"]]
    return "istio-proxy" in names or "no sidecar"


class InjectionWatch:
    """Asks the injector again and again while a playbook runs; every answer is kept."""

    def __init__(self, adoption):
        self.adoption, self.answers, self.running = adoption, [], True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            self.answers.append(injects(self.adoption))
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.thread.join(30)
        return self.answers


def test_an_istioctl_install_is_taken_under_helm_and_injection_never_stops(adoption):
    istioctl = Tool("istioctl", adoption.plane)
    istioctl.run("install", "-y", "--set", "profile=minimal", "--readiness-timeout", "3m")
    adoption.seed()
    adoption.kubectl.run("label", "namespace", "shop", "istio-injection=enabled")
    assert injects(adoption) is True
    deployment = adoption.kubectl.json("-n", "istio-system", "get", "deployment", "istiod")
    assert "meta.helm.sh/release-name" not in deployment["metadata"].get("annotations", {})

    # Without a take-over the install is refused, and the message names it and the two ways on.
    version = {"adoptmesh_istio_version": ISTIO_CHART_VERSIONS[1]}
    output = adoption.run("-e", "adoption_stage=install", expect_failure=True, **version)
    assert "no Helm release owns Deployment istio-system/istiod (installed by istioctl or the Istio operator)" in output
    assert "adoptmesh_take_over" in output and "upgrade-istio.yml" in output
    # A take-over keeps the revision.
    output = adoption.run("-e", "adoption_stage=install", expect_failure=True, adoptmesh_take_over=True,
                          adoptmesh_revision="1-31", **version)
    assert "the istiod to take over is revision default and the install stage would install 1-31" in output

    # istioctl made the `default` revision tag; the take-over stops, naming it, until the release renders it too.
    output = adoption.run("-e", "adoption_stage=install", expect_failure=True, adoptmesh_take_over=True, **version)
    assert "revision tag(s) default of revision default were made by istioctl" in output
    deployment = adoption.kubectl.json("-n", "istio-system", "get", "deployment", "istiod")
    assert "meta.helm.sh/release-name" not in deployment["metadata"].get("annotations", {})

    version["adoptmesh_revision_tags"] = ["default"]
    watch = InjectionWatch(adoption)
    try:
        output = adoption.run("-e", "adoption_stage=install", adoptmesh_take_over=True, **version)
    finally:
        answers = watch.stop()
    assert "the install stage takes under Helm: Deployment istio-system/istiod" in output
    assert len(answers) > 10 and set(answers) == {True}, [a for a in answers if a is not True][:3]
    deployment = adoption.kubectl.json("-n", "istio-system", "get", "deployment", "istiod")
    assert deployment["metadata"]["annotations"]["meta.helm.sh/release-name"] == "istiod"
    for name in ("istio-sidecar-injector", "istio-revision-tag-default"):
        webhook = adoption.kubectl.json("get", "mutatingwebhookconfiguration", name)
        assert webhook["metadata"]["annotations"]["meta.helm.sh/release-name"] == "istiod", name

    # From now on it is a Helm install like any other: no take-over needed, stages re-run clean.
    adoption.run("-e", "adoption_stage=inject", **version)
    assert injects(adoption) is True and injects(adoption, "payments") is True
    assert recap_changed(adoption.run("-e", "adoption_stage=inject", **version)) == 0
