# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh membership of namespaces and pods: injection labels, sidecar coverage, the STRICT gate.

Pure logic on Kubernetes objects as dicts, no Ansible imports. The modules feed it one LIST per
kind and write only what it says must change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from .errors import InputError, depth_guarded
from .shapes import (DESTINATION_RULE, NAMESPACE, PEER_AUTHENTICATION, POD, SERVICE, WEBHOOK_CONFIGURATION, WORKLOAD,
                     ListOf, check, check_all)

# A workload read to judge its rollout: the kind decides which status fields count.
ROLLOUT = dict(WORKLOAD, kind=str, status=dict(WORKLOAD["status"], conditions=ListOf({"type": str, "reason": str, "message": str})))

INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"
TAG_LABEL = "istio.io/tag"
POD_INJECT_LABEL = "sidecar.istio.io/inject"
SIDECAR_STATUS = "sidecar.istio.io/status"
TLS_MODE_LABEL = "security.istio.io/tlsMode"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"

# Never labelled for injection: the control plane's own namespaces and Kubernetes' system ones.
SYSTEM_NAMESPACES = frozenset(("kube-system", "kube-public", "kube-node-lease", "istio-system"))


def _labels(obj):
    return (obj.get("metadata") or {}).get("labels") or {}


def _annotations(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def _name(obj):
    return (obj.get("metadata") or {}).get("name")


def injection_labels(revision=None):
    """The namespace labels that turn injection on: (labels to set, labels to remove)."""
    if revision and revision != "default":
        # istio-injection wins over istio.io/rev when both are set, so it must go.
        return {REVISION_LABEL: revision}, (INJECTION_LABEL,)
    return {INJECTION_LABEL: "enabled"}, (REVISION_LABEL,)


def namespace_label_patch(namespace, revision=None, enabled=True):
    """The metadata.labels merge patch for one namespace, or None when it is already right."""
    check("Namespace", namespace, NAMESPACE)
    labels = _labels(namespace)
    if enabled and not revision and labels.get(REVISION_LABEL) and INJECTION_LABEL not in labels:
        # Already meshed by a revision and no revision asked for: moving it to the default
        # revision would change who injects its pods. Ask for revision "default" to do that.
        return None
    if enabled:
        wanted, unwanted = injection_labels(revision)
    else:
        wanted, unwanted = {}, (INJECTION_LABEL, REVISION_LABEL)
    patch = {}
    for key, value in wanted.items():
        if labels.get(key) != value:
            patch[key] = value
    for key in unwanted:
        if key in labels:
            patch[key] = None
    return patch or None


# Set on a namespace the first time the collection changes its injection labels: what those labels
# were before (JSON, null for absent), so that a rollback puts them back as they were.
LABELS_BEFORE = "adoptmesh.istio/injection-labels-before"


def injection_record(namespace):
    """The LABELS_BEFORE value for a namespace about to be labelled: its injection labels now."""
    check("Namespace", namespace, NAMESPACE)
    labels = _labels(namespace)
    return json.dumps(dict((key, labels.get(key)) for key in (INJECTION_LABEL, REVISION_LABEL)), sort_keys=True)


@depth_guarded("Namespace")
def labelled_metadata(namespace, revision=None, state="enabled"):
    """The namespace's metadata after labelling (`enabled`), unlabelling (`disabled`) or putting
    back the recorded labels (`restored`), or None when nothing changes. The first change records
    the labels before it; `restored` drops the record. A namespace without a record is not ours
    to restore and is left alone."""
    metadata = check("Namespace", namespace, NAMESPACE).get("metadata") or {}
    labels, annotations = dict(metadata.get("labels") or {}), dict(metadata.get("annotations") or {})
    if state == "restored":
        if LABELS_BEFORE not in annotations:
            return None
        try:
            recorded = json.loads(annotations.pop(LABELS_BEFORE))
            if recorded is not None and not isinstance(recorded, dict):
                raise ValueError("not an object")
            if any(not isinstance(value, (str, type(None))) for value in (recorded or {}).values()):
                raise ValueError("a label value is not a string")
        except (ValueError, RecursionError):
            raise InputError("Namespace", metadata.get("name"), "metadata.annotations[{0}]".format(LABELS_BEFORE),
                             "is not the JSON this collection writes: {0!r}".format(
                                 metadata["annotations"][LABELS_BEFORE][:200]))
        for key in (INJECTION_LABEL, REVISION_LABEL):
            if (recorded or {}).get(key) is None:
                labels.pop(key, None)
            else:
                labels[key] = str(recorded[key])
    else:
        patch = namespace_label_patch(namespace, revision, state == "enabled")
        if patch is None:
            return None
        annotations.setdefault(LABELS_BEFORE, injection_record(namespace))
        for key, value in patch.items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value
    return dict(metadata, labels=labels, annotations=annotations)


def select_namespaces(namespaces, names=(), selected_by_selector=(), protected=()):
    """Split the requested namespaces into (chosen, refused-with-reason, missing)."""
    check_all("Namespace", namespaces, NAMESPACE)
    existing = dict((_name(n), n) for n in namespaces)
    requested = list(dict.fromkeys(list(names) + list(selected_by_selector)))
    chosen, refused, missing = [], [], []
    for name in requested:
        if name not in existing:
            missing.append(name)
        elif name in SYSTEM_NAMESPACES or name in protected:
            refused.append({"namespace": name, "reason": "system or control-plane namespace"})
        else:
            chosen.append(existing[name])
    return chosen, refused, missing


def namespace_injection_enabled(namespace):
    labels = _labels(namespace)
    if labels.get(INJECTION_LABEL) == "disabled":
        return False
    return labels.get(INJECTION_LABEL) == "enabled" or bool(labels.get(REVISION_LABEL))


def opts_out(labels, annotations):
    """Whether a pod opts out of injection as Istio reads it: the label (else the legacy
    annotation) is exactly "false"; any other value, "False" and "0" included, lets the
    namespace decide."""
    value = labels.get(POD_INJECT_LABEL) if POD_INJECT_LABEL in labels else annotations.get(POD_INJECT_LABEL)
    return value == "false"


def pod_sidecar(pod, namespace):
    """(has a sidecar, why not) for one pod."""
    annotations = _annotations(pod)
    if SIDECAR_STATUS in annotations:
        return True, None
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return False, "hostNetwork pods are never injected"
    if opts_out(_labels(pod), annotations):
        return False, "the pod opts out (sidecar.istio.io/inject: false)"
    if namespace is None or not namespace_injection_enabled(namespace):
        return False, "its namespace is not labelled for injection"
    return False, "created before injection was enabled: restart its workload"


def pod_owner(pod):
    """`Kind/name` of the pod's top-level controller as far as the pod tells (ReplicaSet -> its
    Deployment by the pod-template-hash naming convention)."""
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    controller = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if not controller:
        return None
    kind, name = controller.get("kind"), controller.get("name")
    if kind == "ReplicaSet":
        template_hash = _labels(pod).get("pod-template-hash")
        if template_hash and name.endswith("-" + template_hash):
            return "Deployment/" + name[:-len(template_hash) - 1]
    return "{0}/{1}".format(kind, name)


def is_gateway_proxy(pod):
    """Whether a pod is an Istio gateway (Istio's `gateway` injection template, a proxy in router
    mode), not a workload with a sidecar: PeerAuthentication governs sidecars' inbound traffic,
    so gateways count neither for coverage nor for the STRICT gates."""
    if _annotations(pod).get("inject.istio.io/templates") == "gateway":
        return True
    containers = (pod.get("spec") or {}).get("containers") or []
    return any(c.get("name") == "istio-proxy" and "router" in (c.get("args") or [])[:2] for c in containers)


def coverage(namespaces, pods):
    """Per namespace: pods, pods with sidecars, and each pod without one with the reason."""
    check_all("Namespace", namespaces, NAMESPACE)
    check_all("Pod", pods, POD)
    by_name = dict((_name(n), n) for n in namespaces)
    report = {}
    for name in sorted(by_name):
        report[name] = {"injection": namespace_injection_enabled(by_name[name]),
                        "revision": _labels(by_name[name]).get(REVISION_LABEL),
                        "pod_security": _labels(by_name[name]).get(POD_SECURITY_ENFORCE),
                        "pods": 0, "with_sidecar": 0, "without_sidecar": [], "revisions": {}}
    for pod in pods:
        namespace = (pod.get("metadata") or {}).get("namespace")
        if namespace not in report:
            continue
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") or is_gateway_proxy(pod):
            continue  # finished pods and gateways are neither meshed workloads nor a problem
        entry = report[namespace]
        entry["pods"] += 1
        injected, reason = pod_sidecar(pod, by_name.get(namespace))
        if injected:
            entry["with_sidecar"] += 1
            revision = sidecar_revision(pod)
            entry["revisions"][revision] = entry["revisions"].get(revision, 0) + 1
        else:
            entry["without_sidecar"].append({"pod": _name(pod), "owner": pod_owner(pod), "reason": reason})
    for entry in report.values():
        entry["coverage"] = round(100.0 * entry["with_sidecar"] / entry["pods"], 1) if entry["pods"] else None
    return report


def workloads_to_restart(coverage_report):
    """`namespace -> [Kind/name]` of workloads whose running pods lack a sidecar that a restart gives."""
    plan = {}
    for namespace, entry in sorted(coverage_report.items()):
        owners = sorted(set(p["owner"] for p in entry["without_sidecar"]
                            if p["owner"] and p["reason"].startswith("created before")))
        restartable = [o for o in owners if o.split("/")[0] in ("Deployment", "StatefulSet", "DaemonSet")]
        if restartable:
            plan[namespace] = restartable
    return plan


def sidecar_revision(pod):
    """The control-plane revision that injected a pod's sidecar ("default" for the default
    revision), or None without one. Istio's injector writes it as the `istio.io/rev` annotation."""
    annotations = _annotations(pod)
    if SIDECAR_STATUS not in annotations:
        return None
    revision = annotations.get(REVISION_LABEL)
    if not revision:
        try:
            revision = json.loads(annotations[SIDECAR_STATUS]).get("revision")
        except (ValueError, AttributeError):
            revision = None
    return revision or "default"


def revision_tags(webhooks):
    """{tag or revision name: revision} from Istio's injector MutatingWebhookConfigurations: a tag's
    webhook carries `istio.io/tag`, a revision's its `istio.io/rev`; `default` is the revision that
    serves `istio-injection=enabled` (the `default` tag, else the revision-less install)."""
    check_all("MutatingWebhookConfiguration", webhooks, WEBHOOK_CONFIGURATION)
    names = {}
    for webhook in webhooks:
        labels = _labels(webhook)
        revision = labels.get(REVISION_LABEL)
        if not revision:
            continue
        names.setdefault(revision, revision)
        if labels.get(TAG_LABEL):
            names[labels[TAG_LABEL]] = revision
    return names


def serving_revision(namespace, names):
    """The revision whose injector serves a namespace's new pods (tags resolved), or None when the
    namespace does not ask for injection."""
    labels = _labels(namespace)
    if labels.get(INJECTION_LABEL) == "enabled":
        asked = "default"
    elif labels.get(INJECTION_LABEL) is None and labels.get(REVISION_LABEL):
        asked = labels[REVISION_LABEL]
    else:
        return None
    return names.get(asked, asked)


def stale_sidecars(namespaces, pods, names):
    """`namespace -> [Kind/name]` of restartable workloads whose running pods carry a sidecar that
    a new pod would not get: the namespace no longer asks for injection (a rollback), or asks a
    different revision than the one that injected it (a move between revisions)."""
    check_all("Namespace", namespaces, NAMESPACE)
    check_all("Pod", pods, POD)
    by_name = dict((_name(n), n) for n in namespaces)
    plan = {}
    for pod in pods:
        metadata = pod.get("metadata") or {}
        namespace = by_name.get(metadata.get("namespace"))
        revision = sidecar_revision(pod)
        if namespace is None or revision is None or is_gateway_proxy(pod):
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if _labels(pod).get(POD_INJECT_LABEL) == "true" and serving_revision(namespace, names) is None:
            continue  # the pod asks for its sidecar itself
        if serving_revision(namespace, names) != revision:
            owner = pod_owner(pod)
            if owner and owner.split("/")[0] in ("Deployment", "StatefulSet", "DaemonSet"):
                plan.setdefault(_name(namespace), set()).add(owner)
    return dict((name, sorted(owners)) for name, owners in sorted(plan.items()))


def revision_users(revision, namespaces, pods, names):
    """What still depends on a control-plane revision ("default" for the revision-less one): the
    running pods its injector gave their sidecar, the namespaces whose labels resolve to it (their
    next pods), and the tags that point at it. Removing it is safe only when all three are empty."""
    check_all("Namespace", namespaces, NAMESPACE)
    check_all("Pod", pods, POD)
    using_pods = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if sidecar_revision(pod) == revision:
            using_pods.append("{0}/{1}".format(metadata.get("namespace"), metadata.get("name")))
    using_namespaces = [_name(n) for n in namespaces if serving_revision(n, names) == revision]
    tags = [tag for tag, target in names.items() if target == revision and tag != revision]
    return {"pods": sorted(using_pods), "namespaces": sorted(using_namespaces), "tags": sorted(tags)}


def rollout_state(workload):
    """(complete, failure) of a rollout as `kubectl rollout status` judges it; failure is a
    message once a Deployment has exceeded its progress deadline."""
    check(workload.get("kind") if isinstance(workload, dict) and isinstance(workload.get("kind"), str) else "workload",
          workload, ROLLOUT)
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 0):
        return False, None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return False, "exceeded its progress deadline: {0}".format(condition.get("message") or "no message")
    if workload["kind"] == "DaemonSet":
        wanted = status.get("desiredNumberScheduled", 0)
        return status.get("updatedNumberScheduled", 0) >= wanted and status.get("numberAvailable", 0) >= wanted, None
    replicas = spec.get("replicas", 1)
    if status.get("updatedReplicas", 0) < replicas:
        return False, None
    if workload["kind"] == "StatefulSet":
        return (status.get("readyReplicas", 0) >= replicas
                and status.get("currentRevision") == status.get("updateRevision")), None
    return status.get("availableReplicas", 0) >= replicas and status.get("replicas", 0) <= replicas, None


