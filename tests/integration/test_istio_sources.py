"""Where Istio's charts come from (OCI and HTTP, digest pins, a registry that does not answer) and
what Istio itself checks before an install (Kubernetes range, Gateway API bundle, retired image
registries), on a plane of their own. The digests are the registry's and Helm's index's own."""

import json
import os
import time
import urllib.request

import pytest
import yaml

from conftest import ISTIO_CHART_VERSIONS, REPO, Tool, own_plane, recap_changed
from test_adoption_playbook import Adoption
from test_fail_closed import SilentServer

VERSION = ISTIO_CHART_VERSIONS[1]
OLD_GATEWAY_API = os.path.join(REPO, ".build", "content", "crds", "gateway-api-standard-v1.4.1.yaml")


@pytest.fixture(scope="module")
def adoption(tmp_path_factory):
    with own_plane("sources") as plane:
        adoption = Adoption(plane, tmp_path_factory.mktemp("sources"))
        adoption.seed()
        yield adoption


def registry_digest(plane, chart, version):
    """The manifest digest as the OCI registry itself gives it (Docker-Content-Digest)."""
    location = plane.charts_oci.replace("oci://", "http://", 1).split("/", 3)
    url = "{0}//{1}/v2/{2}/{3}/manifests/{4}".format(location[0], location[2], location[3], chart, version)
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers["Docker-Content-Digest"]


def index_digest(plane, chart, version):
    """The archive digest the HTTP repository's index.yaml (written by `helm repo index`) lists."""
    with urllib.request.urlopen(plane.charts_url + "/index.yaml", timeout=10) as answer:
        index = yaml.safe_load(answer.read())
    return "sha256:" + [e for e in index["entries"][chart] if e["version"] == version][0]["digest"]


def charts_task(source, **options):
    arguments = {"source": source, "version": VERSION, "charts": ["base", "istiod"],
                 "binary_path": os.path.join(REPO, ".build", "bin", "helm")}
    arguments.update(options)
    return {"name": "Check the charts", "register": "checked", "adoptmesh.istio.istio_charts": arguments}


def releases(adoption):
    helm = Tool("helm", adoption.plane)
    return dict((r["name"], r["chart"]) for r in json.loads(helm.run("list", "-A", "-o", "json").stdout))


def test_an_old_gateway_api_bundle_warns_and_stops_the_gateway_api_ingress_stage_before_any_write(adoption):
    adoption.kubectl.run("apply", "-f", OLD_GATEWAY_API)
    output = adoption.run("-e", "adoption_stage=preflight", adoptmesh_istio_version=VERSION)
    assert "the Gateway API CRDs are bundle v1.4.1; Istio {0} needs v1.5.0 or newer".format(VERSION) in output
    report = adoption.report()
    assert report["istio_sources"]["gateway_api"]["version"] == "v1.4.1"
    assert report["istio_sources"]["chart_source"] == adoption.plane.charts_oci
    assert report["istio_sources"]["kubernetes_range"] == ["1.32", "1.36"]
    assert "## Istio sources and compatibility" in adoption.report_markdown()

    output = adoption.run("-e", "adoption_stage=ingress", expect_failure=True, adoptmesh_istio_version=VERSION,
                          ingress_gateway_output_api="gateway-api")
    assert "cluster cluster-a: the Gateway API CRDs are bundle v1.4.1" in output
    assert "the ingress stage will use Gateway API objects" in output
    assert releases(adoption) == {}
    # Newer CRDs open the way again.
    adoption.kubectl.run("apply", "--server-side", "--force-conflicts", "-f",
                         os.path.join(REPO, ".build", "content", "crds", "gateway-api-standard.yaml"))
    output = adoption.run("-e", "adoption_stage=preflight", adoptmesh_istio_version=VERSION,
                          ingress_gateway_output_api="gateway-api")
    assert "bundle v1.4.1" not in output


def test_a_kubernetes_outside_the_istio_range_fails_preflight_naming_what_to_change(adoption):
    output = adoption.run("-e", "adoption_stage=preflight", expect_failure=True, adoptmesh_istio_version="1.29.2")
    assert "Kubernetes v1.36.3 is outside Istio 1.29.2's supported range 1.31 to 1.35" in output
    assert "Istio 1.30 or 1.31 supports Kubernetes 1.36" in output
    assert "## Istio sources and compatibility" in adoption.report_markdown()


def test_a_registry_that_does_not_answer_fails_the_install_stage_within_its_timeout_naming_it(adoption):
    silent = SilentServer()
    try:
        started = time.monotonic()
        output = adoption.run("-e", "adoption_stage=install", expect_failure=True, adoptmesh_istio_version=VERSION,
                              adoptmesh_chart_source="oci://127.0.0.1:{0}/istio/release/charts".format(silent.port),
                              adoptmesh_chart_timeout=4)
        took = time.monotonic() - started
    finally:
        silent.close()
    assert "chart source oci://127.0.0.1:{0}/istio/release/charts (127.0.0.1:{0}) did not answer within 4 s".format(
        silent.port) in output
    # Not a timed assertion of speed: a hang would be stopped by the test runner's own timeout (900 s).
    assert took < 300, took
    assert releases(adoption) == {}


