"""Benchmark of the replay on hostile input (docs/benchmarks.md): memory stays flat whatever the
file holds, and a catastrophic regex costs what any other does.

Each case runs module_utils/replay.py in a process of its own and reports its wall time and peak
RSS (ru_maxrss):
- `1 GB line`: one line of 1 GiB without a newline, between two normal lines (plain file);
- `gzip bomb`: a gzip file of NUL bytes (about 4 MiB compressed, 4 GiB when read), no newline;
- `5M lines`: 5,000,000 normal upstreaminfo lines (gzip), over the same one-Ingress estate;
- `regex x 60`: 100,000 lines whose path is 60 `a`s against an Ingress path `/(a+)+b` with
  use-regex (Python's backtracking `re` would take 2^60 steps on the first one).

    .venv/bin/python benchmarks/bench_replay_input.py [--skip-large]
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time

from common import REPO, report

WORK = os.path.join(REPO, ".build", "bench", "replay-input")
COLLECTIONS = os.path.join(REPO, ".build", "collections")
N = "nginx.ingress.kubernetes.io/"
ESTATE = [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2024-01-01T00:00:00Z",
                        "annotations": {N + "use-regex": "true"}},
           "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
               {"path": "/(a+)+b", "pathType": "ImplementationSpecific",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}},
               {"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}]
LINE = ('10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET {path} HTTP/1.1" 200 12 "-" "curl/8" 100 0.01 '
        'shop.example.com http [shop-web-80] [] 10.1.0.1:80 12 0.01 200 0123456789abcdef\n')
FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
          '"$http_user_agent" $request_length $request_time $host $scheme [$proxy_upstream_name] '
          '[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length '
          '$upstream_response_time $upstream_status $req_id')
RUN = """
import json, resource, sys, time
sys.path.insert(0, {collections!r})
from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.replay import replay
translation = ingress.translate(json.loads({estate!r}), None, output_api="istio").as_dict()
start = time.perf_counter()
try:
    totals = replay(translation["resources"], translation["ingresses"], [{log!r}], {log_format!r})["totals"]
except InputError as error:
    totals = {{"error": str(error)[:200]}}
print(json.dumps({{"seconds": time.perf_counter() - start, "totals": totals,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def write_long_line(path, size):
    block = b"x" * (1 << 20)
    with open(path, "wb") as handle:
        handle.write(LINE.format(path="/cart").encode())
        for dummy in range(size >> 20):
            handle.write(block)
        handle.write(b"\n" + LINE.format(path="/api").encode())


def write_bomb(path, size):
    block = b"\0" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for dummy in range(size >> 20):
            handle.write(block)


def write_lines(path, count, request_path):
    with gzip.open(path, "wt", compresslevel=1) as handle:
        chunk = LINE.format(path=request_path) * 10000
        for dummy in range(count // 10000):
            handle.write(chunk)


def run(log):
    code = RUN.format(collections=COLLECTIONS, estate=json.dumps(ESTATE), log=log, log_format=FORMAT)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    result["wall"] = time.perf_counter() - started
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-large", action="store_true", help="only the small cases (no 1 GiB files)")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    cases = [("regex x 60 (100k lines)", "regex.log.gz", lambda p: write_lines(p, 100000, "/" + "a" * 60))]
    if not args.skip_large:
        cases = [("1 GB line", "long.log", lambda p: write_long_line(p, 1 << 30)),
                 ("gzip bomb (4 GiB of NUL)", "bomb.log.gz", lambda p: write_bomb(p, 4 << 30)),
                 ("5M lines", "five-million.log.gz", lambda p: write_lines(p, 5000000, "/cart"))] + cases
    rows = []
    for name, file_name, make in cases:
        path = os.path.join(WORK, file_name)
        if not os.path.exists(path):
            make(path)
        result = run(path)
        totals = result["totals"]
        rows.append({"case": name, "file_mib": round(os.path.getsize(path) / 1048576.0, 1),
                     "lines": totals.get("lines"), "skipped": totals.get("skipped"),
                     "error": totals.get("error", ""), "seconds": round(result["seconds"], 2),
                     "peak_rss_mib": round(result["peak_rss_mib"], 1)})
    report("replay-input", rows)


if __name__ == "__main__":
    main()
