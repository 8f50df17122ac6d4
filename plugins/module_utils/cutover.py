# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retiring Ingresses once their gateway serves them, and bringing them back.

The gate (`gate_failures`) opens only on evidence: a translation without error findings, applied
as it is now (every object present and as generated), every credential a valid certificate and
key covering the server's hosts, and every gateway available. Each failure names the host,
Ingress or gateway it is about. The backup (`merge_backup`) keeps every Ingress exactly as read,
and `restored` gives back its spec, labels and annotations. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from .certificates import problems as certificate_problems
from .gateways import readiness
from .ingress import CLASS_ANNOTATION
from .names import is_dns1123_label, is_dns1123_subdomain
from .owned import plan

RETIRED_FROM = "adoptmesh.istio/retired-from-class"
BACKUP_FORMAT = "adoptmesh.istio/ingress-backup/v1"
# What is given back on restore: the object users wrote, not what the API server added.
KEPT_METADATA = ("name", "namespace", "labels", "annotations")


def ref(obj):
    metadata = obj.get("metadata") or {}
    return "{0}/{1}".format(metadata.get("namespace"), metadata.get("name"))


def gate_failures(translation, owned, secrets, gateways, pods, credentials, now=None, replay=None):
    """Why the Ingresses may not be retired yet; empty when they may.

    translation: the ingress_to_gateway result (resources, findings); owned: the objects listed by
    the owner's labels; secrets: {name: Secret or None} of the gateway namespace; gateways:
    {`namespace/name`: Deployment or None}; pods: the gateway namespaces' pods; credentials:
    {credential: hosts} the Gateways name; replay: the traffic_replay result against the same
    translation, if logs were replayed."""
    failures = []
    for finding in translation.get("findings") or []:
        if finding.get("severity") == "error":
            where = finding.get("host") or finding.get("ingress")
            failures.append("{0}: error finding {1}: {2}".format(where, finding.get("code"), finding.get("message")))
    for finding in (replay or {}).get("findings") or []:
        if finding.get("severity") == "error":
            failures.append("{0}: replayed traffic: {1}".format(finding.get("ingress"), finding.get("message")))
    steps = plan(translation.get("resources") or [], owned, prune=False)
    for desired, _live, _known in steps.write:
        failures.append("{0} {1} is not applied as generated; run the ingress stage first".format(
            desired.get("kind"), ref(desired)))
    for credential, hosts in sorted(credentials.items()):
        secret = secrets.get(credential)
        if secret is None:
            failures.extend("host {0}: credential Secret {1} does not exist".format(host, credential) for host in hosts)
            continue
        for host, problem in certificate_problems(secret, hosts, now):
            failures.append("host {0}: credential {1}: {2}".format(host or "(all)", credential, problem))
    for name, deployment in sorted(gateways.items()):
        namespace = name.split("/", 1)[0]
        available, reason = readiness(deployment, [p for p in pods if (p.get("metadata") or {}).get(
            "namespace") == namespace])
        if not available:
            failures.append("gateway {0}: {1}".format(name, reason))
    return failures


