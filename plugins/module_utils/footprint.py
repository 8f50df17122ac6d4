# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What service mesh is already on a cluster, from its objects: Istio's CRDs, injection webhooks
(Istio's and other meshes'), istiod Deployments and who installed them (Helm, istioctl, the
operator), and how far the running istiod is from the version asked for.

Pure logic on objects as dicts (metadata is enough for CRDs and webhooks), no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Injector webhooks of other meshes, by a part of the MutatingWebhookConfiguration's name or of
# one of its webhooks' names. Two injectors on one pod fight over it.
OTHER_MESH_INJECTORS = (
    ("linkerd", ("linkerd-proxy-injector",)),
    ("Consul", ("consul-connect-injector", "consul-connect-inject")),
    ("Kuma / Kong Mesh", ("kuma-admission-mutating-webhook", "kong-mesh-admission-mutating-webhook")),
    ("Open Service Mesh", ("osm-webhook",)),
    ("AWS App Mesh", ("appmesh-controller", "aws-appmesh-inject")),
)
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
REVISION_TAG_LABEL = "adoptmesh.istio/revision-tag"
ISTIO_OPERATOR_LABELS = ("operator.istio.io/component", "install.operator.istio.io/owning-resource")
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def _metadata(obj):
    return obj.get("metadata") or {}


def _labels(obj):
    return _metadata(obj).get("labels") or {}


def istio_crds(crds):
    """Names of the CRDs of Istio's API groups."""
    return sorted(_metadata(c).get("name") for c in crds
                  if str(_metadata(c).get("name") or "").endswith(".istio.io"))


def _is_istio_webhook(config):
    names = [str(_metadata(config).get("name") or "")] + [str(w.get("name") or "") for w in config.get("webhooks") or []]
    return any("istio" in name for name in names)


def injection_webhooks(configs):
    """(Istio's injector configurations, [{mesh, webhook}] of other meshes' injectors)."""
    istio, others = [], []
    for config in configs:
        name = str(_metadata(config).get("name") or "")
        if _is_istio_webhook(config):
            istio.append({"name": name, "revision": _labels(config).get("istio.io/rev") or "default",
                          "tag": _labels(config).get("istio.io/tag"),
                          "helm_release": (_metadata(config).get("annotations") or {}).get(HELM_RELEASE_ANNOTATION),
                          # Revision tags the upgrade playbook renders from Istio's chart and applies.
                          "by_collection": REVISION_TAG_LABEL in _labels(config)})
            continue
        names = [name] + [str(w.get("name") or "") for w in config.get("webhooks") or []]
        for mesh, markers in OTHER_MESH_INJECTORS:
            if any(marker in candidate for candidate in names for marker in markers):
                others.append({"mesh": mesh, "webhook": name})
                break
    return sorted(istio, key=lambda w: w["name"]), others


def installer(obj):
    """Who installed an Istio object: Helm (with the release), or istioctl / the operator, or unknown.

    Istio's charts label what they render (operator.istio.io/component, managed-by Helm) whoever
    renders them, istioctl included; only Helm itself adds the release annotation."""
    annotations = _metadata(obj).get("annotations") or {}
    labels = _labels(obj)
    if annotations.get(HELM_RELEASE_ANNOTATION):
        return "helm", annotations.get(HELM_RELEASE_ANNOTATION)
    if any(label in labels for label in ISTIO_OPERATOR_LABELS) or labels.get("app.kubernetes.io/managed-by") == "Helm":
        return "istioctl or the Istio operator", None
    return "unknown", None


def _image_tag(deployment):
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])
    for container in containers:
        image = str(container.get("image") or "")
        if "pilot" in image and ":" in image.rsplit("/", 1)[-1]:
            return image.rsplit(":", 1)[-1]
    return None


def istiod_version(deployment):
    """The Istio version an istiod Deployment runs: its image tag when that is a version, else
    what its chart labels say (istioctl's dev builds label every chart 1.0.0), or None."""
    tag = _image_tag(deployment)
    if tag and _VERSION_RE.match(tag):
        return tag
    labels = _labels(deployment)
    chart = str(labels.get("helm.sh/chart") or "")
    if chart.startswith("istiod-"):
        return chart[len("istiod-"):]
    return labels.get("app.kubernetes.io/version") or tag


def minor_version(version):
    match = _VERSION_RE.search(str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_skew(running, wanted):
    """A sentence about the skew between a running istiod and the version asked for, or None.
    Istio upgrades in place one minor version at a time (canary upgrades two)."""
    have, want = minor_version(running), minor_version(wanted)
    if not have or not want or running == wanted:
        return None
    if want < have:
        return "istiod {0} runs, {1} was asked for: a downgrade".format(running, wanted)
    jump = (want[0] - have[0]) * 100 + want[1] - have[1]
    if jump > 1:
        return ("istiod {0} runs, {1} was asked for: {2} minor versions at once; Istio upgrades in place one "
                "minor version at a time (use a canary revision)".format(running, wanted, jump))
    return "istiod {0} runs, {1} was asked for: an upgrade".format(running, wanted)


def istiods(deployments):
    """The istiod Deployments: namespace, name, revision, version, installer."""
    found = []
    for deployment in deployments:
        metadata = _metadata(deployment)
        by, release = installer(deployment)
        found.append({"namespace": metadata.get("namespace"), "name": metadata.get("name"),
                      "revision": _labels(deployment).get("istio.io/rev") or "default",
                      "version": istiod_version(deployment), "installed_by": by, "helm_release": release})
    return sorted(found, key=lambda d: (d["namespace"], d["name"]))


def footprint(crds, webhook_configs, deployments, wanted_version=None):
    """Everything above in one dict, with `foreign` (Istio parts no Helm release owns) and
    `skew` (one sentence per istiod whose version differs from wanted_version)."""
    istio_webhooks, other_meshes = injection_webhooks(webhook_configs)
    control_planes = istiods(deployments)
    foreign = ["Deployment {0}/{1} (installed by {2})".format(d["namespace"], d["name"], d["installed_by"])
               for d in control_planes if d["installed_by"] != "helm"]
    foreign += ["MutatingWebhookConfiguration {0}".format(w["name"]) for w in istio_webhooks
                if not w["helm_release"] and not w["by_collection"]]
    unowned_crds = [c for c in crds if str(_metadata(c).get("name") or "").endswith(".istio.io")
                    and installer(c)[0] != "helm"]
    if unowned_crds:
        foreign.append("{0} Istio CRD(s) such as {1}".format(len(unowned_crds), _metadata(unowned_crds[0]).get("name")))
    skew = [s for s in (version_skew(d["version"], wanted_version) for d in control_planes) if s] \
        if wanted_version else []
    return {"istio_crds": istio_crds(crds), "istio_webhooks": istio_webhooks, "other_meshes": other_meshes,
            "istiods": control_planes, "foreign": foreign, "skew": skew}