def test_digest_pins_are_checked_against_the_registry_and_the_http_index(adoption, playbook_for):
    oci, http = adoption.plane.charts_oci, adoption.plane.charts_url

    def checked(source, **options):
        return playbook_for(adoption).run([charts_task(source, **options)])[0]["checked"]

    def refused(source, **options):
        return playbook_for(adoption).run([charts_task(source, **options)], expect_failure=True)[1]

    base_digest, istiod_digest = (registry_digest(adoption.plane, chart, VERSION) for chart in ("base", "istiod"))
    result = checked(oci, plain_http=True, digests={"istiod": istiod_digest})
    assert result["kind"] == "oci"
    assert result["charts"]["istiod"]["chart_ref"] == "{0}/istiod@{1}".format(oci, istiod_digest)
    assert result["charts"]["base"]["digest"] == base_digest
    assert result["charts"]["base"]["chart_ref"] == oci + "/base"

    # Helm resolves the version's tag and refuses a pin that is not its digest.
    output = refused(oci, plain_http=True, digests={"istiod": base_digest})
    assert "cannot pull chart istiod {0}".format(VERSION) in output
    assert "digest mismatch: {0} is not {1}".format(istiod_digest, base_digest) in output
    # The pin of another version of the chart is refused too.
    old_istiod = registry_digest(adoption.plane, "istiod", ISTIO_CHART_VERSIONS[0])
    output = refused(oci, plain_http=True, digests={"istiod": old_istiod})
    assert "digest mismatch: {0} is not {1}".format(istiod_digest, old_istiod) in output

    http_digest = index_digest(adoption.plane, "istiod", VERSION)
    assert checked(http, digests={"istiod": http_digest})["charts"]["istiod"] == {
        "chart_ref": "istiod", "chart_repo_url": http, "chart_version": VERSION,
        "location": "{0}/istiod-{1}.tgz".format(http, VERSION), "digest": http_digest}
    assert "but {0} is pinned".format(base_digest) in refused(http, digests={"istiod": base_digest})
    # A version the source does not have is named with the source.
    output = refused(oci, plain_http=True, version="9.9.9")
    assert "cannot pull chart base 9.9.9 at {0}/base:9.9.9".format(oci) in output


def test_install_from_the_http_repository_then_the_same_charts_pinned_over_oci_change_nothing(adoption):
    http = {"adoptmesh_istio_version": VERSION, "adoptmesh_chart_source": adoption.plane.charts_url,
            "adoptmesh_chart_plain_http": False}
    output = adoption.run("-e", "adoption_stage=install", "--check", **http)
    assert releases(adoption) == {}
    output = adoption.run("-e", "adoption_stage=install", **http)
    assert releases(adoption) == {"istio-base": "base-" + VERSION, "istiod": "istiod-" + VERSION}
    output = adoption.run("-e", "adoption_stage=install", **http)
    assert recap_changed(output) == 0, output
    pins = dict((chart, registry_digest(adoption.plane, chart, VERSION)) for chart in ("base", "istiod"))
    output = adoption.run("-e", "adoption_stage=install", "-v", adoptmesh_istio_version=VERSION,
                          adoptmesh_chart_digests=pins)
    assert recap_changed(output) == 0, output
    assert "istiod@" + pins["istiod"] in output


def test_images_from_a_retired_registry_are_named_with_the_value_to_change(adoption):
    helm = Tool("helm", adoption.plane)
    helm.run("upgrade", "istiod", adoption.plane.charts_oci + "/istiod", "--plain-http", "--version", VERSION,
             "-n", "istio-system", "--reuse-values", "--set", "global.hub=gcr.io/istio-release", "--wait")
    adoption.kubectl.run("create", "namespace", "legacy-shop")
    adoption.kubectl.run("label", "namespace", "legacy-shop", "istio-injection=enabled")
    adoption.kubectl.run("-n", "legacy-shop", "create", "deployment", "web", "--image=nginx")
    adoption.kubectl.run("-n", "legacy-shop", "rollout", "status", "deployment/web", "--timeout=120s")
    pod = adoption.kubectl.json("-n", "legacy-shop", "get", "pods")["items"][0]
    proxy = [c for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []) if c["name"] == "istio-proxy"]
    assert proxy and proxy[0]["image"].startswith("gcr.io/istio-release/proxyv2:"), pod["spec"]

    output = adoption.run("-e", "adoption_stage=preflight", adoptmesh_istio_version=VERSION)
    assert ("Deployment istio-system/istiod, Deployment legacy-shop/web pull Istio images from gcr.io/istio-release, "
            "which Istio retired") in output
    assert "set the charts' hub to docker.io/istio (values global.hub, or hub)" in output
    sources = adoption.report()["istio_sources"]
    assert sources["image_registries"] == ["gcr.io/istio-release"]
    assert [f["code"] for f in sources["findings"]] == ["retired-image-registry"]


@pytest.fixture
def playbook_for(tmp_path):
    from conftest import Playbook

    def make(adoption):
        return Playbook(adoption.plane, tmp_path)
    return make