def peer_authentication_modes(peer_authentications, root_namespace="istio-system"):
    """Namespace -> mode of its namespace-wide PeerAuthentication ("default", no selector), plus
    the mesh-wide mode under the key None."""
    check_all("PeerAuthentication", peer_authentications, PEER_AUTHENTICATION)
    modes = {}
    for item in peer_authentications:
        metadata = item.get("metadata") or {}
        spec = item.get("spec") or {}
        if spec.get("selector"):
            continue
        mode = ((spec.get("mtls") or {}).get("mode")) or "UNSET"
        if metadata.get("namespace") == root_namespace:
            modes[None] = mode
        else:
            modes[metadata.get("namespace")] = mode
    return modes


# TLS settings of a DestinationRule under which a client sidecar does not send Istio mTLS, so a
# STRICT destination refuses it (MUTUAL presents the user's own certificate, not the mesh's).
TLS_BREAKING_MODES = ("DISABLE", "SIMPLE", "MUTUAL")


def resolve_rule_host(host, rule_namespace, cluster_domain="cluster.local"):
    """The host a DestinationRule names, as Istio resolves it (ResolveShortnameToFQDN): a name
    without a dot is a Service of the rule's own namespace; anything with a dot is taken as is."""
    if not host or host == "*" or "." in host:
        return host
    return "{0}.{1}.svc.{2}".format(host, rule_namespace, cluster_domain)


