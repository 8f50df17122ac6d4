#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ingress_cutover
short_description: Retire translated Ingresses behind a gate, with a backup, or restore them
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - With O(state=retired), retires the Ingresses a translation covers, once its gateway serves them.
  - The gate comes first and opens only on evidence. The translation has no error findings; every
    object it generated is in the cluster as generated; every Gateway credential is a Secret with
    a PEM certificate and matching key, valid now, whose names cover the server's hosts; every
    gateway Deployment is Available. A failed gate names each failing host, object or gateway and
    nothing is retired.
  - Then every Ingress to retire is read and written, exactly as read (less C(managedFields)), to
    a backup file for the cluster on the controller, O(backup_dir)/O(cluster_name).ingresses.json,
    added to and never overwritten. If that write fails nothing is retired. An Ingress changed
    after it was backed up is not deleted (the delete is conditional on its resourceVersion).
  - Then each Ingress is deleted (O(retire=delete)) or moved to O(retired_class), a class nothing
    serves (O(retire=disable)), remembering its class in the C(adoptmesh.istio/retired-from-class)
    annotation.
  - With O(state=restored), creates the Ingresses of the backup file that are missing, with the same
    spec, labels and annotations, and puts back in place a disabled one that is still exactly as the
    cutover left it. Ingresses already as backed up are left alone. An Ingress that exists and
    differs (re-created or edited by someone since) is left alone too, listed in C(conflicts) with
    the fields that differ, unless O(replace_existing=true).
  - The backup must be this cluster's (its C(cluster) field) and each entry an Ingress with a
    name, a namespace and a spec; otherwise nothing is restored and the error names the field.
  - Check mode runs the gate, writes no backup and sends deletes and updates as server-side dry runs.
