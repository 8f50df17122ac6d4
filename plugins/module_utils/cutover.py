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


def merge_backup(existing, cluster, read):
    """The backup document after adding the Ingresses just read: earlier entries are kept (a
    second cutover batch never loses the first), an Ingress read again replaces its entry."""
    document = copy.deepcopy(existing) if existing else {"format": BACKUP_FORMAT, "cluster": cluster, "ingresses": []}
    if document.get("format") != BACKUP_FORMAT:
        raise ValueError("not an adoptmesh.istio Ingress backup (format {0!r})".format(document.get("format")))
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


def same_ingress(live, wanted):
    """Whether a live Ingress already has the wanted spec, labels and annotations."""
    if live is None:
        return False
    metadata, live_metadata = wanted.get("metadata") or {}, live.get("metadata") or {}
    return (live.get("spec") == wanted.get("spec")
            and (live_metadata.get("labels") or {}) == (metadata.get("labels") or {})
            and (live_metadata.get("annotations") or {}) == (metadata.get("annotations") or {}))