def rule_host_covers_namespace(host, namespace, cluster_domain="cluster.local"):
    """Whether a (resolved) DestinationRule host matches any Service FQDN of a namespace
    (`<service>.<namespace>.svc.<domain>`), with Istio's wildcard matching: `*` matches every
    host, `*.suffix` every host ending in `.suffix` (so `*.local` and `*.svc.cluster.local`
    cover every namespace)."""
    services = "{0}.svc.{1}".format(namespace, cluster_domain)
    if host == "*":
        return True
    if host.startswith("*."):
        suffix = host[2:]
        # <service>.<namespace>.svc.<domain> ends with .suffix for some service name exactly when
        # the suffix is the namespace part or a label-aligned tail of it.
        return services == suffix or ("." + services).endswith("." + suffix)
    return host.endswith("." + services) and "." not in host[:-len(services) - 1]


def _tls_modes(policy):
    policy = policy or {}
    modes = [(policy.get("tls") or {}).get("mode")]
    modes += [(p.get("tls") or {}).get("mode") for p in policy.get("portLevelSettings") or [] if isinstance(p, dict)]
    return modes


def tls_disabling_rules(destination_rules, namespace, cluster_domain="cluster.local"):
    """DestinationRules whose TLS settings (top level, per port or per subset) would make client
    sidecars talk to a namespace without Istio mTLS, which STRICT refuses."""
    check_all("DestinationRule", destination_rules, DESTINATION_RULE)
    found = []
    for rule in destination_rules:
        spec = rule.get("spec") or {}
        modes = _tls_modes(spec.get("trafficPolicy"))
        for subset in spec.get("subsets") or []:
            if isinstance(subset, dict):
                modes += _tls_modes(subset.get("trafficPolicy"))
        if not any(mode in TLS_BREAKING_MODES for mode in modes):
            continue
        rule_namespace = (rule.get("metadata") or {}).get("namespace")
        host = resolve_rule_host(str(spec.get("host") or ""), rule_namespace, cluster_domain)
        if rule_host_covers_namespace(host, namespace, cluster_domain):
            found.append("{0}/{1}".format(rule_namespace, _name(rule)))
    return sorted(found)


