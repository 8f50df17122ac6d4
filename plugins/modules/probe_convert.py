#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: probe_convert
short_description: Audit and fix health probes so workloads survive STRICT mutual TLS
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Kubelet probes come from outside the mesh. Under STRICT mTLS a plain C(httpGet),
    C(tcpSocket) or C(grpc) probe to the application port fails unless Istio's injector rewrites
    it to the sidecar agent's status port. Istio does that by default; this module finds the
    workloads where it does not (opt-out annotation, C(httpGet.host), named ports that do not
    resolve, pods injected before the rewrite, lifecycle hooks) and fixes them by the strategy
    you choose.
  - Works offline on objects you pass in O(workloads), or on a cluster, reading every workload
    of the selected namespaces with one LIST per kind.
  - With O(apply=true) it first creates the PeerAuthentications of the C(health_port) strategy by
    server-side apply, then patches the workloads (a minimal strategic merge patch that names only
    the changed probes and annotations, with the resourceVersion it read). A changed pod template
    starts a rollout, so the patches go out O(batch_size) workloads at a time, and each batch is
    waited for with the rules of M(adoptmesh.istio.rollout_restart) (stop at the first batch that
    fails or exceeds O(batch_timeout); later batches are not patched).
  - Jobs and bare Pods are reported, never patched, as their pod specs cannot be changed; fix the
    manifest or the CronJob that makes them. A fixed CronJob applies to the Jobs it starts from
    then on, which a finding says.
  - Check mode sends every write as a server-side dry run. C(--diff) shows each change.
options:
  workloads:
    description:
      - Workload objects (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod) to
        process offline. When given, nothing is read from a cluster.
    type: list
    elements: dict
  namespaces:
    description:
      - Namespaces to read workloads from. Empty means all namespaces.
    type: list
    elements: str
    default: []
  label_selectors:
    description:
      - Label selectors; a workload is taken when it matches any of them.
    type: list
    elements: str
    default: []
  kinds:
    description:
      - Workload kinds to read from the cluster.
    type: list
    elements: str
    choices: [Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod]
    default: [Deployment, StatefulSet, DaemonSet, Job, CronJob]
  strategy:
    description:
      - C(audit) changes nothing and reports.
      - C(rewrite) makes Istio's rewrite apply (sets C(sidecar.istio.io/rewriteAppHTTPProbers)
        to C("true") on the pod template where it is off, removes an C(httpGet.host) that names
        the pod itself) and returns the RV(preview) of what the injector will produce.
      - C(exec) replaces network probes by exec probes built from the O(exec_http_command),
        O(exec_tcp_command) and O(exec_grpc_command) templates. The image must provide the
        command; the module says which.
      - C(health_port) keeps the probes and disables mTLS on the probed ports only, with a
        workload PeerAuthentication selecting the workload's pods.
    type: str
    choices: [audit, rewrite, exec, health_port]
    default: audit
  overrides:
    description:
      - Strategy per workload, keyed by C(namespace/Kind/name) or C(namespace/name).
    type: dict
    default: {}
  exec_http_command:
    description:
      - Command template for converted HTTP probes. Placeholders C({url}), C({host}), C({port}),
        C({path}), C({timeout}). With C(wget), HTTPS probes get C(--no-check-certificate) and
        headers become C(--header) options.
      - The template is split into words once, as a shell would split it; each word is then
        filled in on its own, so a probe's host or path is always part of one argument and can
        never add options. An empty template, one a shell could not split, or one naming another
        placeholder fails the task before anything is read.
    type: str
    default: wget -q -T {timeout} -O /dev/null {url}
  exec_tcp_command:
    description: Command template for converted TCP probes (C({host}), C({port}), C({timeout})).
    type: str
    default: nc -z -w {timeout} {host} {port}
  exec_grpc_command:
    description:
      - Command template for converted gRPC probes (C({host}), C({port}), C({timeout}), C({service_flag})).
      - C({service_flag}) must be a word of its own; it becomes C(-service=NAME), or nothing without a service.
    type: str
    default: grpc_health_probe -addr={host}:{port} {service_flag} -connect-timeout={timeout}s
  status_port:
    description:
      - The sidecar agent's status port (Istio C(meshConfig.defaultConfig.statusPort)).
    type: int
    default: 15020
  rewrite_default:
    description:
      - Istio's global probe rewrite setting (istiod chart value
        C(sidecarInjectorWebhook.rewriteAppHTTPProbe)), used where a pod has no valid annotation.
      - Unset, it is read from the installed injector's ConfigMap (C(istio-sidecar-injector) in
        O(istio_namespace)); offline, or when no injector is installed yet, Istio's default
        C(true) is used, with a warning on a cluster.
    type: bool
  istio_namespace:
    description: Namespace of istiod, where the injector's ConfigMap is read.
    type: str
    default: istio-system
  batch_size:
    description: Workloads patched at once with O(apply=true); each batch's rollouts are waited for.
    type: int
    default: 10
  batch_timeout:
    description: Seconds to wait for a batch of patched workloads to finish rolling out.
    type: int
    default: 300
  apply:
    description:
      - Write the changes to the cluster. Without it the module only computes them.
    type: bool
    default: false
  field_manager:
    description: Field manager name for the writes.
    type: str
    default: adoptmesh-istio
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
  - adoptmesh.istio.progress
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
notes:
  - Probes are never executed by this module; it reasons about their definitions exactly as
    Istio's injector does (the preview is tested against C(istioctl kube-inject)).
