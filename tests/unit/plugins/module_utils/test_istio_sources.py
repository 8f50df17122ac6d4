"""charts.py (chart sources, references, digest pins) and istio_support.py (what Istio checks:
Kubernetes range, Gateway API bundle, proxy skew, retired registries), and their fleet figure."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.adoptmesh.istio.plugins.module_utils import charts, fleet_report, istio_support
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError

DIGEST = "sha256:" + "ab" * 32


# --- chart sources ----------------------------------------------------------------------------

def test_an_oci_source_gives_an_oci_reference_per_chart():
    ref = charts.chart_reference("oci://ghcr.io/istio/release/charts/", "istiod", "1.31.0")
    assert ref == {"chart_ref": "oci://ghcr.io/istio/release/charts/istiod", "chart_repo_url": None,
                   "chart_version": "1.31.0", "location": "oci://ghcr.io/istio/release/charts/istiod:1.31.0"}


def test_a_digest_pin_is_named_in_the_oci_reference():
    ref = charts.chart_reference("oci://127.0.0.1:5000/istio/release/charts", "base", "1.31.0+build.1", DIGEST)
    assert ref["chart_ref"] == "oci://127.0.0.1:5000/istio/release/charts/base@" + DIGEST
    # OCI tags cannot carry '+'; Helm stores it as '_'.
    assert ref["location"].endswith("base:1.31.0_build.1@" + DIGEST)


def test_an_http_source_gives_the_chart_name_and_the_repository_url():
    ref = charts.chart_reference("https://blob.istio.io/istio-release/charts", "gateway", "1.31.0")
    assert ref["chart_ref"] == "gateway"
    assert ref["chart_repo_url"] == "https://blob.istio.io/istio-release/charts"


@pytest.mark.parametrize("source, expected", [
    ("", "must be an oci:// reference"),
    (None, "must be an oci:// reference"),
    (["oci://x"], "must be an oci:// reference"),
    ("ghcr.io/istio/release/charts", "neither an oci:// reference nor an http(s)://"),
    ("s3://bucket/charts", "neither an oci:// reference"),
    ("oci://user:secret@ghcr.io/istio", "carries credentials"),
    ("https://exa_mple.com/charts", "is not a host name"),
    ("oci://ghcr.io/Istio/Charts", "not a valid OCI repository path"),
    ("https://example.com/charts with space", "white space"),
])
def test_a_bad_source_is_refused_naming_the_setting(source, expected):
    with pytest.raises(InputError) as raised:
        charts.parse_source(source)
    assert "adoptmesh_chart_source" in str(raised.value) and expected in str(raised.value)
    # A credential in a URL is never echoed.
    assert "secret" not in str(raised.value)


def test_the_retired_bucket_is_named_with_the_sources_to_use_instead():
    message = charts.retired("https://istio-release.storage.googleapis.com/charts")
    assert "retired" in message and charts.OFFICIAL_OCI in message and charts.OFFICIAL_HTTP in message
    assert charts.retired("oci://gcr.io/istio-release/charts")
    assert charts.retired(charts.OFFICIAL_OCI) is None
    assert charts.retired("https://mirror.example.com/istio-release.storage.googleapis.com") is None


@pytest.mark.parametrize("digests, expected", [
    ({"istiod": "sha256:abc"}, "adoptmesh_chart_digests.istiod"),
    ({"pilot": DIGEST}, "is not one of Istio's charts"),
    ({"istiod": None}, "is not a digest"),
    ("sha256:abc", "must be a mapping"),
    ({"istiod": "SHA256:" + "AB" * 32}, "is not a digest"),
])
def test_bad_digest_pins_are_refused_naming_the_chart(digests, expected):
    with pytest.raises(InputError) as raised:
        charts.check_digests(digests)
    assert expected in str(raised.value)


def test_helm_pull_output_gives_the_manifest_digest():
    output = "Pulled: 127.0.0.1:5000/istio/release/charts/istiod:1.31.0\nDigest: {0}\n".format(DIGEST)
    assert charts.pulled_digest(output) == DIGEST
    assert charts.pulled_digest("Error: not found") is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=80),
                 st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5))),
       st.sampled_from(charts.CHARTS), st.one_of(st.none(), st.text(max_size=20), st.just("1.31.0")))
def test_any_source_and_version_give_a_reference_or_an_input_error(source, chart, version):
    try:
        ref = charts.chart_reference(source, chart, version)
    except InputError:
        return
    assert ref["chart_ref"].endswith(chart) or ref["chart_ref"] == chart


# --- Istio's support table -----------------------------------------------------------------------

def test_kubernetes_inside_the_range_is_fine_and_outside_it_is_an_error_naming_what_to_change():
    assert istio_support.kubernetes_support("1.31.0", "v1.36.3") is None
    assert istio_support.kubernetes_support("1.30.4", "v1.32.0") is None
    too_new = istio_support.kubernetes_support("1.29.2", "v1.36.3+k3s1", "prod-1")
    assert too_new.severity == "error" and too_new.code == "kubernetes-version-unsupported"
    assert too_new.ref == "prod-1"
    assert "outside Istio 1.29.2's supported range 1.31 to 1.35" in too_new.message
    assert "Istio 1.30 or 1.31 supports Kubernetes 1.36" in too_new.message
    assert "adoptmesh_istio_version" in too_new.message and istio_support.SUPPORT_SOURCE in too_new.message
    too_old = istio_support.kubernetes_support("1.31.0", "v1.29.8")
    assert "upgrade Kubernetes" in too_old.message and "Istio 1.26 or 1.27 supports Kubernetes 1.29" in too_old.message


def test_an_istio_the_table_does_not_know_is_a_warning_not_a_guess():
    finding = istio_support.kubernetes_support("1.40.0", "v1.36.0")
    assert finding.severity == "warning" and finding.code == "istio-version-not-in-support-table"
    assert istio_support.kubernetes_support("main", "v1.36.0").code == "kubernetes-version-unknown"


def crd(name, version=None, channel="standard"):
    annotations = {}
    if version:
        annotations[istio_support.BUNDLE_VERSION_ANNOTATION] = version
        annotations[istio_support.CHANNEL_ANNOTATION] = channel
    return {"metadata": {"name": name, "annotations": annotations}}


GATEWAY_API_OLD = [crd("gateways.gateway.networking.k8s.io", "v1.4.1"),
                   crd("httproutes.gateway.networking.k8s.io", "v1.4.1"),
                   crd("peerauthentications.security.istio.io")]


def test_an_old_gateway_api_bundle_is_an_error_when_the_ingress_stage_needs_it_else_a_warning():
    bundle = istio_support.gateway_api_bundle(GATEWAY_API_OLD)
    assert bundle == {"version": "v1.4.1", "channel": "standard",
                      "crds": ["gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"]}
    error = istio_support.gateway_api_support("1.31.0", bundle, required=True)
    assert error.severity == "error" and error.code == "gateway-api-bundle-too-old"
    assert "bundle v1.4.1" in error.message and "v1.5.0 or newer" in error.message and "IST0176" in error.message
    assert istio_support.gateway_api_support("1.31.0", bundle, required=False).severity == "warning"
    assert istio_support.gateway_api_support("1.29.0", bundle, required=True) is None
    new = istio_support.gateway_api_bundle([crd("gateways.gateway.networking.k8s.io", "v1.6.3")])
    assert istio_support.gateway_api_support("1.31.0", new, required=True) is None


def test_mixed_bundles_count_as_the_oldest_and_missing_annotations_cannot_be_checked():
    bundle = istio_support.gateway_api_bundle([crd("gateways.gateway.networking.k8s.io", "v1.6.3"),
                                               crd("grpcroutes.gateway.networking.k8s.io", "v1.4.1")])
    assert bundle["version"] == "v1.4.1"
    unknown = istio_support.gateway_api_bundle([crd("gateways.gateway.networking.k8s.io")])
    finding = istio_support.gateway_api_support("1.30.2", unknown, required=False)
    assert finding.code == "gateway-api-bundle-unknown" and finding.severity == "warning"
    missing = istio_support.gateway_api_support("1.31.0", None, required=True)
    assert missing.code == "gateway-api-crds-missing" and missing.severity == "error"
    assert istio_support.gateway_api_support("1.31.0", None, required=False) is None


def deployment(namespace, name, image):
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"template": {"spec": {"containers": [{"name": "discovery", "image": image}]}}}}


def pod(namespace, name, proxy_image, owner="web-5d4f8"):
    return {"metadata": {"namespace": namespace, "name": name, "labels": {"pod-template-hash": "5d4f8"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": owner}]},
            "spec": {"containers": [{"name": "app", "image": "nginx"},
                                    {"name": "istio-proxy", "image": proxy_image}]}}


def test_retired_registries_are_named_with_the_workloads_and_the_value_to_change():
    images = istio_support.istio_images(
        [deployment("istio-system", "istiod", "gcr.io/istio-release/pilot:1.30.3")],
        [pod("shop", "web-5d4f8-abcde", "gcr.io/istio-release/proxyv2:1.30.3"),
         pod("shop", "web-5d4f8-fghij", "gcr.io/istio-release/proxyv2:1.30.3"),
         pod("pay", "api-1", "registry.istio.io/release/proxyv2:1.30.3-distroless", owner="api"),
         pod("ok", "ok-1", "docker.io/istio/proxyv2:1.31.0", owner="ok")])
    findings = istio_support.retired_registries(images, "prod-1")
    assert [f.details["registry"] for f in findings] == ["gcr.io/istio-release", "registry.istio.io"]
    gcr = findings[0]
    # One line per workload, not per pod.
    assert gcr.details["workloads"] == ["Deployment istio-system/istiod", "Deployment shop/web"]
    assert "global.hub" in gcr.message and istio_support.CURRENT_HUB in gcr.message
    assert findings[1].details["workloads"] == ["ReplicaSet pay/api"]


def test_image_registry_and_version_follow_docker_reference_rules():
    assert istio_support.image_registry("istio/proxyv2:1.31.0") == "docker.io/istio"
    assert istio_support.image_registry("nginx") == "docker.io/library"
    assert istio_support.image_registry("localhost:5000/istio/pilot@sha256:" + "0" * 64) == "localhost:5000/istio"
    assert istio_support.image_version("docker.io/istio/proxyv2:1.30.3-distroless") == "1.30.3"
    assert istio_support.image_version("registry:5000/istio/proxyv2") is None
    assert istio_support.image_version("x/proxyv2:latest") is None


def test_proxies_outside_the_supported_skew_are_named():
    images = istio_support.istio_images([], [pod("a", "a-1", "docker.io/istio/proxyv2:1.29.4", owner="a"),
                                             pod("b", "b-1", "docker.io/istio/proxyv2:1.30.3", owner="b"),
                                             pod("c", "c-1", "docker.io/istio/proxyv2:1.32.0", owner="c")])
    findings = istio_support.proxy_skew("1.31.0", images)
    assert [(f.code, f.details["workloads"]) for f in findings] == [
        ("proxy-skew-unsupported", ["ReplicaSet a/a"]), ("proxy-newer-than-control-plane", ["ReplicaSet c/c"])]


def test_the_compatibility_section_gathers_everything_most_severe_first():
    section = istio_support.compatibility(
        "1.31.0", "v1.36.3", GATEWAY_API_OLD, [deployment("istio-system", "istiod", "gcr.io/istio-release/pilot:1.30.3")],
        [pod("shop", "web-5d4f8-abcde", "gcr.io/istio-release/proxyv2:1.29.0")], gateway_api_required=True,
        cluster="c1")
    assert section["kubernetes_range"] == ["1.32", "1.36"]
    assert section["gateway_api"]["version"] == "v1.4.1" and section["gateway_api_minimum"] == "v1.5.0"
    assert section["image_registries"] == ["gcr.io/istio-release"]
    assert section["proxy_versions"] == ["1.29.0"]
    assert [f["code"] for f in section["findings"]] == [
        "gateway-api-bundle-too-old", "proxy-skew-unsupported", "retired-image-registry"]
    assert all(f["cluster"] == "c1" for f in section["findings"])


ODD = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                             st.floats(allow_nan=True), st.text(max_size=12)),
                   lambda inner: st.one_of(st.lists(inner, max_size=4),
                                           st.dictionaries(st.sampled_from(
                                               ["metadata", "name", "namespace", "annotations", "labels", "spec",
                                                "template", "containers", "initContainers", "image",
                                                "ownerReferences", "kind", istio_support.BUNDLE_VERSION_ANNOTATION,
                                                "pod-template-hash"]), inner, max_size=5)),
                   max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(ODD, ODD, ODD, st.one_of(st.text(max_size=10), st.none(), st.just("1.31.0")),
       st.one_of(st.text(max_size=10), st.none(), st.just(math.nan)))
def test_any_api_answer_gives_a_section_never_a_python_error(crds, istiods, pods, istio_version, kube_version):
    section = istio_support.compatibility(istio_version, kube_version, crds, istiods, pods)
    assert isinstance(section["findings"], list)


# --- the fleet figure ------------------------------------------------------------------------------

def test_the_fleet_figure_sums_up_the_section_and_takes_any_json():
    section = istio_support.compatibility("1.31.0", "v1.36.3", GATEWAY_API_OLD, [], [], cluster="c1")
    figure = fleet_report.istio_sources(dict(section, chart_source="oci://127.0.0.1:5000/istio/release/charts"))
    assert figure == {"checked": True, "version": "1.31.0", "chart_source": "oci://127.0.0.1:5000/istio/release/charts",
                      "gateway_api": "v1.4.1", "errors": 0, "warnings": 1}
    assert fleet_report.istio_sources(None)["checked"] is False
    assert fleet_report.istio_sources({"findings": "x", "gateway_api": 3})["gateway_api"] == "none"
    assert fleet_report.cluster_figures("c1", {"istio_sources": section})["istio_sources"]["warnings"] == 1


def test_the_chart_name_and_version_are_read_from_the_archive(tmp_path):
    import io
    import tarfile

    path = tmp_path / "istiod-1.31.0.tgz"
    with tarfile.open(str(path), "w:gz") as archive:
        for name, text in (("istiod/Chart.yaml", "apiVersion: v2\nname: istiod\nversion: \"1.31.0\"\n"),
                           ("istiod/charts/sub/Chart.yaml", "name: sub\nversion: 9.9.9\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    assert charts.archive_chart(str(path)) == ("istiod", "1.31.0")
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"\x1f\x8b not a gzip stream")
    assert charts.archive_chart(str(broken)) == (None, None)


@pytest.mark.parametrize("findings", [5, 2.5, True, {"severity": "error"}, "error"])
def test_a_report_whose_findings_are_not_a_list_reads_as_no_findings(findings):
    figure = fleet_report.istio_sources({"istio_version": "1.31.0", "findings": findings})
    assert figure["checked"] is True and figure["errors"] == 0 and figure["warnings"] == 0
