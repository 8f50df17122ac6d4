"""Benchmark of the inject stage (docs/benchmarks.md).

On a local plane per variant, seeded alike with N namespaces x M Deployments (1 replica each)
and Istio installed (real sidecar injection): wall time and API requests (the apiserver's own
apiserver_request_total counter) of
- the collection's sidecar_injection role (labels, batched restarts, coverage), then a re-run;
- benchmarks/baseline/inject-per-object.yml, one kubernetes.core task per object;
- the floor: one client doing the same writes in bulk from a short script.

    .venv/bin/python benchmarks/bench_inject.py [--namespaces 200] [--deployments 10] [--variants ours,baseline,floor]
        [--batch-size 50]
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

from common import REPO, create_all, kubernetes_client, report, start_plane

BIN = os.path.join(REPO, ".build", "bin")


def request_count(plane):
    import urllib.request
    with urllib.request.urlopen(plane.server + "/metrics", context=plane._ssl_context(), timeout=30) as answer:
        text = answer.read().decode()
    return int(sum(float(m.group(1)) for m in re.finditer(r'^apiserver_request_total\{[^}]*\} ([0-9.e+]+)$', text, re.M)))


def seed(plane, namespaces, deployments):
    env = dict(os.environ, KUBECONFIG=plane.kubeconfig, HELM_CONFIG_HOME=os.path.join(plane.run_dir, "helm"),
               HELM_CACHE_HOME=os.path.join(plane.run_dir, "helm-cache"), HELM_DATA_HOME=os.path.join(plane.run_dir, "helm-data"))
    helm = os.path.join(BIN, "helm")
    subprocess.run([helm, "repo", "add", "istio-local", plane.charts_url], env=env, check=True, capture_output=True)
    version = "1.30.4-dev.9739e10eb9d7"
    subprocess.run([helm, "install", "istio-base", "istio-local/base", "-n", "istio-system", "--create-namespace",
                    "--version", version, "--wait"], env=env, check=True, capture_output=True)
    subprocess.run([helm, "install", "istiod", "istio-local/istiod", "-n", "istio-system", "--version", version,
                    "--wait"], env=env, check=True, capture_output=True)
    names = ["bench-{0:03d}".format(i) for i in range(namespaces)]
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]
    create_all(plane, objects)
    # Pods are refused until the namespace's default ServiceAccount exists, and a refused
    # ReplicaSet backs off for minutes: wait for the service-account controller first.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        accounts = plane.api("GET", "/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault")["items"]
        if set(names) <= set(a["metadata"]["namespace"] for a in accounts):
            break
        time.sleep(1)
    objects = []
    for namespace in names:
        for index in range(deployments):
            name = "app-{0:02d}".format(index)
            objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                                     "template": {"metadata": {"labels": {"app": name}},
                                                  "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}})
    create_all(plane, objects)
    subprocess.run([os.path.join(BIN, "kubectl"), "wait", "--for=condition=Available", "deployment", "--all", "-A",
                    "--timeout=600s"], env=env, check=True, capture_output=True)
    time.sleep(3)  # let the istiod runner start its pilot-discovery
    return names


def run_playbook(playbook, extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN + os.pathsep + os.environ["PATH"])
    start = time.perf_counter()
    process = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), playbook, "-i", "localhost,", "-c",
                              "local", "-e", "ansible_python_interpreter=" + sys.executable, "-e", json.dumps(extra)],
                             env=env, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        sys.exit(process.stdout[-3000:] + process.stderr[-2000:])
    return time.perf_counter() - start


def measure(plane, action):
    before = request_count(plane)
    seconds = action()
    return {"seconds": round(seconds, 1), "api_requests": request_count(plane) - before}


def ours(plane, names, directory, batch_size):
    playbook = os.path.join(directory, "ours.yml")
    with open(playbook, "w") as handle:
        json.dump([{"name": "Inject with the collection", "hosts": "localhost", "gather_facts": False,
                    "module_defaults": {"group/adoptmesh.istio.k8s": {"kubeconfig": plane.kubeconfig}},
                    "roles": [{"role": "adoptmesh.istio.sidecar_injection",
                               "sidecar_injection_namespaces": names, "sidecar_injection_batch_size": batch_size}]}], handle)
    first = measure(plane, lambda: run_playbook(playbook, {}))
    again = measure(plane, lambda: run_playbook(playbook, {}))
    return {"first_run": first, "re_run": again}


def baseline(plane, names, directory, batch_size):  # the baseline has no batches
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra = {"bench_kubeconfig": plane.kubeconfig, "bench_namespaces": names, "bench_stamp": stamp}
    return {"first_run": measure(plane, lambda: run_playbook(os.path.join(REPO, "benchmarks", "baseline",
                                                                          "inject-per-object.yml"), extra))}


def floor(plane, names, directory, batch_size):  # the floor restarts all at once
    def bulk():
        start = time.perf_counter()
        client = kubernetes_client(plane)
        namespaces = client.resources.get(api_version="v1", kind="Namespace")
        deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
        pods = client.resources.get(api_version="v1", kind="Pod")
        for name in names:
            namespaces.server_side_apply(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": name, "labels": {"istio-injection": "enabled"}}}, field_manager="floor")
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        listed = json.loads(deployments.get(serialize=False).data)["items"]
        for item in listed:
            if item["metadata"]["namespace"] in names:
                deployments.patch(name=item["metadata"]["name"], namespace=item["metadata"]["namespace"],
                                  body={"spec": {"template": {"metadata": {"annotations": {
                                      "kubectl.kubernetes.io/restartedAt": stamp}}}}})
        while True:
            current = json.loads(deployments.get(serialize=False).data)["items"]
            done = all(d["status"].get("updatedReplicas", 0) >= 1 and d["status"].get("availableReplicas", 0) >= 1
                       and d["status"].get("replicas", 0) <= 1 for d in current if d["metadata"]["namespace"] in names)
            if done:
                break
            time.sleep(1)
        json.loads(pods.get(serialize=False).data)
        return time.perf_counter() - start
    return {"first_run": measure(plane, bulk)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--deployments", type=int, default=10, help="per namespace")
    parser.add_argument("--variants", default="ours,baseline,floor")
    parser.add_argument("--batch-size", type=int, default=50, help="the role's sidecar_injection_batch_size")
    args = parser.parse_args()
    figures = {"namespaces": args.namespaces, "deployments": args.namespaces * args.deployments,
               "batch_size": args.batch_size}
    for variant in args.variants.split(","):
        plane = start_plane("bench-inject-" + variant)
        try:
            names = seed(plane, args.namespaces, args.deployments)
            figures[variant] = {"ours": ours, "baseline": baseline, "floor": floor}[variant](
                plane, names, plane.run_dir, args.batch_size)
        finally:
            plane.stop()
    report("inject stage", figures)


if __name__ == "__main__":
    main()
