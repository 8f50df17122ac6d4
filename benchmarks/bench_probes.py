"""Benchmark of the probe audit (docs/benchmarks.md).

Generates a cluster-sized set of workloads (default 5,000 Deployments with 3 containers each,
every container with readiness, liveness and startup probes of mixed kinds), then reports:
- offline: workloads audited per second and the process's peak memory;
- on a local plane, once the deployment controller has caught up with them: the time to LIST
  those Deployments from the API server with the module's own client code, the audit time of the
  listed objects, and their ratio (goal: audit < LIST/10).

    .venv/bin/python benchmarks/bench_probes.py [--workloads N] [--no-cluster]
"""

import argparse
import random
import statistics
import time

from common import (create_all, kubernetes_client, peak_rss_mib, report, start_plane, timed,
                    wait_for_deployment_controller)

from ansible_collections.adoptmesh.istio.plugins.module_utils import probes
from ansible_collections.adoptmesh.istio.plugins.module_utils.cluster import Cluster

NAMESPACE = "bench-probes"
ROUNDS = 7


def workload(rng, index):
    containers = []
    for number in range(3):
        handlers = [
            {"httpGet": {"path": "/ready", "port": "http", "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
             "timeoutSeconds": 2},
            {"tcpSocket": {"port": 8080}},
            {"grpc": {"port": 9090}},
            {"exec": {"command": ["cat", "/tmp/healthy"]}},
            {"httpGet": {"path": "/live", "port": 8080, "host": "localhost"}},
        ]
        containers.append({
            "name": "c{0}".format(number), "image": "registry.invalid/app:1",
            "ports": [{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": 9090}],
            "readinessProbe": rng.choice(handlers), "livenessProbe": rng.choice(handlers),
            "startupProbe": rng.choice(handlers),
        })
    annotations = {"sidecar.istio.io/rewriteAppHTTPProbers": "false"} if rng.random() < 0.1 else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "w{0}".format(index), "namespace": NAMESPACE},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "w{0}".format(index)}},
                     "template": {"metadata": {"labels": {"app": "w{0}".format(index)}, "annotations": annotations},
                                  "spec": {"containers": containers}}}}


def audit(workloads):
    return probes.process_workloads(workloads, "audit")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=5000)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()

    rng = random.Random(1)
    workloads = [workload(rng, index) for index in range(args.workloads)]
    seconds, results = timed(audit, workloads)
    figures = {"workloads": args.workloads, "containers": args.workloads * 3,
               "probes": sum(len(r.probes) for r in results),
               "offline_audit_seconds": round(seconds, 3),
               "workloads_per_second": round(args.workloads / seconds),
               "peak_rss_mib_after_offline_audit": round(peak_rss_mib())}
    if not args.no_cluster:
        plane = start_plane("bench-probes")
        try:
            plane.api("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
            start = time.perf_counter()
            create_all(plane, workloads)
            figures["setup_create_seconds"] = round(time.perf_counter() - start, 1)
            figures["setup_settle_seconds"] = round(wait_for_deployment_controller(plane, NAMESPACE, len(workloads)), 1)
            cluster = Cluster(kubernetes_client(plane))
            # Rounds of one LIST then the audit of what it returned, so that both meet the same
            # plane; the LIST's time varies far more than the audit's.
            list_times, audit_times = [], []
            for round_number in range(ROUNDS):  # noqa: B007  (only the count matters)
                list_seconds, listed = timed(cluster.list, "apps/v1", "Deployment", [NAMESPACE], None, repeat=1)
                list_times.append(list_seconds)
                audit_times.append(timed(audit, listed, repeat=1)[0])
            ratios = [audit_seconds / list_seconds for audit_seconds, list_seconds in zip(audit_times, list_times)]
            figures.update(listed=len(listed), rounds=ROUNDS,
                           list_seconds_median=round(statistics.median(list_times), 3),
                           list_seconds_range=[round(min(list_times), 3), round(max(list_times), 3)],
                           audit_of_listed_seconds_median=round(statistics.median(audit_times), 3),
                           audit_of_listed_seconds_range=[round(min(audit_times), 3), round(max(audit_times), 3)],
                           audit_to_list_ratio_median=round(statistics.median(ratios), 3),
                           audit_to_list_ratio_worst_round=round(max(ratios), 3),
                           peak_rss_mib=round(peak_rss_mib()))
        finally:
            plane.stop()
    report("probe audit", figures)


if __name__ == "__main__":
    main()
