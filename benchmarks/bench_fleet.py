"""Benchmark of fleet runs (docs/benchmarks.md): the inject stage on three local planes.

Each round starts three fresh planes seeded with tools/demo/estate.yaml and runs
playbooks/adopt-istio.yml -e adoption_stage=inject over inventories/local-fleet:
- single: each cluster alone (-l fleet-x), one after the other; the slowest is the yardstick;
- forks 1: the three clusters in one batch (no canary), one fork;
- forks 3: the same with three forks (goal: within 1.2x of the slowest single cluster).
Also reported: the fleet machinery's overhead per cluster, forks 1 against the sum of the singles,
and the CPU seconds the controller (ansible-playbook, its forks and the modules) and the three
planes used in each round: on a small machine the planes share its cores with the controller.

    .venv/bin/python benchmarks/bench_fleet.py [--rounds single,forks1,forks3]
"""

import argparse
import concurrent.futures
import os
import resource
import subprocess
import tempfile
import time

from common import REPO, plane_module, report

FLEET = ("fleet-a", "fleet-b", "fleet-c")
BIN = os.path.join(REPO, ".build", "bin")


def start_fleet(prefix):
    def start(name):
        plane = plane_module.ControlPlane(name=prefix + name)
        plane.start()
        env = dict(os.environ, KUBECONFIG=plane.kubeconfig)
        kubectl = os.path.join(BIN, "kubectl")
        subprocess.run([kubectl, "apply", "-f", os.path.join(REPO, "tools", "demo", "estate.yaml")], env=env,
                       check=True, capture_output=True)
        subprocess.run([kubectl, "wait", "--for=condition=Available", "deployment", "--all", "-A", "--timeout=120s"],
                       env=env, check=True, capture_output=True)
        return plane
    with concurrent.futures.ThreadPoolExecutor(len(FLEET)) as pool:
        return list(pool.map(start, FLEET))


def adopt(prefix, directory, forks, limit=None):
    command = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), os.path.join(REPO, "playbooks", "adopt-istio.yml"),
               "-i", os.path.join(REPO, "inventories", "local-fleet"), "-e", "adoption_stage=inject",
               "-e", "adoptmesh_plane_prefix=" + prefix, "-e", "adoptmesh_report_dir=" + os.path.join(directory, "reports"),
               # One batch of the three, no canary: what forks can parallelise.
               "-e", "adoption_canary_group=no-canary", "-e", "adoption_serial=3", "--forks", str(forks)]
    if limit:
        command += ["-l", limit]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), HELM_CONFIG_HOME=os.path.join(directory, "helm"),
               HELM_CACHE_HOME=os.path.join(directory, "helm-cache"), HELM_DATA_HOME=os.path.join(directory, "helm-data"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_HOST_PATTERN_MISMATCH="ignore")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(process.stdout[-4000:] + process.stderr[-2000:])
    CPU["controller"] += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return round(elapsed, 1)


CPU = {"controller": 0.0}


def plane_cpu_seconds(planes):
    """User + system CPU of every process of the planes so far (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for plane in planes:
        for pid in plane.pids.values():
            try:
                with open("/proc/{0}/stat".format(pid)) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks
            except (OSError, IndexError, ValueError):
                pass
    return total


def round_of(name, function):
    prefix = "bench-{0}-{1}-".format(name, os.getpid())
    planes = start_fleet(prefix)
    try:
        with tempfile.TemporaryDirectory() as directory:
            CPU["controller"] = 0.0
            before = plane_cpu_seconds(planes)
            result = function(prefix, directory)
            CPU_BY_ROUND[name] = {"controller": round(CPU["controller"], 1),
                                  "planes": round(plane_cpu_seconds(planes) - before, 1)}
            return result
    finally:
        for plane in planes:
            plane.stop()


CPU_BY_ROUND = {}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", default="single,forks1,forks3")
    rounds = parser.parse_args().rounds.split(",")
    figures = {}
    if "single" in rounds:
        figures["single_seconds"] = round_of("single", lambda prefix, directory: dict(
            (name, adopt(prefix, directory, 1, limit=name)) for name in FLEET))
    if "forks1" in rounds:
        figures["forks1_seconds"] = round_of("forks1", lambda prefix, directory: adopt(prefix, directory, 1))
    if "forks3" in rounds:
        figures["forks3_seconds"] = round_of("forks3", lambda prefix, directory: adopt(prefix, directory, 3))
    single = figures.get("single_seconds")
    if single and "forks3_seconds" in figures:
        figures["forks3_over_slowest_single"] = round(figures["forks3_seconds"] / max(single.values()), 2)
    if single and "forks1_seconds" in figures:
        figures["forks1_overhead_per_cluster_seconds"] = round(
            (figures["forks1_seconds"] - sum(single.values())) / len(FLEET), 1)
    figures["cpu_seconds"] = CPU_BY_ROUND
    report("fleet", figures)


if __name__ == "__main__":
    main()
