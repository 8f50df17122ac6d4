"""Shared helpers of the benchmarks: a plane of their own, bulk creation, timing, memory."""

import json
import os
import platform
import resource
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools", "cluster"))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

import plane as plane_module  # noqa: E402


def machine():
    """One line describing where the figures were taken."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "{0} cores ({1}), {2:.0f} GiB, Python {3}".format(os.cpu_count(), cpu, memory, platform.python_version())


def timed(function, *args, repeat=3, **kwargs):
    """Best wall time of `repeat` runs and the last result."""
    best, result = None, None
    for attempt in range(repeat):  # noqa: B007  (only the count matters)
        start = time.perf_counter()
        result = function(*args, **kwargs)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def kubernetes_client(plane):
    import kubernetes
    from kubernetes.dynamic import DynamicClient
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=plane.kubeconfig, client_configuration=configuration)
    # Bulk creation wants more than urllib3's default of 4 pooled connections.
    configuration.connection_pool_maxsize = 32
    return DynamicClient(kubernetes.client.ApiClient(configuration))


def create_all(plane, objects, workers=16):
    """Create objects with a pool of threads sharing one client (setup only, not measured)."""
    from concurrent.futures import ThreadPoolExecutor
    client = kubernetes_client(plane)
    resources = {}

    def create(obj):
        key = (obj["apiVersion"], obj["kind"])
        if key not in resources:
            resources[key] = client.resources.get(api_version=key[0], kind=key[1])
        resources[key].create(body=obj, namespace=obj["metadata"].get("namespace"))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, objects))


def wait_for_deployment_controller(plane, namespace, count, timeout=600):
    """Wait until the deployment controller has caught up with `count` new Deployments: a
    ReplicaSet for each and every status observed. Until then the apiserver and the controller
    keep both cores busy, and any figure taken meanwhile measures that churn. Returns seconds."""
    start = time.perf_counter()
    base = "/apis/apps/v1/namespaces/{0}/".format(namespace)
    while time.perf_counter() - start < timeout:
        # A one-item page says how many ReplicaSets exist without listing them all.
        page = plane.api("GET", base + "replicasets?limit=1")
        if page.get("items") and 1 + (page["metadata"].get("remainingItemCount") or 0) >= count:
            deployments = plane.api("GET", base + "deployments", timeout=120)["items"]
            if all((d.get("status") or {}).get("observedGeneration") == d["metadata"]["generation"]
                   and (d.get("status") or {}).get("conditions") for d in deployments):
                return time.perf_counter() - start
        time.sleep(2)
    raise RuntimeError("the deployment controller did not catch up with {0} Deployments in {1} s".format(
        count, timeout))


def start_plane(name):
    plane = plane_module.ControlPlane(name=name)
    plane.start()
    return plane


def report(name, figures):
    print(json.dumps({"benchmark": name, "machine": machine(), "figures": figures}, indent=2))
