"""Benchmark of the ingress stage (docs/benchmarks.md).

On a local plane with Istio installed and 1,000 Ingresses over 100 namespaces (the corpus of
bench_ingress.py, TLS Secrets included): wall time and API requests of the ingress_gateway role
(translate, apply, install the gateway chart, wait, copy certificates), then of a re-run with
nothing to do.

    .venv/bin/python benchmarks/bench_ingress_stage.py [--ingresses 1000] [--namespaces 100]
"""

import argparse
import base64
import json
import os
import sys
import tempfile

from bench_ingress import corpus
from bench_inject import measure, run_playbook, seed
from common import create_all, report, start_plane


def tls_secrets(ingresses):
    """A valid self-signed certificate per referenced Secret, as in a real estate."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
    from test_ingress_stage import pem_pair  # pylint: disable=import-outside-toplevel
    secrets = {}
    for item in ingresses:
        for entry in item["spec"].get("tls") or []:
            key = (item["metadata"]["namespace"], entry["secretName"])
            if key not in secrets:
                crt, private = pem_pair(entry["hosts"])
                secrets[key] = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                                "metadata": {"name": key[1], "namespace": key[0]},
                                "data": {"tls.crt": base64.b64encode(crt.encode()).decode(),
                                         "tls.key": base64.b64encode(private.encode()).decode()}}
    return list(secrets.values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ingresses", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=100)
    args = parser.parse_args()
    ingresses = corpus(args.ingresses, args.namespaces)
    for item in ingresses:  # one certificate per Secret must cover every host it serves
        for entry in item["spec"].get("tls") or []:
            entry["secretName"] = "tls-" + entry["hosts"][0].split(".")[0]
    plane = start_plane("bench-ingress-stage")
    try:
        seed(plane, 0, 0)
        namespaces = sorted(set(i["metadata"]["namespace"] for i in ingresses))
        create_all(plane, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces])
        create_all(plane, tls_secrets(ingresses))
        create_all(plane, ingresses)
        directory = tempfile.mkdtemp()
        playbook = os.path.join(directory, "stage.yml")
        with open(playbook, "w") as handle:
            json.dump([{"name": "The ingress stage", "hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/adoptmesh.istio.k8s": {"kubeconfig": plane.kubeconfig},
                                            "group/kubernetes.core.helm": {
                                                "kubeconfig": plane.kubeconfig,
                                                "binary_path": os.path.join(os.path.dirname(__file__), "..", ".build",
                                                                            "bin", "helm")}},
                        "roles": [{"role": "adoptmesh.istio.ingress_gateway",
                                   "ingress_gateway_chart_source": plane.charts_oci, "adoptmesh_chart_plain_http": True,
                                   "ingress_gateway_chart_version": "1.30.4-dev.9739e10eb9d7",
                                   "ingress_gateway_allow_errors": True}]}], handle)
        os.environ.update(HELM_CONFIG_HOME=os.path.join(directory, "helm"), HELM_CACHE_HOME=os.path.join(directory, "hc"),
                          HELM_DATA_HOME=os.path.join(directory, "hd"))
        first = measure(plane, lambda: run_playbook(playbook, {}))
        rerun = measure(plane, lambda: run_playbook(playbook, {}))
        figures = {"ingresses": args.ingresses, "namespaces": args.namespaces, "first_run": first, "re_run": rerun,
                   "re_run_share": round(rerun["seconds"] / first["seconds"], 2)}
        report("ingress_stage", figures)
    finally:
        plane.stop()


if __name__ == "__main__":
    main()
