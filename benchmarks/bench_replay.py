"""Benchmark of the traffic replay and of the translation as a command-line converter (docs/benchmarks.md).

Replay: generated ingress-nginx logs (tools/access_logs.py, upstreaminfo format, gzip) of 1M and 5M
lines over an estate of 1,000 Ingresses on 200 hosts with canaries, replayed by
module_utils/replay.py in a process of its own pinned to one core; figures are lines per minute
and the process's peak RSS (streaming: 5M within 1.2x of 1M).

Converter: benchmarks/translate_cli.py reads a List of 10,000 and 50,000 Ingresses (the
bench_ingress.py corpus) and writes the objects as JSON, whole process timed, both output APIs.

    .venv/bin/python benchmarks/bench_replay.py [--sizes 1000000,5000000] [--converter-sizes 10000,50000]
"""

import argparse
import json
import os
import subprocess
import sys
import time

from common import REPO, report

sys.path.insert(0, os.path.join(REPO, "tools"))

import access_logs  # noqa: E402
from bench_ingress import N, corpus  # noqa: E402

WORK = os.path.join(REPO, ".build", "bench")
PYTHON = sys.executable
REPLAY = """
import json, resource, sys, time
sys.path.insert(0, {collections!r})
from ansible_collections.adoptmesh.istio.plugins.module_utils.replay import replay
with open({translation!r}) as handle:
    translation = json.load(handle)
start = time.perf_counter()
result = replay(translation["resources"], translation["ingresses"], [{log!r}])
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "totals": result["totals"],
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def estate(size=1000):
    """The bench_ingress corpus with a canary Ingress for every tenth host's first path."""
    ingresses = corpus(size)
    canaries = []
    for index, item in enumerate(ingresses[::10]):
        first = item["spec"]["rules"][0]
        path = dict(first["http"]["paths"][0], backend={"service": {"name": "canary{0}".format(index % 50),
                                                                    "port": {"number": 8080}}})
        canaries.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                         "metadata": {"name": item["metadata"]["name"] + "-canary",
                                      "namespace": item["metadata"]["namespace"],
                                      "creationTimestamp": "2024-02-01T00:00:00Z",
                                      "annotations": {N + "canary": "true", N + "canary-weight": "10"}},
                         "spec": {"ingressClassName": "nginx",
                                  "rules": [{"host": first["host"], "http": {"paths": [path]}}]}})
    return ingresses + canaries


def pinned(command):
    """The command on one core when taskset is there (the figure is per core)."""
    return (["taskset", "-c", "0"] + command) if os.path.exists("/usr/bin/taskset") else command


def replay_figures(sizes, output_api):
    from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import translate
    ingresses = estate()
    translation = translate(ingresses, None, output_api=output_api).as_dict()
    translation_path = os.path.join(WORK, "replay-translation-{0}.json".format(output_api))
    with open(translation_path, "w") as handle:
        json.dump({"resources": translation["resources"], "ingresses": translation["ingresses"]}, handle)
    rows = []
    for size in sizes:
        log = os.path.join(WORK, "access-{0}.log.gz".format(size))
        if not os.path.exists(log):
            access_logs.Generator(access_logs.Estate(ingresses), seed=size).write(log, size)
        code = REPLAY.format(collections=os.path.join(REPO, ".build", "collections"), translation=translation_path,
                             log=log)
        started = time.perf_counter()
        completed = subprocess.run(pinned([PYTHON, "-c", code]), capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        measured = json.loads(completed.stdout)
        totals = measured["totals"]
        rows.append({"output_api": output_api, "lines": size, "replay_seconds": round(measured["seconds"], 1),
                     "process_seconds": round(wall, 1),
                     "lines_per_minute": round(60 * size / measured["seconds"]),
                     "peak_rss_mib": round(measured["peak_rss_mib"]), "compared": totals["compared"],
                     "mismatched": totals["mismatched"], "ambiguous": totals["ambiguous"],
                     "skipped": totals["skipped"]})
    return rows


def converter_figures(sizes):
    rows = []
    for size in sizes:
        source = os.path.join(WORK, "ingresses-{0}.json".format(size))
        with open(source, "w") as handle:
            json.dump({"apiVersion": "v1", "kind": "List", "items": corpus(size)}, handle)
        for output_api in ("istio", "gateway-api"):
            best = None
            for _attempt in range(3):
                target = os.path.join(WORK, "objects-{0}-{1}.json".format(size, output_api))
                started = time.perf_counter()
                subprocess.run(pinned([PYTHON, os.path.join(REPO, "benchmarks", "translate_cli.py"), "--input", source,
                                       "--output", target, "--output-api", output_api]),
                               check=True, capture_output=True)
                elapsed = time.perf_counter() - started
                best = elapsed if best is None else min(best, elapsed)
            rows.append({"ingresses": size, "output_api": output_api, "process_seconds": round(best, 2),
                         "ingresses_per_second": round(size / best)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--converter-sizes", default="10000,50000")
    parser.add_argument("--apis", default="istio,gateway-api")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    figures = {"converter": converter_figures([int(s) for s in args.converter_sizes.split(",") if s]),
               "replay": []}
    for output_api in args.apis.split(","):
        figures["replay"] += replay_figures([int(s) for s in args.sizes.split(",") if s], output_api)
    report("traffic replay and converter", figures)


if __name__ == "__main__":
    main()