def backup_problems(document, cluster):
    """What makes a backup document unusable for this cluster, each naming the field; empty when
    it is a list of Ingresses with names, namespaces and specs, written for this cluster."""
    if not isinstance(document, dict):
        return ["the file holds a {0}, not a backup document".format(type(document).__name__)]
    if document.get("format") != BACKUP_FORMAT:
        return ["format is {0!r}, not {1!r}: not an adoptmesh.istio Ingress backup".format(
            str(document.get("format"))[:80], BACKUP_FORMAT)]
    problems = []
    if document.get("cluster") != cluster:
        problems.append("cluster is {0!r}, not {1!r}: the backup of another cluster".format(
            str(document.get("cluster"))[:80], cluster))
    entries = document.get("ingresses")
    if not isinstance(entries, list):
        return problems + ["ingresses is a {0}, not a list".format(type(entries).__name__)]
    for index, item in enumerate(entries):
        where = "ingresses[{0}]".format(index)
        metadata = item.get("metadata") if isinstance(item, dict) else None
        if not isinstance(metadata, dict):
            problems.append("{0}.metadata is missing or not a mapping".format(where))
            continue
        if not is_dns1123_subdomain(metadata.get("name")):
            problems.append("{0}.metadata.name is not an object name".format(where))
        if not is_dns1123_label(metadata.get("namespace")):
            problems.append("{0}.metadata.namespace is not a namespace name".format(where))
        if not isinstance(item.get("spec"), dict):
            problems.append("{0}.spec is missing or not a mapping".format(where))
        for field in ("labels", "annotations"):
            value = metadata.get(field)
            if value is not None and not (isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
                problems.append("{0}.metadata.{1} is not a mapping of strings".format(where, field))
    return problems


def merge_backup(existing, cluster, read):
    """The backup document after adding the Ingresses just read: earlier entries are kept (a
    second cutover batch never loses the first), an Ingress read again replaces its entry."""
    document = copy.deepcopy(existing) if existing else {"format": BACKUP_FORMAT, "cluster": cluster, "ingresses": []}
    problems = backup_problems(document, cluster)
    if problems:
        raise ValueError("; ".join(problems[:5]))
    entries = dict((ref(item), item) for item in document.get("ingresses") or [])
    for item in read:
        entries[ref(item)] = item
    document["ingresses"] = [entries[key] for key in sorted(entries)]
    return document


def disabled(ingress, retired_class):
    """The Ingress moved to a class nothing serves, remembering the class it had."""
    result = copy.deepcopy(ingress)
    metadata = result.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    spec = result.setdefault("spec", {})
    original = spec.get("ingressClassName") or annotations.pop(CLASS_ANNOTATION, None) or ""
    annotations.pop(CLASS_ANNOTATION, None)
    annotations[RETIRED_FROM] = original
    metadata["annotations"] = annotations
    spec["ingressClassName"] = retired_class
    return result


def restored(backed_up):
    """The Ingress to recreate from its backup: the same spec, labels and annotations."""
    metadata = backed_up.get("metadata") or {}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": dict((k, copy.deepcopy(metadata[k])) for k in KEPT_METADATA if k in metadata),
            "spec": copy.deepcopy(backed_up.get("spec") or {})}


def restore_step(backed_up, live, retired_class):
    """What restoring one backed-up Ingress does to the live one: `create` (none there), `same`
    (already as backed up), `put-back` (the live one is exactly what the cutover's disable made of
    it, so it is ours to change) or `conflict` (someone made or changed it since: never replaced
    without being asked). Returns (step, the fields that differ)."""
    wanted = restored(backed_up)
    if live is None:
        return "create", []
    if same_ingress(live, wanted):
        return "same", []
    if same_ingress(live, disabled(wanted, retired_class)):
        return "put-back", []
    return "conflict", differences(live, wanted)


def differences(live, wanted):
    """The fields in which the live Ingress differs from the wanted one (`spec.rules`, `metadata.labels`)."""
    fields = []
    live_spec, wanted_spec = live.get("spec") or {}, wanted.get("spec") or {}
    for key in sorted(set(live_spec) | set(wanted_spec)):
        if live_spec.get(key) != wanted_spec.get(key):
            fields.append("spec." + key)
    live_metadata, metadata = live.get("metadata") or {}, wanted.get("metadata") or {}
    for key in ("labels", "annotations"):
        if (live_metadata.get(key) or {}) != (metadata.get(key) or {}):
            fields.append("metadata." + key)
    return fields


def same_ingress(live, wanted):
    """Whether a live Ingress already has the wanted spec, labels and annotations."""
    if live is None:
        return False
    metadata, live_metadata = wanted.get("metadata") or {}, live.get("metadata") or {}
    return (live.get("spec") == wanted.get("spec")
            and (live_metadata.get("labels") or {}) == (metadata.get("labels") or {})
            and (live_metadata.get("annotations") or {}) == (metadata.get("annotations") or {}))