def strict_decision(namespace, coverage_entry, blocking_probes, disabling_rules, force=False, unverified=()):
    """Whether a namespace may go STRICT, and every reason it may not. `unverified` are the
    things the gate could not read for it: each keeps it out like a failed check."""
    reasons = ["could not verify: {0}".format(reason) for reason in unverified]
    if not coverage_entry["injection"]:
        reasons.append("the namespace is not labelled for injection")
    for pod in coverage_entry["without_sidecar"]:
        reasons.append("pod {0} has no sidecar: {1}".format(pod["pod"], pod["reason"]))
    for probe in blocking_probes:
        reasons.append("probe {0} of {1} ({2}) would fail under STRICT: {3}".format(
            probe["probe"], probe["workload"], probe["container"], probe["reason"]))
    for rule in disabling_rules:
        reasons.append("DestinationRule {0} sets TLS DISABLE/SIMPLE/MUTUAL toward it".format(rule))
    return {"namespace": namespace, "strict": not reasons or force, "forced": bool(reasons) and force,
            "reasons": reasons}


def meshed_namespaces(coverage_report):
    """Namespaces with sidecars now or at the next restart (labelled, or a pod has one)."""
    return sorted(name for name, entry in coverage_report.items() if entry["injection"] or entry["with_sidecar"])