options:
  state:
    description: C(retired) to cut over, C(restored) to bring the backed-up Ingresses back.
    type: str
    choices: [retired, restored]
    default: retired
  translation:
    description:
      - With C(retired), the registered result of M(adoptmesh.istio.ingress_to_gateway) for this
        gateway (its C(resources), C(findings) and C(ingresses)). Its Ingresses are the ones retired.
    type: dict
  replay:
    description:
      - With C(retired), the registered result of M(adoptmesh.istio.traffic_replay) against the same
        translation. The gate stays closed while it has C(error) findings (a request shape from the
        access logs that would go elsewhere, above the replay's tolerance).
    type: dict
  gateway_namespace:
    description: With C(retired), the gateway namespace, where the credential Secrets are.
    type: str
  owner:
    description: With C(retired), the owner label of the translation's objects.
    type: str
  gateways:
    description: With C(retired), the gateway Deployments that must be Available.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The Deployment's name.
        type: str
        required: true
      namespace:
        description: Its namespace.
        type: str
        required: true
  backup_dir:
    description: Folder on the controller for the backup file; created if missing.
    type: path
    required: true
  cluster_name:
    description:
      - The cluster's name in the backup file's name (the inventory host, usually).
      - "It must be one file name (letters, digits and C(_ . @ + : = -), no C(/) or C(..)), so the
        backup stays in O(backup_dir)."
    type: str
    required: true
  retire:
    description: C(delete) the Ingresses, or C(disable) them by moving them to O(retired_class).
    type: str
    choices: [delete, disable]
    default: delete
  retired_class:
    description: The class disabled Ingresses get; no controller may serve it.
    type: str
    default: adoptmesh-retired
  only:
    description: With C(restored), restore only these Ingresses (C(namespace/name)); default all in the backup.
    type: list
    elements: str
    default: []
  replace_existing:
    description:
      - With C(restored), replace an Ingress that exists and differs from its backup. Each one
        replaced is first written, as read, to O(backup_dir)/O(cluster_name).replaced-ingresses.json;
        if that write fails nothing is restored.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0
  - cryptography
notes:
  - The gate reads the credential Secrets in full to check the certificates and keys; neither is
    ever part of the result.
seealso:
  - module: adoptmesh.istio.ingress_to_gateway
  - module: adoptmesh.istio.gateway_credentials
"""

EXAMPLES = r"""
- name: Translate (no writes) to know what the gateway serves now
  adoptmesh.istio.ingress_to_gateway:
    namespaces: [shop]
    owner: istio-ingressgateway
  register: translation

- name: Retire the Ingresses once the gateway serves them
  adoptmesh.istio.ingress_cutover:
    translation: "{{ translation }}"
    gateway_namespace: istio-ingress
    owner: istio-ingressgateway
    gateways: [{name: istio-ingressgateway, namespace: istio-ingress}]
    backup_dir: "{{ playbook_dir }}/backups"
    cluster_name: "{{ inventory_hostname }}"

- name: Bring them back
  adoptmesh.istio.ingress_cutover:
    state: restored
    backup_dir: "{{ playbook_dir }}/backups"
    cluster_name: "{{ inventory_hostname }}"
"""

RETURN = r"""
changed:
  description: Whether any Ingress was (or in check mode would be) retired or restored.
  returned: always
  type: bool
backup:
  description: The backup file written (not in check mode), or read for a restore.
  returned: always
  type: str
retired:
  description: The Ingresses retired (C(namespace/name)).
  returned: always
  type: list
  elements: str
restored:
  description: The Ingresses recreated or put back.
  returned: always
  type: list
  elements: str
conflicts:
  description: With C(restored), the Ingresses left alone because they exist and differ from the backup.
  returned: always
  type: list
  elements: dict
  sample: [{ingress: shop/web, differs_in: [spec.rules, metadata.labels]}]
replaced_backup:
  description: The file the replaced Ingresses were written to, when O(replace_existing) replaced any.
  returned: always
  type: str
gate:
  description: Why the gate did not open; empty when it did.
  returned: always
  type: list
  elements: str
"""

import json
import os
import tempfile

from ansible_collections.adoptmesh.istio.plugins.module_utils import cutover
from ansible_collections.adoptmesh.istio.plugins.module_utils.certificates import credentials_of
from ansible_collections.adoptmesh.istio.plugins.module_utils.names import file_name_problem
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.sync import read_owned
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry

INGRESS = ("networking.k8s.io/v1", "Ingress")


def argument_spec():
    return dict(
        state=dict(type="str", choices=["retired", "restored"], default="retired"),
        translation=dict(type="dict"),
        replay=dict(type="dict"),
        gateway_namespace=dict(type="str"),
        owner=dict(type="str"),
        gateways=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True), namespace=dict(type="str", required=True))),
        backup_dir=dict(type="path", required=True),
        cluster_name=dict(type="str", required=True),
        retire=dict(type="str", choices=["delete", "disable"], default="delete"),
        retired_class=dict(type="str", default="adoptmesh-retired"),
        only=dict(type="list", elements="str", default=[]),
        replace_existing=dict(type="bool", default=False),
    )


def backup_path(params):
    return os.path.join(params["backup_dir"], "{0}.ingresses.json".format(params["cluster_name"]))


def replaced_path(params):
    return os.path.join(params["backup_dir"], "{0}.replaced-ingresses.json".format(params["cluster_name"]))


def read_backup(path):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def write_backup(path, document):
    """Write the whole document to a new file, then rename it over the old one: a failed write
    leaves the previous backup as it was."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
    handle, temporary = tempfile.mkstemp(prefix=".ingresses-", dir=folder)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def gate(cluster, params, translation):
    owned = read_owned(cluster, params["owner"])
    credentials = credentials_of(translation.get("resources") or [])
    secrets = dict((name, cluster.get("v1", "Secret", name, params["gateway_namespace"])) for name in credentials)
    namespaces = sorted(set(g["namespace"] for g in params["gateways"]))
    deployments = dict(("{0}/{1}".format(d["metadata"]["namespace"], d["metadata"]["name"]), d)
                       for d in (cluster.list("apps/v1", "Deployment", namespaces) if namespaces else []))
    gateways = dict((key, deployments.get(key)) for key in
                    ("{0}/{1}".format(g["namespace"], g["name"]) for g in params["gateways"]))
    pods = cluster.list("v1", "Pod", namespaces) if namespaces else []
    return cutover.gate_failures(translation, owned, secrets, gateways, pods, credentials, replay=params["replay"])


def retire(module, cluster, params):
    translation = params["translation"]
    for field in ("translation", "gateway_namespace", "owner"):
        if not params[field]:
            module.fail_json(msg="state retired needs {0}".format(field))
    if not params["gateways"]:
        module.fail_json(msg="state retired needs gateways: the gate checks that each is Available")
    failures = gate(cluster, params, translation)
    if failures:
        module.fail_json(msg="cutover gate closed, nothing retired: " + "; ".join(failures), gate=failures,
                         retired=[], changed=False)
    refs = sorted(translation.get("ingresses") or {})
    read = []
    for item in refs:
        namespace, name = item.split("/", 1)
        live = cluster.get(INGRESS[0], INGRESS[1], name, namespace)
        if live is not None:
            read.append(dict(live, apiVersion=INGRESS[0], kind=INGRESS[1]))
    path = backup_path(params)
    result = dict(backup=path, retired=[], restored=[], conflicts=[], replaced_backup=None, gate=[], diff=[])
    if not read:
        return result
    if not module.check_mode:
        try:
            write_backup(path, cutover.merge_backup(read_backup(path), params["cluster_name"], read))
        except (OSError, ValueError) as error:
            module.fail_json(msg="cannot write the Ingress backup {0}: {1}; nothing retired".format(path, error),
                             retired=[], changed=False)
    for live in read:
        if params["retire"] == "delete":
            # Only the Ingress exactly as backed up: one changed since fails instead of being lost.
            if cluster.delete(live, unchanged=True):
                result["retired"].append(cutover.ref(live))
                result["diff"].append(diff_entry(live, None))
        else:
            wanted = cutover.disabled(live, params["retired_class"])
            after = cluster.patch(live, wanted)
            if after is not None:
                result["retired"].append(cutover.ref(live))
                result["diff"].append(diff_entry(live, after))
    return result


def restore(module, cluster, params):
    path = backup_path(params)
    try:
        document = read_backup(path)
    except (OSError, ValueError) as error:
        module.fail_json(msg="cannot read the Ingress backup {0}: {1}".format(path, error))
    if document is None:
        module.fail_json(msg="no Ingress backup for cluster {0} at {1}".format(params["cluster_name"], path))
    problems = cutover.backup_problems(document, params["cluster_name"])
    if problems:
        module.fail_json(msg="the Ingress backup {0} cannot be restored: {1}".format(path, "; ".join(problems[:5])))
    entries = document["ingresses"]
    known = set(cutover.ref(item) for item in entries)
    unknown = [item for item in params["only"] if item not in known]
    if unknown:
        module.fail_json(msg="not in the backup {0}: {1}".format(path, ", ".join(unknown)))
    result = dict(backup=path, retired=[], restored=[], conflicts=[], replaced_backup=None, gate=[], diff=[])
    replacing, to_write = [], []
    for item in entries:
        if params["only"] and cutover.ref(item) not in params["only"]:
            continue
        wanted = cutover.restored(item)
        metadata = wanted["metadata"]
        live = cluster.get(INGRESS[0], INGRESS[1], metadata["name"], metadata["namespace"])
        step, differing = cutover.restore_step(item, live, params["retired_class"])
        if step == "same":
            continue
        if step == "conflict" and not params["replace_existing"]:
            result["conflicts"].append(dict(ingress=cutover.ref(wanted), differs_in=differing))
            continue
        if step == "conflict":
            replacing.append(dict(live, apiVersion=INGRESS[0], kind=INGRESS[1]))
        to_write.append((wanted, live))
    if replacing and not module.check_mode:
        # The Ingress about to be replaced is kept first, in a file of its own: the cutover's
        # backup must stay the one it wrote.
        result["replaced_backup"] = replaced_path(params)
        try:
            write_backup(result["replaced_backup"], cutover.merge_backup(
                read_backup(result["replaced_backup"]), params["cluster_name"], replacing))
        except (OSError, ValueError) as error:
            module.fail_json(msg="cannot back up the Ingresses to replace in {0}: {1}; nothing restored".format(
                result["replaced_backup"], error))
    for wanted, live in to_write:
        if live is None:
            after = cluster.create(wanted)
        else:
            body = dict(wanted, metadata=dict(wanted["metadata"], resourceVersion=live["metadata"]["resourceVersion"]))
            after = cluster.replace(body)
        result["restored"].append(cutover.ref(wanted))
        result["diff"].append(diff_entry(live, after))
    for conflict in result["conflicts"]:
        module.warn("Ingress {0} exists and differs from its backup in {1}; left as it is (replace_existing: true "
                    "replaces it, after backing it up)".format(conflict["ingress"], ", ".join(conflict["differs_in"])))
    return result


def main():
    module = cluster_module(argument_spec())
    params = module.params
    cluster = None
    problem = file_name_problem(params["cluster_name"])
    if problem:
        module.fail_json(msg="cluster_name {0}".format(problem))
    try:
        cluster = open_cluster(module)
        result = retire(module, cluster, params) if params["state"] == "retired" else restore(module, cluster, params)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    diffs = result.pop("diff")
    result["changed"] = bool(result["retired"] or result["restored"])
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
