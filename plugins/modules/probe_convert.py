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
  - With O(apply=true) it patches the workloads (a minimal strategic merge patch that names only
    the changed probes and annotations, with the resourceVersion it read) and creates the
    PeerAuthentications of the C(health_port) strategy by server-side apply. Pods pick up changed
    templates when they are recreated; this module does not restart anything.
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
    type: str
    default: wget -q -T {timeout} -O /dev/null {url}
  exec_tcp_command:
    description: Command template for converted TCP probes (C({host}), C({port}), C({timeout})).
    type: str
    default: nc -z -w {timeout} {host} {port}
  exec_grpc_command:
    description: Command template for converted gRPC probes (C({host}), C({port}), C({timeout}), C({service_flag})).
    type: str
    default: grpc_health_probe -addr={host}:{port}{service_flag} -connect-timeout={timeout}s
  status_port:
    description:
      - The sidecar agent's status port (Istio C(meshConfig.defaultConfig.statusPort)).
    type: int
    default: 15020
  rewrite_default:
    description:
      - Istio's global probe rewrite setting (istiod chart value
        C(sidecarInjectorWebhook.rewriteAppHTTPProbe)), used where a pod has no valid annotation.
    type: bool
    default: true
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

from ansible_collections.adoptmesh.istio.plugins.module_utils.findings import count_by_severity
from ansible_collections.adoptmesh.istio.plugins.module_utils.module_support import FAILURES, cluster_module, open_cluster
from ansible_collections.adoptmesh.istio.plugins.module_utils.probes import ProbeAuditor, STRATEGIES, process_workloads
from ansible_collections.adoptmesh.istio.plugins.module_utils.reporting import diff_entry, surface_findings
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
                "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}


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
                               default="grpc_health_probe -addr={host}:{port}{service_flag} -connect-timeout={timeout}s"),
        status_port=dict(type="int", default=15020),
        rewrite_default=dict(type="bool", default=True),
        apply=dict(type="bool", default=False),
        field_manager=dict(type="str", default="adoptmesh-istio"),
    )
    return spec


def main():
    module = cluster_module(argument_spec())
    params = module.params
    for key, strategy in params["overrides"].items():
        if strategy not in STRATEGIES:
            module.fail_json(msg="overrides[{0!r}]: unknown strategy {1!r}; use one of {2}".format(
                key, strategy, ", ".join(STRATEGIES)))
    auditor = ProbeAuditor(status_port=params["status_port"], rewrite_default=params["rewrite_default"],
                           exec_http_command=params["exec_http_command"], exec_tcp_command=params["exec_tcp_command"],
                           exec_grpc_command=params["exec_grpc_command"])
    offline = params["workloads"] is not None
    cluster = None
    try:
        if offline:
            workloads = params["workloads"]
        else:
            cluster = open_cluster(module, params["field_manager"])
            workloads = []
            for kind in params["kinds"]:
                workloads.extend(cluster.list(API_VERSIONS[kind], kind, params["namespaces"], params["label_selectors"]))
        results = process_workloads(workloads, params["strategy"], params["overrides"], auditor)
        changed, diffs = False, []
        if params["apply"] and not offline:
            changed, diffs = write(cluster, results)
        elif params["apply"]:
            module.fail_json(msg="apply: true needs a cluster; it cannot be combined with workloads")
    except InputError as error:
        module.fail_json(msg=str(error))
    except FAILURES as error:
        module.fail_json(msg=str(error))

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


def write(cluster, results):
    """Patch changed workloads and apply new PeerAuthentications; returns (changed, diffs)."""
    changed, diffs = False, []
    for result in results:
        if result.changed_workload is not None:
            after = cluster.patch(result.workload, result.changed_workload)
            if after is not None:
                changed = True
                diffs.append(diff_entry(result.workload, result.changed_workload))
        for resource in result.resources:
            was_changed, before, after = cluster.apply(resource)
            if was_changed:
                changed = True
                diffs.append(diff_entry(before, after))
    return changed, diffs


if __name__ == "__main__":
    main()