def mesh_wide_blockers(coverage_report, namespace_modes, decisions):
    """Why the mesh-wide PeerAuthentication may not go STRICT: every meshed namespace without
    a namespace-wide policy of its own would inherit it, so each must pass the gate (its
    decision); a namespace already STRICT is fine, and one that keeps its own PERMISSIVE or
    DISABLE policy is not affected. Returns [{namespace, reasons}] (empty: safe)."""
    by_namespace = dict((d["namespace"], d) for d in decisions)
    blockers = []
    for name in meshed_namespaces(coverage_report):
        own = namespace_modes.get(name)
        decision = by_namespace.get(name)
        if own == "STRICT" or (decision and decision["strict"]):
            continue
        if own and own != "UNSET":
            continue  # its own policy wins over the mesh-wide one
        reasons = decision["reasons"] if decision else ["not checked"]
        blockers.append({"namespace": name, "reasons": reasons})
    return blockers


UNMESHED_LISTED = 5


def unmeshed_callers(coverage_report, not_calling_mesh=()):
    """Namespaces whose running pods have no sidecar, as mesh-wide STRICT blockers: those pods
    speak plaintext, and under mesh-wide STRICT every call they make into a meshed namespace
    that inherits it is refused. Namespaces the user lists in `not_calling_mesh` are left out;
    system namespaces are not in the coverage report. Returns [{namespace, reasons, unmeshed_pods}]."""
    quiet = set(not_calling_mesh or ())
    blockers = []
    for name, entry in sorted(coverage_report.items()):
        pods = [p["pod"] for p in entry["without_sidecar"]]
        if not pods or name in quiet:
            continue
        more = len(pods) - UNMESHED_LISTED
        listed = ", ".join(pods[:UNMESHED_LISTED]) + (" and {0} more".format(more) if more > 0 else "")
        blockers.append({"namespace": name, "unmeshed_pods": pods, "reasons": [
            "{0} running pod(s) without a sidecar ({1}) would have every plaintext call into the mesh refused; "
            "mesh them, or list the namespace as not calling the mesh".format(len(pods), listed)]})
    return blockers