seealso:
  - name: Istio health checking of Istio services
    description: Why probes need the rewrite under mutual TLS.
    link: https://istio.io/latest/docs/ops/configuration/mesh/app-health-check/
"""

EXAMPLES = r"""
- name: Audit the probes of two namespaces
  adoptmesh.istio.probe_convert:
    namespaces: [shop, payments]
  register: probe_audit

- name: Fail when a probe would break under STRICT
  ansible.builtin.assert:
    that: probe_audit.summary.blocking == 0
    fail_msg: "{{ probe_audit.findings | selectattr('severity', 'eq', 'error') | list }}"

- name: Let Istio rewrite every probe it can, but give the legacy app a health port
  adoptmesh.istio.probe_convert:
    namespaces: [shop]
    strategy: rewrite
    overrides:
      shop/Deployment/legacy-billing: health_port
    apply: true

- name: Preview offline what the injector will do to a manifest
  adoptmesh.istio.probe_convert:
    workloads: "{{ lookup('ansible.builtin.file', 'web-deployment.yaml') | from_yaml_all | list }}"
    strategy: rewrite
  register: preview
"""

RETURN = r"""
changed:
  description: Whether anything was (or in check mode would be) written.
  returned: always
  type: bool
resources:
  description: Changed workloads and new PeerAuthentications, in input order.
  returned: always
  type: list
  elements: dict
findings:
  description: What cannot be kept or fixed, and what was changed, per workload, container and probe.
  returned: always
  type: list
  elements: dict
  sample:
    - workload: shop/Deployment/web
      container: web
      probe: readinessProbe
      severity: error
      code: rewrite-disabled
      message: "httpGet probe to port 8080 fails under STRICT mTLS: ..."
workloads:
  description: Per workload, its strategy, whether it changed, and each probe's verdict under STRICT.
  returned: always
  type: list
  elements: dict
preview:
  description:
    - For the C(rewrite) strategy, per workload C(namespace/Kind/name), the probes kubelet will see
      after injection and the C(ISTIO_KUBE_APP_PROBERS) value the injector will set.
  returned: always
  type: dict
summary:
  description: Counts of workloads, probes, blocking probes, changes and findings by severity.
  returned: always
  type: dict
  sample: {workloads: 12, probes: 30, blocking: 2, changed: 1, error: 2, warning: 1, info: 3}
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.findings import INFO, WARNING, count_by_severity
from ansible_collections.adoptmesh.istio.plugins.module_utils.mesh_cluster import injector_settings
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster, progress_spec)
from ansible_collections.adoptmesh.istio.plugins.module_utils.sync import apply_in_order
from ansible_collections.adoptmesh.istio.plugins.module_utils.probes import (
    EXEC_FIELDS, ProbeAuditor, STRATEGIES, parse_command_template, process_workloads)
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry, surface_findings
from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import progress_writer
from ansible_collections.adoptmesh.istio.plugins.module_utils.rollout import (
    API_VERSIONS, RolloutFailed, run_batches, split_batches)

# Kinds whose pod spec the API server does not let anyone change.
IMMUTABLE_TEMPLATES = ("Job", "Pod")


