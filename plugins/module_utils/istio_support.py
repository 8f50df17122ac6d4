# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Istio itself checks before an install or upgrade (`istioctl x precheck`, `istioctl
analyze`), as findings the preflight can raise before anything is written:

- the Kubernetes version against the target Istio minor's supported range;
- the installed Gateway API CRD bundle against the bundle the target Istio needs;
- proxies older than the control plane skew Istio supports;
- images pulled from registries Istio retired.

The table below is the one home of these facts. Source: Istio's "Supported Releases" page
(https://istio.io/latest/docs/releases/supported-releases/, support status table and the
control plane / data plane skew section) and the release notes of 1.30 (Gateway API v1.5
required; `istioctl analyze` IST0176 since 1.30.1) and 1.31 (charts and images moved).

Pure logic on objects as dicts, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.adoptmesh.istio.plugins.module_utils.findings import ERROR, INFO, WARNING, Finding

SUPPORT_SOURCE = "https://istio.io/latest/docs/releases/supported-releases/"

# Istio minor -> supported Kubernetes minors (oldest, newest) and the oldest Gateway API CRD
# bundle it works with (None: Istio documents no minimum for that minor).
SUPPORT = {
    (1, 26): {"kubernetes": ((1, 29), (1, 33)), "gateway_api": None},
    (1, 27): {"kubernetes": ((1, 29), (1, 33)), "gateway_api": None},
    (1, 28): {"kubernetes": ((1, 30), (1, 34)), "gateway_api": None},
    (1, 29): {"kubernetes": ((1, 31), (1, 35)), "gateway_api": None},
    (1, 30): {"kubernetes": ((1, 32), (1, 36)), "gateway_api": (1, 5, 0)},
    (1, 31): {"kubernetes": ((1, 32), (1, 36)), "gateway_api": (1, 5, 0)},
}
# The control plane may be this many minor versions newer than the proxies it serves; a proxy
# newer than the control plane is not supported at all.
PROXY_SKEW = 1
RETIRED_IMAGE_REGISTRIES = ("gcr.io/istio-release", "registry.istio.io")
CURRENT_HUB = "docker.io/istio"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
BUNDLE_VERSION_ANNOTATION = "gateway.networking.k8s.io/bundle-version"
CHANNEL_ANNOTATION = "gateway.networking.k8s.io/channel"
PROXY_CONTAINER = "istio-proxy"

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text):
    """(major, minor, patch) of 'v1.36.3', '1.31.0-dev.x', '1.28.1-distroless', or None."""
    match = _VERSION_RE.match(str(text or "").strip()) if isinstance(text, str) else None
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def _minor(version):
    parsed = parse_version(version)
    return parsed[:2] if parsed else None


def _fmt(minor):
    return "{0}.{1}".format(*minor)


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def support_range(istio_version):
    """(oldest, newest) Kubernetes minor for an Istio version, or None when the table has no row."""
    row = SUPPORT.get(_minor(istio_version))
    return row["kubernetes"] if row else None


def kubernetes_support(istio_version, kubernetes_version, cluster="cluster"):
    """A Finding about the Kubernetes version against the target Istio's range, or None when in range."""
    istio_minor, kube_minor = _minor(istio_version), _minor(kubernetes_version)
    if istio_minor is None or kube_minor is None:
        return Finding("cluster", cluster, WARNING, "kubernetes-version-unknown",
                       "cannot compare Kubernetes {0!r} with Istio {1!r}: not a version".format(
                           kubernetes_version, istio_version))
    row = SUPPORT.get(istio_minor)
    if row is None:
        known = sorted(SUPPORT)
        message = "Istio {0} is not in the support table (Istio {1} to {2}, from {3}); Kubernetes {4} was not " \
                  "checked against it".format(istio_version, _fmt(known[0]), _fmt(known[-1]), SUPPORT_SOURCE,
                                              kubernetes_version)
        return Finding("cluster", cluster, WARNING, "istio-version-not-in-support-table", message)
    oldest, newest = row["kubernetes"]
    if oldest <= kube_minor <= newest:
        return None
    supported = [minor for minor, r in sorted(SUPPORT.items())
                 if r["kubernetes"][0] <= kube_minor <= r["kubernetes"][1]]
    hint = ("Istio {0} supports Kubernetes {1}".format(
        " or ".join(_fmt(m) for m in supported), _fmt(kube_minor)) if supported
        else "no Istio minor in the support table supports Kubernetes {0}".format(_fmt(kube_minor)))
    return Finding("cluster", cluster, ERROR, "kubernetes-version-unsupported",
                   "Kubernetes {0} is outside Istio {1}'s supported range {2} to {3} ({4}): {5}; "
                   "{6} Kubernetes or set adoptmesh_istio_version to a release that supports it".format(
                       kubernetes_version, istio_version, _fmt(oldest), _fmt(newest), SUPPORT_SOURCE, hint,
                       "upgrade" if kube_minor < oldest else "use an older"))


def gateway_api_bundle(crds):
    """{version, channel, crds} of the installed Gateway API CRDs (their bundle-version annotation;
    the oldest when they disagree), or None when no Gateway API CRD is installed."""
    versions, channels, names = [], set(), []
    for crd in _list(crds):
        metadata = _dict(_dict(crd).get("metadata"))
        name = metadata.get("name")
        if not isinstance(name, str) or not name.endswith("." + GATEWAY_API_GROUP):
            continue
        names.append(name)
        annotations = _dict(metadata.get("annotations"))
        version = annotations.get(BUNDLE_VERSION_ANNOTATION)
        if parse_version(version):
            versions.append((parse_version(version), version))
        channel = annotations.get(CHANNEL_ANNOTATION)
        if isinstance(channel, str) and channel:
            channels.add(channel)
    if not names:
        return None
    oldest = min(versions)[1] if versions else None
    return {"version": oldest, "channel": ", ".join(sorted(channels)) or None, "crds": sorted(names)}


def gateway_api_support(istio_version, bundle, required, cluster="cluster"):
    """A Finding about the Gateway API bundle against the target Istio's minimum, or None.

    `required`: whether this adoption will use Gateway API objects (Gateway API output or TLS
    passthrough in the ingress stage); an old bundle is then an error, else a warning."""
    row = SUPPORT.get(_minor(istio_version))
    minimum = row["gateway_api"] if row else None
    severity = ERROR if required else WARNING
    why = ("the ingress stage will use Gateway API objects" if required
           else "Istio's Gateway API support (TLSRoute, ReferenceGrant) silently stops working")
    if bundle is None:
        if not required:
            return None
        return Finding("cluster", cluster, ERROR, "gateway-api-crds-missing",
                       "no Gateway API CRDs are installed and {0}: install the Gateway API standard CRDs "
                       "v{1} or newer".format(why, ".".join(str(n) for n in (minimum or (1, 5, 0)))))
    if minimum is None:
        return None
    version = parse_version(bundle.get("version"))
    wanted = "v" + ".".join(str(n) for n in minimum)
    if version is None:
        return Finding("cluster", cluster, severity, "gateway-api-bundle-unknown",
                       "the Gateway API CRDs ({0}) carry no {1} annotation, so Istio {2}'s minimum {3} cannot "
                       "be checked; {4}: install the Gateway API CRDs {3} or newer".format(
                           ", ".join(bundle.get("crds") or []), BUNDLE_VERSION_ANNOTATION, istio_version, wanted, why))
    if version >= minimum:
        return None
    return Finding("cluster", cluster, severity, "gateway-api-bundle-too-old",
                   "the Gateway API CRDs are bundle {0}; Istio {1} needs {2} or newer (istioctl analyze "
                   "IST0176): with older CRDs {3}; install the Gateway API CRDs {2} or newer".format(
                       bundle.get("version"), istio_version, wanted, why))


def image_registry(image):
    """The registry and repository path of an image without its name and tag:
    'docker.io/istio/proxyv2:1.31.0' -> 'docker.io/istio'; 'istio/pilot' -> 'docker.io/istio'."""
    if not isinstance(image, str) or not image:
        return None
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if len(last) == 1:
        return "docker.io/library"
    path = last[0]
    first = path.split("/", 1)[0]
    if "." not in first and ":" not in first and first != "localhost":
        path = "docker.io/" + path
    return path


def image_version(image):
    """The version in an image tag ('.../proxyv2:1.30.3-distroless' -> '1.30.3'), or None."""
    if not isinstance(image, str):
        return None
    name = image.split("@", 1)[0]
    tail = name.rsplit("/", 1)[-1]
    if ":" not in tail:
        return None
    parsed = parse_version(tail.rsplit(":", 1)[1])
    return "{0}.{1}.{2}".format(*parsed) if parsed else None


def _containers(pod_spec):
    spec = _dict(pod_spec)
    return [c for c in _list(spec.get("containers")) + _list(spec.get("initContainers")) if isinstance(c, dict)]


def istio_images(istiods, proxy_pods):
    """Every image Istio's own components run: istiod Deployments' containers, and the istio-proxy
    container of injected pods (sidecars and gateways). [{workload, container, image, registry}]."""
    found = []
    for deployment in _list(istiods):
        metadata = _dict(_dict(deployment).get("metadata"))
        ref = "Deployment {0}/{1}".format(metadata.get("namespace"), metadata.get("name"))
        template = _dict(_dict(_dict(deployment).get("spec")).get("template"))
        for container in _containers(template.get("spec")):
            found.append({"workload": ref, "container": container.get("name"), "image": container.get("image"),
                          "registry": image_registry(container.get("image"))})
    for pod in _list(proxy_pods):
        metadata = _dict(_dict(pod).get("metadata"))
        ref = "Pod {0}/{1}".format(metadata.get("namespace"), metadata.get("name"))
        owner = _owner(metadata)
        for container in _containers(_dict(pod).get("spec")):
            if container.get("name") == PROXY_CONTAINER:
                found.append({"workload": owner or ref, "container": PROXY_CONTAINER, "image": container.get("image"),
                              "registry": image_registry(container.get("image"))})
    unique = {}
    for entry in found:
        unique[(entry["workload"], str(entry["container"]), str(entry["image"]))] = entry
    return [unique[key] for key in sorted(unique)]


def _owner(metadata):
    """'ReplicaSet ns/name' style owner of a pod, folded to its Deployment name when the ReplicaSet
    carries the pod-template hash (so one line per workload, not one per pod)."""
    for ref in _list(metadata.get("ownerReferences")):
        ref = _dict(ref)
        kind, name = ref.get("kind"), ref.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        template_hash = _dict(metadata.get("labels")).get("pod-template-hash")
        if kind == "ReplicaSet" and isinstance(template_hash, str) and name.endswith("-" + template_hash):
            return "Deployment {0}/{1}".format(metadata.get("namespace"), name[:-len(template_hash) - 1])
        return "{0} {1}/{2}".format(kind, metadata.get("namespace"), name)
    return None


def retired_registries(images, cluster="cluster"):
    """One warning per retired registry in use, naming the workloads and the value to change."""
    by_registry = {}
    for entry in images:
        registry = entry.get("registry") or ""
        for retired in RETIRED_IMAGE_REGISTRIES:
            if registry == retired or registry.startswith(retired + "/"):
                by_registry.setdefault(retired, set()).add(entry["workload"])
    findings = []
    for registry, workloads in sorted(by_registry.items()):
        findings.append(Finding(
            "cluster", cluster, WARNING, "retired-image-registry",
            "{0} pull Istio images from {1}, which Istio retired (nothing newer than 1.30.x, being switched "
            "off): set the charts' hub to {2} (values global.hub, or hub) and restart the workloads".format(
                ", ".join(sorted(workloads)), registry, CURRENT_HUB),
            registry=registry, workloads=sorted(workloads)))
    return findings


def proxy_skew(istio_version, images, cluster="cluster"):
    """Findings for proxies (istio-proxy images) older than the skew Istio supports against the
    target control plane, or newer than it."""
    target = _minor(istio_version)
    if target is None:
        return []
    too_old, too_new = {}, {}
    for entry in images:
        if entry.get("container") != PROXY_CONTAINER:
            continue
        version = image_version(entry.get("image"))
        minor = _minor(version)
        if minor is None:
            continue
        gap = (target[0] - minor[0]) * 100 + target[1] - minor[1]
        if gap > PROXY_SKEW:
            too_old.setdefault(version, set()).add(entry["workload"])
        elif gap < 0:
            too_new.setdefault(version, set()).add(entry["workload"])
    old = ("proxy-skew-unsupported", "proxies {0} of {1} are more than {2} minor version older than Istio {3}, the skew "
           "Istio supports ({4}): upgrade in steps (a revision per minor) or restart them onto a closer control plane first")
    new = ("proxy-newer-than-control-plane", "proxies {0} of {1} are newer than Istio {3}; a data plane newer than its "
           "control plane is not supported ({4})")
    return [Finding("cluster", cluster, WARNING, code, text.format(version, ", ".join(sorted(workloads)), PROXY_SKEW,
                                                                   istio_version, SUPPORT_SOURCE),
                    proxy_version=version, workloads=sorted(workloads))
            for (code, text), by_version in ((old, too_old), (new, too_new))
            for version, workloads in sorted(by_version.items())]


def compatibility(istio_version, kubernetes_version, crds, istiods, proxy_pods, gateway_api_required=False,
                  cluster="cluster"):
    """The section the preflight and the report show: versions, range, bundle, registries, and the
    findings (dicts, most severe first)."""
    bundle = gateway_api_bundle(crds)
    images = istio_images(istiods, proxy_pods)
    findings = [kubernetes_support(istio_version, kubernetes_version, cluster),
                gateway_api_support(istio_version, bundle, gateway_api_required, cluster)]
    findings = [f for f in findings if f is not None]
    findings += retired_registries(images, cluster) + proxy_skew(istio_version, images, cluster)
    span = support_range(istio_version)
    row = SUPPORT.get(_minor(istio_version)) or {}
    proxy_versions = sorted(set(v for v in (image_version(e["image"]) for e in images
                                            if e["container"] == PROXY_CONTAINER) if v),
                            key=parse_version)
    return {
        "istio_version": istio_version,
        "kubernetes_version": kubernetes_version,
        "kubernetes_range": [_fmt(span[0]), _fmt(span[1])] if span else None,
        "gateway_api": bundle,
        "gateway_api_minimum": "v" + ".".join(str(n) for n in row["gateway_api"]) if row.get("gateway_api") else None,
        "gateway_api_required": bool(gateway_api_required),
        "image_registries": sorted(set(e["registry"] for e in images if e["registry"])),
        "proxy_versions": proxy_versions,
        "findings": [f.as_dict() for f in sorted(findings, key=lambda f: ({ERROR: 0, WARNING: 1, INFO: 2}[f.severity],
                                                                          f.code))],
        "source": SUPPORT_SOURCE,
    }
