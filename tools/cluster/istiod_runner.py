#!/usr/bin/env python
"""Runs the real istiod (pilot-discovery) on loopback for every istiod a chart installs.

On kwok nodes the istiod pod is fake, so its sidecar-injection and validation webhooks would
have no server. This process plays the kubelet's part for istiod only: it watches for Services
labelled `app=istiod` (one per revision), starts `pilot-discovery discovery` for each with the
same revision and namespace the pod would have, and routes the apiserver's calls to that
Service's webhook port (443) to the loopback port it serves on (see egress.py). Injection,
validation and the webhook's CA bundle patching are then Istio's own code. When the Service
goes away, its pilot-discovery is stopped.

    istiod_runner.py RUN_ROOT PLANE_NAME
"""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plane as plane_module  # noqa: E402  (needs the path above)

POLL_SECONDS = 1.0


def main():
    run_root, name = sys.argv[1], sys.argv[2]
    plane = plane_module.ControlPlane.load(name, run_root)
    running = {}  # (namespace, service) -> Popen
    stopping = []

    def stop(*_):
        stopping.append(True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            services = plane.api("GET", "/api/v1/services?labelSelector=app%3Distiod")["items"]
        except plane_module.PlaneError as error:
            print("cannot list istiod services: {0}".format(error), flush=True)
            time.sleep(POLL_SECONDS)
            continue
        wanted = {}
        for service in services:
            metadata = service["metadata"]
            wanted[(metadata["namespace"], metadata["name"])] = metadata.get("labels", {}).get("istio.io/rev", "default")
        for key, revision in wanted.items():
            process = running.get(key)
            if process is None or process.poll() is not None:
                running[key] = start_istiod(plane, key[0], key[1], revision)
        for key in [k for k in running if k not in wanted]:
            print("stopping istiod for {0}/{1}".format(*key), flush=True)
            plane_module.stop_pids([running.pop(key).pid])
        time.sleep(POLL_SECONDS)
    plane_module.stop_pids([process.pid for process in running.values()])


def start_istiod(plane, namespace, service, revision):
    ports = dict((name, plane_module.free_port()) for name in ("http", "https", "grpc", "secure_grpc", "monitoring", "ctrlz"))
    work_dir = os.path.join(plane.run_dir, "istiod", "{0}-{1}".format(namespace, service))
    os.makedirs(work_dir, exist_ok=True)
    environment = dict(os.environ, POD_NAME=service + "-local", POD_NAMESPACE=namespace, SERVICE_ACCOUNT="istiod",
                       REVISION=revision, PILOT_CERT_PROVIDER="istiod", CLUSTER_ID="Kubernetes",
                       PILOT_ENABLE_ANALYSIS="false", KUBECONFIG=plane.kubeconfig)
    log = open(os.path.join(plane.log_dir, "istiod-{0}-{1}.log".format(namespace, service)), "ab")
    try:
        # The working folder has no ./etc/istio or ./var/lib/istio: istiod then reads its mesh
        # and injection configuration from the ConfigMaps the chart created, as in a cluster.
        process = subprocess.Popen(
            [os.path.join(plane.bin_dir, "pilot-discovery"), "discovery", "--kubeconfig", plane.kubeconfig,
             "--httpAddr", "127.0.0.1:{0}".format(ports["http"]),
             "--httpsAddr", "127.0.0.1:{0}".format(ports["https"]),
             "--grpcAddr", "127.0.0.1:{0}".format(ports["grpc"]),
             "--secureGRPCAddr", "127.0.0.1:{0}".format(ports["secure_grpc"]),
             "--monitoringAddr", "127.0.0.1:{0}".format(ports["monitoring"]),
             "--ctrlz_port", str(ports["ctrlz"]), "--domain", "cluster.local"],
            # Same process group as this runner: stopping the plane's runner stops them too.
            cwd=work_dir, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()
    plane.add_route(namespace, service, 443, ports["https"])
    print("started istiod for {0}/{1} (revision {2}), webhooks on 127.0.0.1:{3}".format(
        namespace, service, revision, ports["https"]), flush=True)
    return process


if __name__ == "__main__":
    main()
