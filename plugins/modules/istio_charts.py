#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: istio_charts
short_description: Check Istio's charts at the chart source and give the references to install them by
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Pulls each chart of O(charts) at O(version) from O(source) with the same C(helm) that installs
    them, into a temporary folder that is removed afterwards, and returns for each the arguments
    of M(kubernetes.core.helm) and M(kubernetes.core.helm_template) - C(chart_ref),
    C(chart_repo_url) and C(chart_version).
  - O(source) is an OCI reference (C(oci://ghcr.io/istio/release/charts), where Istio publishes
    its charts since 1.31, the default of the roles) or an HTTP chart repository
    (C(https://blob.istio.io/istio-release/charts), or a mirror). For OCI the chart reference is
    C(<source>/<chart>), for HTTP the chart name with the repository URL; nothing is added to
    Helm's list of repositories.
  - Fails closed, before anything is installed - a registry or repository that does not answer
    within O(timeout) seconds, a chart or version it does not have, a digest that differs from the
    pin in O(digests), or a source that is not an C(oci://) or C(http(s)://) location fails the
    task, naming the chart source and the chart.
  - Uses Helm's own registry credentials (C(helm registry login)) and TLS settings, so what it
    checks is what the install will get.
  - Read-only; runs the same in check mode.
options:
  source:
    description:
      - Where the charts are - C(oci://HOST/PATH) or C(http(s)://HOST/PATH).
      - C(istio-release.storage.googleapis.com), C(gcr.io/istio-release) and C(registry.istio.io)
        are retired by Istio (nothing newer than 1.30.x); they still work where they answer, with a
        warning.
    type: str
    required: true
  version:
    description: The chart version (the Istio release), for example C(1.31.0).
    type: str
    required: true
  charts:
    description: The charts to check and give references for.
    type: list
    elements: str
    choices: [base, istiod, cni, gateway, ztunnel]
    default: [base, istiod]
  digests:
    description:
      - Pins, chart name to C(sha256:<hex>). For an OCI source the digest of the chart's OCI
        manifest (what C(helm push) and C(helm pull) print); the returned C(chart_ref) then names
        it (C(oci://.../istiod@sha256:...)), so Helm installs exactly that manifest. For an HTTP
        source the sha256 of the chart archive (the C(digest) of the repository's C(index.yaml)),
        checked on the archive pulled here.
      - Charts without a pin are taken by version alone.
    type: dict
    default: {}
  plain_http:
    description: Reach an OCI registry over plain HTTP (a registry on loopback or in a lab). Needs Helm 3.13 or newer.
    type: bool
    default: false
  insecure_skip_tls_verify:
    description: Do not verify the registry's or repository's TLS certificate. Needs Helm 3.16 or newer.
    type: bool
    default: false
  timeout:
    description:
      - Seconds the pull of one chart may take. A source that does not answer in time fails the
        task, naming it. Helm has no timeout of its own for pulls; this is it.
    type: int
    default: 60
  binary_path:
    description: The C(helm) binary; by default the first C(helm) on the PATH.
    type: path
notes:
  - Registry credentials come from C(helm registry login) (or M(kubernetes.core.helm_registry_auth))
    on the host that runs the module, as for M(kubernetes.core.helm).
  - A registry with a certificate from a private CA needs that CA in the host's trust store (or
    C(SSL_CERT_FILE)), as Helm reads it from there.
seealso:
  - module: kubernetes.core.helm
requirements:
  - helm >= 3.13 (OCI with O(plain_http)); 3.8 for OCI otherwise
"""

EXAMPLES = r"""
- name: Check Istio's charts at the official OCI source
  adoptmesh.istio.istio_charts:
    source: oci://ghcr.io/istio/release/charts
    version: 1.31.0
    charts: [base, istiod]
  register: istio_charts

- name: Install istiod from the checked reference
  kubernetes.core.helm:
    name: istiod
    chart_ref: "{{ istio_charts.charts.istiod.chart_ref }}"
    chart_repo_url: "{{ istio_charts.charts.istiod.chart_repo_url | default(omit, true) }}"
    chart_version: "{{ istio_charts.charts.istiod.chart_version }}"
    release_namespace: istio-system

- name: Pin the charts of an air-gapped mirror by digest
  adoptmesh.istio.istio_charts:
    source: oci://registry.example.internal/mirror/istio
    version: 1.31.0
    charts: [base, istiod, gateway]
    digests:
      istiod: sha256:0f3e6a09c1d6f4e0a5b7e0c7d9c9b9a4f1e1d0c2b3a4f5e6d7c8b9a0f1e2d3c4
"""

RETURN = r"""
kind:
  description: C(oci) or C(http).
  returned: always
  type: str
  sample: oci
source:
  description: The chart source as used (no trailing slash).
  returned: always
  type: str
  sample: oci://ghcr.io/istio/release/charts
charts:
  description:
    - Per chart - C(chart_ref), C(chart_repo_url) (null for OCI), C(chart_version), C(location)
      (what a person reads) and C(digest) (the OCI manifest digest, or the archive's sha256 for
      HTTP).
  returned: always
  type: dict
  sample:
    istiod:
      chart_ref: oci://ghcr.io/istio/release/charts/istiod
      chart_repo_url:
      chart_version: 1.31.0
      location: oci://ghcr.io/istio/release/charts/istiod:1.31.0
      digest: sha256:5b1c6e0c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e
retired:
  description: Why the source is one Istio retired, or null.
  returned: always
  type: str
plain_http:
  description: O(plain_http), for the install tasks that use the references.
  returned: always
  type: bool
insecure_skip_tls_verify:
  description: O(insecure_skip_tls_verify), for the install tasks that use the references.
  returned: always
  type: bool
"""

import os
import shutil
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.adoptmesh.istio.plugins.module_utils.charts import (
    CHARTS, archive_chart, check_digests, chart_reference, file_digest, parse_source, pulled_digest, retired)
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError

# Lines of Helm's error output kept in a failure message.
_HELM_ERROR_LINES = 6


def _pull(module, helm, parsed, chart, ref, destination):
    """Pull one chart with Helm; returns Helm's output, or fails naming the source and chart."""
    params = module.params
    command = [helm, "pull", ref["chart_ref"], "--version", ref["chart_version"], "--destination", destination]
    if ref["chart_repo_url"]:
        command += ["--repo", ref["chart_repo_url"]]
    if params["plain_http"]:
        command.append("--plain-http")
    if params["insecure_skip_tls_verify"]:
        command.append("--insecure-skip-tls-verify")
    what = "chart {0} {1} at {2}".format(chart, ref["chart_version"], ref["location"])
    try:
        # Helm has no timeout for pulls: a registry that accepts the connection and never answers
        # would hold the run forever.
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=params["timeout"], check=False)
    except subprocess.TimeoutExpired:
        module.fail_json(msg="chart source {0} ({1}) did not answer within {2} s while pulling {3}".format(
            parsed["location"], parsed["host"], params["timeout"], what), chart=chart)
    except OSError as error:
        module.fail_json(msg="cannot run helm ({0}) to pull {1}: {2}".format(helm, what, error), chart=chart)
    output = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        lines = [line for line in output.splitlines() if line.strip()][-_HELM_ERROR_LINES:]
        module.fail_json(msg="chart source {0} ({1}): cannot pull {2}: {3}".format(
            parsed["location"], parsed["host"], what, " ".join(lines) or "helm exited {0}".format(done.returncode)),
            chart=chart)
    return output


def _archive(destination):
    names = [name for name in os.listdir(destination) if name.endswith(".tgz")]
    return os.path.join(destination, names[0]) if len(names) == 1 else None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            source=dict(type="str", required=True),
            version=dict(type="str", required=True),
            charts=dict(type="list", elements="str", choices=list(CHARTS), default=["base", "istiod"]),
            digests=dict(type="dict", default={}),
            plain_http=dict(type="bool", default=False),
            insecure_skip_tls_verify=dict(type="bool", default=False),
            timeout=dict(type="int", default=60),
            binary_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        parsed = parse_source(params["source"], "source")
        digests = check_digests(params["digests"], "digests")
        refs = dict((chart, chart_reference(params["source"], chart, params["version"], digests.get(chart)))
                    for chart in params["charts"])
    except InputError as error:
        module.fail_json(msg=str(error))
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout: must be a positive number of seconds, got {0}".format(params["timeout"]))
    helm = params["binary_path"] or module.get_bin_path("helm", required=True)
    why_retired = retired(params["source"])
    if why_retired:
        module.warn(why_retired)

    results = {}
    for chart in params["charts"]:
        ref = refs[chart]
        destination = tempfile.mkdtemp(prefix="adoptmesh-chart-")
        try:
            output = _pull(module, helm, parsed, chart, ref, destination)
            archive = _archive(destination)
            name, version = archive_chart(archive) if archive else (None, None)
            if parsed["kind"] == "oci":
                digest = pulled_digest(output)
            else:
                digest = file_digest(archive) if archive else None
        finally:
            shutil.rmtree(destination, ignore_errors=True)
        # Helm checks a pinned digest against the version's tag; the archive itself is checked too,
        # for registries that serve a digest without the tag and for HTTP mirrors.
        if (name, version) != (chart, ref["chart_version"]):
            module.fail_json(msg="chart source {0}: {1} is chart {2} {3}, not {4} {5}".format(
                parsed["location"], ref["location"], name or "(unreadable)", version or "", chart,
                ref["chart_version"]), chart=chart)
        pinned = digests.get(chart)
        if pinned and digest != pinned:
            module.fail_json(msg="chart source {0}: chart {1} {2} has digest {3}, but {4} is pinned: the chart "
                                 "changed at the source, or the pin is wrong".format(
                                     parsed["location"], chart, ref["chart_version"], digest or "(none given by helm)",
                                     pinned), chart=chart)
        results[chart] = dict(ref, digest=digest)

    module.exit_json(changed=False, kind=parsed["kind"], source=parsed["location"], charts=results,
                     retired=why_retired, plain_http=params["plain_http"],
                     insecure_skip_tls_verify=params["insecure_skip_tls_verify"])


if __name__ == "__main__":
    main()