def strict_peer_authentication(namespace, mode="STRICT"):
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "adoptmesh.istio"}},
            "spec": {"mtls": {"mode": mode}}}


# Port-name prefixes (and appProtocol values) Istio reads as a protocol declaration.
ISTIO_PROTOCOLS = frozenset(("http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo", "mysql", "redis",
                             "udp", "h2c"))


def _declares_protocol(port):
    app_protocol = str(port.get("appProtocol") or "").lower()
    if app_protocol:
        return app_protocol.rsplit("/", maxsplit=1)[-1] in ISTIO_PROTOCOLS or app_protocol.startswith("kubernetes.io/")
    name = str(port.get("name") or "").lower()
    if name in ISTIO_PROTOCOLS:
        return True
    return any(name.startswith(protocol + "-") for protocol in ISTIO_PROTOCOLS)


def services_without_protocol(services):
    """Service ports that declare no protocol: Istio then sniffs them, which server-first
    protocols (MySQL, many TCP databases) do not survive."""
    check_all("Service", services, SERVICE)
    found = []
    for service in services:
        metadata = service.get("metadata") or {}
        for port in (service.get("spec") or {}).get("ports") or []:
            if not _declares_protocol(port):
                found.append({"service": "{0}/{1}".format(metadata.get("namespace"), metadata.get("name")),
                              "port": port.get("port"), "name": port.get("name") or ""})
    return found


def jobs_that_may_not_finish(workloads, namespaces, to_be_meshed=()):
    """Jobs and CronJobs whose pods would get a sidecar (in namespaces injected now or about to be):
    without native sidecars (Istio 1.27+ on Kubernetes 1.33+ nodes) the sidecar keeps the pod
    running after the job's container ends."""
    check_all("Namespace", namespaces, NAMESPACE)
    check_all("workload", workloads, WORKLOAD)
    injected_namespaces = set(_name(n) for n in namespaces if namespace_injection_enabled(n)) | set(to_be_meshed)
    found = []
    for workload in workloads:
        kind = workload.get("kind")
        metadata = workload.get("metadata") or {}
        if kind not in ("Job", "CronJob") or metadata.get("namespace") not in injected_namespaces:
            continue
        if kind == "Job" and any(o.get("kind") == "CronJob" for o in metadata.get("ownerReferences") or []):
            continue  # reported through its CronJob
        spec = workload.get("spec") or {}
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") if kind == "CronJob" \
            else spec.get("template")
        template_metadata = (template or {}).get("metadata") or {}
        if opts_out(template_metadata.get("labels") or {}, template_metadata.get("annotations") or {}):
            continue
        found.append("{0}/{1}/{2}".format(metadata.get("namespace"), kind, metadata.get("name")))
    return sorted(found)
