"""Benchmark of the Ingress translation (docs/benchmarks.md).

A generated corpus: N Ingresses over N/5 hosts (default 10,000 over 2,000), each with two or
three paths of mixed types, a quarter with TLS, a fifth with annotations. Reports:
- offline: Ingresses translated per second and peak memory, for 1k, 10k and 50k (linearity), for
  the Istio API output and the Gateway API output (goal: Gateway API within 2x of Istio's time);
- on a local plane: the time to LIST the 10,000 Ingresses with the module's own client code,
  the translation time of the listed objects, and their ratio (goal: translation < LIST/10).

    .venv/bin/python benchmarks/bench_ingress.py [--sizes 1000,10000,50000] [--cluster-size 10000] [--no-cluster]
"""

import argparse
import random
import time

from common import create_all, kubernetes_client, peak_rss_mib, report, start_plane, timed

from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import Cluster
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import translate

N = "nginx.ingress.kubernetes.io/"


def corpus(size, namespaces=20):
    rng = random.Random(size)
    hosts = max(1, size // 5)
    ingresses = []
    for index in range(size):
        namespace = "bench-{0}".format(index % namespaces)
        host = "h{0}.example.com".format(rng.randrange(hosts))
        paths = []
        for number in range(rng.randint(2, 3)):
            paths.append({"path": "/s{0}/p{1}".format(index, number), "pathType": rng.choice(["Prefix", "Exact"]),
                          "backend": {"service": {"name": "svc{0}".format(index % 500), "port": {"number": 8080}}}})
        spec = {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": paths}}]}
        if rng.random() < 0.25:
            spec["tls"] = [{"hosts": [host], "secretName": "tls-{0}".format(index % 50)}]
        annotations = {}
        if rng.random() < 0.2:
            annotations = {N + "proxy-read-timeout": "30", N + "enable-cors": "true"}
        ingresses.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                          "metadata": {"name": "i{0}".format(index), "namespace": namespace,
                                       "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": annotations},
                          "spec": spec})
    return ingresses


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--cluster-size", type=int, default=10000)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()

    figures = {"offline": []}
    for size in [int(s) for s in args.sizes.split(",")]:
        ingresses = corpus(size)
        row = {"ingresses": size, "hosts": size // 5}
        for output_api in ("istio", "gateway-api"):
            seconds, result = timed(translate, ingresses, repeat=2, output_api=output_api)
            row[output_api] = {"seconds": round(seconds, 3), "ingresses_per_second": round(size / seconds),
                               "microseconds_per_ingress": round(1e6 * seconds / size, 1),
                               "resources": len(result.resources),
                               "gateways": sum(1 for r in result.resources if r["kind"] == "Gateway")}
        row["gateway_api_to_istio"] = round(row["gateway-api"]["seconds"] / row["istio"]["seconds"], 2)
        row["peak_rss_mib"] = round(peak_rss_mib())
        figures["offline"].append(row)
    if not args.no_cluster:
        plane = start_plane("bench-ingress")
        try:
            ingresses = corpus(args.cluster_size)
            for namespace in sorted(set(i["metadata"]["namespace"] for i in ingresses)):
                plane.api("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
            start = time.perf_counter()
            for item in ingresses:
                item["metadata"].pop("creationTimestamp")
            create_all(plane, ingresses)
            setup = time.perf_counter() - start
            cluster = Cluster(kubernetes_client(plane))
            list_seconds, listed = timed(cluster.list, "networking.k8s.io/v1", "Ingress", None, None)
            translate_seconds = timed(translate, listed)[0]
            figures["cluster"] = {"ingresses": len(listed), "setup_create_seconds": round(setup, 1),
                                  "list_seconds": round(list_seconds, 3),
                                  "translate_listed_seconds": round(translate_seconds, 3),
                                  "translate_to_list_ratio": round(translate_seconds / list_seconds, 3),
                                  "peak_rss_mib": round(peak_rss_mib())}
        finally:
            plane.stop()
    report("ingress translation", figures)


if __name__ == "__main__":
    main()