def argument_spec():
    spec = dict(
        workloads=dict(type="list", elements="dict"),
        namespaces=dict(type="list", elements="str", default=[]),
        label_selectors=dict(type="list", elements="str", default=[]),
        kinds=dict(type="list", elements="str", choices=list(API_VERSIONS),
                   default=["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]),
        strategy=dict(type="str", choices=list(STRATEGIES), default="audit"),
        overrides=dict(type="dict", default={}),
        exec_http_command=dict(type="str", default="wget -q -T {timeout} -O /dev/null {url}"),
        exec_tcp_command=dict(type="str", default="nc -z -w {timeout} {host} {port}"),
        exec_grpc_command=dict(type="str",
                               default="grpc_health_probe -addr={host}:{port} {service_flag} -connect-timeout={timeout}s"),
        status_port=dict(type="int", default=15020),
        rewrite_default=dict(type="bool"),
        istio_namespace=dict(type="str", default="istio-system"),
        batch_size=dict(type="int", default=10),
        batch_timeout=dict(type="int", default=300),
        apply=dict(type="bool", default=False),
        field_manager=dict(type="str", default="adoptmesh-istio"),
    )
    return progress_spec(spec)


def main():
    module = cluster_module(argument_spec())
    params = module.params
    for key, strategy in params["overrides"].items():
        if strategy not in STRATEGIES:
            module.fail_json(msg="overrides[{0!r}]: unknown strategy {1!r}; use one of {2}".format(
                key, strategy, ", ".join(STRATEGIES)))
    if params["batch_size"] < 1:
        module.fail_json(msg="batch_size must be at least 1, got {0}".format(params["batch_size"]))
    for option in EXEC_FIELDS:
        try:
            parse_command_template(option, params[option])  # checked before anything is read
        except InputError as error:
            module.fail_json(msg=str(error))
    offline = params["workloads"] is not None
    if params["apply"] and offline:
        module.fail_json(msg="apply: true needs a cluster; it cannot be combined with workloads")
    cluster = None
    try:
        rewrite_default, templates = params["rewrite_default"], None
        if offline:
            workloads = params["workloads"]
        else:
            cluster = open_cluster(module, params["field_manager"])
            installed = injector_settings(cluster, params["istio_namespace"])
            templates = installed["templates_without_rewrite"]
            if rewrite_default is None:
                rewrite_default = installed["rewrite_default"]
                if installed["unknown"]:
                    module.warn("could not read {0}; assuming Istio's default (rewrite on)".format(installed["unknown"]))
            workloads = []
            for kind in params["kinds"]:
                workloads.extend(cluster.list(API_VERSIONS[kind], kind, params["namespaces"], params["label_selectors"]))
        auditor = ProbeAuditor(status_port=params["status_port"],
                               rewrite_default=True if rewrite_default is None else rewrite_default,
                               exec_http_command=params["exec_http_command"],
                               exec_tcp_command=params["exec_tcp_command"],
                               exec_grpc_command=params["exec_grpc_command"], templates_without_rewrite=templates)
        results = process_workloads(workloads, params["strategy"], params["overrides"], auditor)
        changed, diffs = False, []
        if params["apply"]:
            changed, diffs = write(cluster, results, params, wait=not module.check_mode)
    except InputError as error:
        module.fail_json(msg=str(error))
    except RolloutFailed as error:
        fail_on_cluster_error(module, cluster, str(error), patched=error.done)
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)

    findings = [finding for result in results for finding in result.findings]
    surface_findings(module, [f.as_dict() for f in findings], subject="workload")
    resources = []
    for result in results:
        if result.changed_workload is not None:
            resources.append(result.changed_workload)
        resources.extend(result.resources)
    summary = dict(workloads=len(results), probes=sum(len(r.probes) for r in results),
                   blocking=sum(len(r.blocking) for r in results),
                   changed=sum(1 for r in results if r.changed_workload is not None or r.resources))
    summary.update(count_by_severity(findings))
    outcome = dict(changed=changed, resources=resources, findings=[f.as_dict() for f in findings],
                   workloads=[r.as_dict() for r in results],
                   preview=dict((r.ref, r.preview) for r in results if r.preview is not None), summary=summary)
    if module._diff and diffs:
        outcome["diff"] = diffs
    module.exit_json(**outcome)


def patchable(result):
    """Whether a workload's fix can be written; otherwise a finding says why not."""
    kind = result.workload.get("kind")
    if kind in IMMUTABLE_TEMPLATES:
        result.add(WARNING, "not-patched-immutable", "the fix was not written: a {0}'s pod spec cannot be changed; "
                   "fix its manifest{1}".format(kind, " or the CronJob that creates it" if kind == "Job" else ""))
        return False
    if kind == "CronJob":
        result.add(INFO, "cronjob-future-runs", "the fixed template applies to the Jobs this CronJob starts from "
                   "now on; running Jobs keep their probes")
    return True


def write(cluster, results, params, wait):
    """Policies first (health_port PeerAuthentications), then the template fixes in batches,
    each batch's rollouts waited for. Returns (changed, diffs)."""
    diffs = apply_in_order(cluster, [resource for result in results for resource in result.resources])
    fixes = dict((r.ref, r) for r in results if r.changed_workload is not None and patchable(r))

    def send(ref):
        result = fixes[ref]
        if cluster.patch(result.workload, result.changed_workload) is None:
            return False
        diffs.append(diff_entry(result.workload, result.changed_workload))
        return True

    batches = split_batches(sorted(fixes), params["batch_size"])
    run_batches(cluster, batches, send, params["batch_timeout"], wait=wait, write=progress_writer(params["progress_file"]))
    return bool(diffs), diffs


if __name__ == "__main__":
    main()
