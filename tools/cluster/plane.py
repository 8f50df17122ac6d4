#!/usr/bin/env python
"""A real Kubernetes control plane on loopback, for the demo and the integration tests.

etcd -> kube-apiserver -> kube-controller-manager -> kube-scheduler -> kwok (fake nodes), each
its own process, built from pinned Go modules by tools/cluster/build.sh. Several planes can run
at once: every plane picks free ports when it starts and keeps everything (certificates, etcd
data, logs, kubeconfig, process ids) in its own run folder.

Command line (the Makefile's cluster-up / cluster-down):
    plane.py up [--name NAME] [--nodes N]     start, print KUBECONFIG=<path>, leave it running
    plane.py down [--name NAME | --all]       stop it and remove its run folder
    plane.py status [--name NAME]

Python (pytest fixtures):
    plane = ControlPlane(name="t1"); plane.start(); ...; plane.stop()
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN_DIR = os.path.join(REPO, ".build", "bin")
DEFAULT_RUN_ROOT = os.path.join(REPO, ".cluster")
DEFAULT_CHARTS_DIR = os.path.join(REPO, ".build", "content", "charts")
# Where Istio publishes its charts on ghcr.io (oci://ghcr.io/istio/release/charts); the plane's
# registry serves them under the same path.
OCI_CHARTS_PATH = "istio/release/charts"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.64.0.1/12"
# Room for the benchmarks' thousands of pods (plus rollout surges) on the two default nodes.
PODS_PER_NODE = 5000


def node_pod_cidr(index):
    """Node `index`'s /18 of the cluster's pod range (10.64.0.0/12): room for PODS_PER_NODE."""
    return "10.{0}.{1}.0/18".format(64 + index // 4, (index % 4) * 64)


# The controller-manager's and scheduler's own client limits (20 and 50 requests per second by
# default) would make them, not the code under test, the bottleneck once thousands of pods roll
# out: this plane has no other tenants to protect, so they are lifted as kwokctl does.
CLIENT_RATE_ARGS = ["--kube-api-qps", "2000", "--kube-api-burst", "4000"]
START_TIMEOUT = 120.0


class PlaneError(RuntimeError):
    """The control plane could not be started or reached; the message says which part and why."""


_HANDED_OUT = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port():
    """A loopback port free now and never handed out before by this process: planes started side
    by side (a fleet) must not be given the same port between its check and its use."""
    with _HANDED_OUT_LOCK:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


# --- certificates -------------------------------------------------------------------------

def _write_key(path, key):
    with open(path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _write_cert(path, cert):
    with open(path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name, organizations=()):
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


class Pki:
    """A CA for one plane and the certificates it signs (EC P-256: fast to generate)."""

    def __init__(self, directory):
        self.directory = directory
        self.ca_cert_path = os.path.join(directory, "ca.crt")
        self.ca_key_path = os.path.join(directory, "ca.key")

    def path(self, name):
        return os.path.join(self.directory, name)

    def create_ca(self):
        os.makedirs(self.directory, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(_name("adoptmesh-local-ca")).issuer_name(_name("adoptmesh-local-ca"))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_key(self.ca_key_path, key)
        _write_cert(self.ca_cert_path, cert)

    def _ca(self):
        with open(self.ca_key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        with open(self.ca_cert_path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        return key, cert

    def issue(self, name, common_name, organizations=(), dns_names=(), ip_addresses=(), server=False):
        """Sign a certificate; writes <name>.crt and <name>.key and returns their paths."""
        import ipaddress
        ca_key, ca_cert = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH] if server else [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(common_name, organizations)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usage), critical=False))
        alt_names = [x509.DNSName(dns) for dns in dns_names]
        alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        cert_path, key_path = self.path(name + ".crt"), self.path(name + ".key")
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
        return cert_path, key_path

    def service_account_keys(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(self.path("sa.key"), key)
        with open(self.path("sa.pub"), "wb") as handle:
            handle.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))


def write_kubeconfig(path, server, ca_path, cert_path, key_path, cluster, user):
    """A kubeconfig with the certificates embedded, so it can be copied anywhere."""
    import base64

    def b64(file_path):
        with open(file_path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")

    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64(ca_path)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert_path),
                                          "client-key-data": b64(key_path)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }
    with open(path, "w") as handle:
        json.dump(config, handle, indent=2)
    os.chmod(path, 0o600)
    return path


# --- processes ----------------------------------------------------------------------------

def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open("/proc/{0}/stat".format(pid)) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_pids(pids, timeout=15.0):
    """SIGTERM every process group, then SIGKILL what is left after timeout."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    # A killed process needs a moment to be gone; callers check that nothing is left.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


class ControlPlane:
    """One local control plane. `start()` returns when the API serves and the nodes are Ready."""

    COMPONENTS = ("egress", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
                  "istiod-runner", "charts", "cert-manager-controller")

    def __init__(self, name="local", nodes=2, bin_dir=DEFAULT_BIN_DIR, run_root=DEFAULT_RUN_ROOT,
                 charts_dir=DEFAULT_CHARTS_DIR):
        self.name = name
        self.charts_dir = charts_dir
        self.node_count = nodes
        self.bin_dir = bin_dir
        self.run_dir = os.path.join(run_root, name)
        self.pki = Pki(os.path.join(self.run_dir, "pki"))
        self.log_dir = os.path.join(self.run_dir, "logs")
        self.kubeconfig = os.path.join(self.run_dir, "kubeconfig")
        self.state_path = os.path.join(self.run_dir, "state.json")
        self.routes_path = os.path.join(self.run_dir, "egress-routes.json")
        self.ports = {}
        self.pids = {}

    # state ---------------------------------------------------------------------------------
    @property
    def charts_url(self):
        """The loopback Helm chart repository with the Istio charts (tools/cluster/content.sh)."""
        port = self.ports.get("charts")
        return "http://127.0.0.1:{0}".format(port) if port else None

    @property
    def charts_oci(self):
        """The loopback OCI registry's chart reference (plain HTTP), the same charts as charts_url."""
        port = self.ports.get("registry")
        return "oci://127.0.0.1:{0}/{1}".format(port, OCI_CHARTS_PATH) if port else None

    @property
    def server(self):
        return "https://127.0.0.1:{0}".format(self.ports["apiserver"])

    def _save(self):
        with open(self.state_path, "w") as handle:
            json.dump({"name": self.name, "ports": self.ports, "pids": self.pids,
                       "kubeconfig": self.kubeconfig, "server": self.server, "charts_url": self.charts_url,
                       "charts_oci": self.charts_oci},
                      handle, indent=2)

    @classmethod
    def load(cls, name="local", run_root=DEFAULT_RUN_ROOT):
        plane = cls(name=name, run_root=run_root)
        with open(plane.state_path) as handle:
            state = json.load(handle)
        plane.ports, plane.pids = state["ports"], {k: int(v) for k, v in state["pids"].items()}
        return plane

    def running(self):
        return bool(self.pids) and all(_alive(pid) for pid in self.pids.values())

    # start / stop --------------------------------------------------------------------------
    def start(self):
        missing = [c for c in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
                   if not os.access(os.path.join(self.bin_dir, c), os.X_OK)]
        if missing:
            raise PlaneError("missing binaries in {0}: {1}; run tools/cluster/build.sh (make build)".format(
                self.bin_dir, ", ".join(missing)))
        if os.path.exists(self.state_path):
            try:
                previous = ControlPlane.load(self.name, os.path.dirname(self.run_dir))
                stop_pids(list(previous.pids.values()))
            except (OSError, ValueError, KeyError):
                pass
        shutil.rmtree(self.run_dir, ignore_errors=True)
        os.makedirs(self.log_dir)
        self.ports = {"etcd": free_port(), "etcd_peer": free_port(), "apiserver": free_port(),
                      "controller_manager": free_port(), "scheduler": free_port(), "kwok": free_port()}
        try:
            self._make_pki()
            self._start_egress()
            self._start_etcd()
            self._start_apiserver()
            self._start_controller_manager()
            self._start_scheduler()
            self._start_kwok()
            self._create_nodes()
            self._wait_ready()
            self._start_istiod_runner()
            self._start_chart_repository()
            self._start_registry()
            self._start_cert_manager()
        except BaseException:
            self.stop(remove=False)
            raise
        return self

    def stop(self, remove=True):
        stop_pids(list(reversed(list(self.pids.values()))))
        self.pids = {}
        if remove:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def stop_apiserver(self):
        """Stop the API server (a cluster whose API is down); start_apiserver() brings it back.
        The controller manager stops with it, as it would beside a control plane that went down."""
        pids = [self.pids.pop(c, None) for c in ("kube-apiserver", "kube-controller-manager")]
        stop_pids([pid for pid in pids if pid])
        self._save()

    def start_apiserver(self):
        """Start the API server again on the same port, with the same certificates and etcd; once
        kwok has renewed every node's lease on it, start the controller manager again. Started
        before, the node controller would judge the nodes by the leases that went stale while the
        API was down, mark them and their pods NotReady, and kwok never marks running pods ready
        again (its pod-ready stage handles new pods only)."""
        restarted = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        self._start_apiserver()

        def leases_renewed():
            leases = self.api("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")["items"]
            renewed = [item for item in leases if ((item.get("spec") or {}).get("renewTime") or "")[:19] >= restarted]
            return len(renewed) >= self.node_count

        self._wait("kwok", leases_renewed)
        self._start_controller_manager()
        self._save()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _make_pki(self):
        self.pki.create_ca()
        self.pki.issue("apiserver", "kube-apiserver", server=True,
                       dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                  "kubernetes.default.svc.cluster.local"),
                       ip_addresses=("127.0.0.1", "10.96.0.1"))
        cert, key = self.pki.issue("admin", "adoptmesh-admin", organizations=("system:masters",))
        self.pki.service_account_keys()
        write_kubeconfig(self.kubeconfig, self.server, self.pki.ca_cert_path, cert, key,
                         cluster="adoptmesh-" + self.name, user="admin")

    def user_kubeconfig(self, user, groups=()):
        """A kubeconfig for another user (a client certificate signed by this plane's CA)."""
        cert, key = self.pki.issue("user-" + user, user, organizations=groups)
        path = os.path.join(self.run_dir, "kubeconfig-" + user)
        return write_kubeconfig(path, self.server, self.pki.ca_cert_path, cert, key,
                                cluster="adoptmesh-" + self.name, user=user)

    def _spawn(self, component, args, command=None):
        log = open(os.path.join(self.log_dir, component + ".log"), "ab")
        try:
            process = subprocess.Popen((command or [os.path.join(self.bin_dir, component)]) + args, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=self.run_dir)
        finally:
            log.close()
        self.pids[component] = process.pid
        self._save()

    @property
    def egress_socket(self):
        # Unix socket paths are limited to about 100 bytes; a deep checkout gets a short one.
        path = os.path.join(self.run_dir, "egress.sock")
        if len(path) > 100:
            path = os.path.join("/tmp", "adoptmesh-egress-{0}-{1}.sock".format(self.name, os.getpid()))
        return path

    def _start_egress(self):
        with open(self.routes_path, "w") as handle:
            handle.write("{}")
        socket_path = self.egress_socket
        self.ports["egress_socket"] = socket_path
        self._spawn("egress", [socket_path, self.routes_path],
                    command=[sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "egress.py")])
        self._wait("egress", lambda: os.path.exists(socket_path))
        with open(os.path.join(self.run_dir, "egress-selector.yaml"), "w") as handle:
            handle.write(
                "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\n"
                "egressSelections:\n- name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n"
                "    transport:\n      uds:\n        udsName: {0}\n".format(socket_path))

    def add_route(self, namespace, service, port, local_port):
        """Send the apiserver's calls to Service namespace/service:port to 127.0.0.1:local_port."""
        cluster_ip = self.api("GET", "/api/v1/namespaces/{0}/services/{1}".format(namespace, service))["spec"]["clusterIP"]
        routes = json.load(open(self.routes_path))
        routes["{0}:{1}".format(cluster_ip, port)] = "127.0.0.1:{0}".format(local_port)
        temporary = self.routes_path + ".new"
        with open(temporary, "w") as handle:
            json.dump(routes, handle, indent=2)
        os.replace(temporary, self.routes_path)

    def _start_etcd(self):
        client = "http://127.0.0.1:{0}".format(self.ports["etcd"])
        peer = "http://127.0.0.1:{0}".format(self.ports["etcd_peer"])
        self._spawn("etcd", [
            "--name", "etcd", "--data-dir", os.path.join(self.run_dir, "etcd-data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "etcd=" + peer, "--unsafe-no-fsync", "--log-level", "warn",
            "--listen-metrics-urls", "",
        ])
        self._wait("etcd", lambda: self._http_ok(client + "/health"))

    def _start_apiserver(self):
        pki = self.pki.path
        self._spawn("kube-apiserver", [
            "--etcd-servers", "http://127.0.0.1:{0}".format(self.ports["etcd"]),
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.ports["apiserver"]),
            "--tls-cert-file", pki("apiserver.crt"), "--tls-private-key-file", pki("apiserver.key"),
            "--client-ca-file", self.pki.ca_cert_path,
            "--authorization-mode", "Node,RBAC",
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", pki("sa.pub"),
            "--service-account-signing-key-file", pki("sa.key"),
            "--allow-privileged=true",
            # Endpoints may not hold loopback addresses: keep the apiserver from publishing its own.
            "--endpoint-reconciler-type", "none",
            # Calls to Services, Pods and nodes (webhooks above all) go through the egress proxy,
            # which reaches only loopback backends the plane registered: nothing leaves the machine.
            "--egress-selector-config-file", os.path.join(self.run_dir, "egress-selector.yaml"),
            "--cert-dir", os.path.join(self.run_dir, "apiserver-certs"),
            "--profiling=false",
        ])
        self._wait("kube-apiserver", lambda: self._https_ok("/readyz"))

    def _component_kubeconfig(self):
        return self.kubeconfig

    def _start_served_component(self, component, port_key, extra_args):
        """A component that serves /healthz on loopback and talks to the API as the admin."""
        self._spawn(component, [
            "--kubeconfig", self.kubeconfig, "--authentication-kubeconfig", self.kubeconfig,
            "--authorization-kubeconfig", self.kubeconfig,
            "--leader-elect=false", "--bind-address", "127.0.0.1",
            "--secure-port", str(self.ports[port_key]),
            "--cert-dir", os.path.join(self.run_dir, component + "-certs"),
            "--profiling=false",
        ] + extra_args)
        self._wait(component, lambda: self._https_ok("/healthz", port=self.ports[port_key], verify=False))

    def _start_controller_manager(self):
        self._start_served_component("kube-controller-manager", "controller_manager", [
            "--service-account-private-key-file", self.pki.path("sa.key"),
            "--root-ca-file", self.pki.ca_cert_path, "--use-service-account-credentials=true",
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--controllers", "*,-nodeipam,-cloud-node-lifecycle,-service,-route",
        ] + CLIENT_RATE_ARGS)

    def _start_scheduler(self):
        self._start_served_component("kube-scheduler", "scheduler", CLIENT_RATE_ARGS)

    def _start_kwok(self):
        config = os.path.join(self.run_dir, "kwok.yaml")
        with open(config, "w") as handle:
            # An explicit, empty configuration: kwok's built-in stages (node ready, pod ready,
            # pod complete, pod delete) apply, and nothing from ~/.kwok is picked up.
            handle.write("apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n")
        self._spawn("kwok", [
            "--kubeconfig", self.kubeconfig, "--config", config, "--manage-all-nodes=true",
            "--cidr", POD_CIDR, "--node-ip", "10.63.0.1",
            # Node leases, renewed every 10 s as a kubelet does. Without them kwok's node
            # heartbeat comes about once a minute, later than the node lifecycle controller's
            # 50 s grace: the nodes flap NotReady, every pod is marked unready, and kwok never
            # marks them ready again (its pod-ready stage only handles new pods).
            "--node-lease-duration-seconds", "40",
            "--server-address", "127.0.0.1:{0}".format(self.ports["kwok"]),
        ])

    def _create_nodes(self):
        for index in range(self.node_count):
            node = {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {
                    "name": "kwok-node-{0}".format(index),
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {"type": "kwok", "kubernetes.io/hostname": "kwok-node-{0}".format(index),
                               "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                               "node-role.kubernetes.io/agent": ""},
                },
                # A pod range per node, as node IPAM gives a kubelet (kwok takes pod IPs from it).
                "spec": {"podCIDR": node_pod_cidr(index), "podCIDRs": [node_pod_cidr(index)]},
                "status": {
                    "allocatable": {"cpu": "256", "memory": "1Ti", "pods": str(PODS_PER_NODE)},
                    "capacity": {"cpu": "256", "memory": "1Ti", "pods": str(PODS_PER_NODE)},
                },
            }
            self.api("POST", "/api/v1/nodes", node)

    def _wait_ready(self):
        def nodes_ready():
            items = self.api("GET", "/api/v1/nodes")["items"]
            ready = [n for n in items if any(c.get("type") == "Ready" and c.get("status") == "True"
                                             for c in n.get("status", {}).get("conditions", []))]
            return len(ready) >= self.node_count

        def default_service_account():
            try:
                self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")
                return True
            except PlaneError:
                return False

        self._wait("kwok", nodes_ready)
        self._wait("kube-controller-manager", default_service_account)

    def _start_istiod_runner(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self._spawn("istiod-runner", [os.path.dirname(self.run_dir), self.name],
                    command=[sys.executable, os.path.join(here, "istiod_runner.py")])

    def _start_cert_manager(self):
        """cert-manager's CRDs and its certificate controllers (built from its Go module by
        build.sh), so that Certificates really get issued. Skipped when either is missing."""
        crds = os.path.join(os.path.dirname(self.charts_dir), "crds", "cert-manager.yaml")
        binary = os.path.join(self.bin_dir, "cert-manager-controller")
        if not (os.path.isfile(crds) and os.access(binary, os.X_OK)):
            return
        kubectl = [os.path.join(self.bin_dir, "kubectl"), "--kubeconfig", self.kubeconfig]
        result = subprocess.run(kubectl + ["apply", "--server-side", "-f", crds], capture_output=True, text=True,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise PlaneError("cert-manager CRDs: kubectl apply failed: {0}".format(result.stderr.strip()))
        # Polled here rather than with `kubectl wait`, which fails instead of waiting while a new
        # CRD has no status yet (seen when several planes start at once on a busy machine).
        names = ("certificates", "certificaterequests", "issuers", "clusterissuers")

        def established():
            for name in names:
                try:
                    crd = self.api("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                   "{0}.cert-manager.io".format(name))
                except PlaneError:
                    return False
                conditions = (crd.get("status") or {}).get("conditions") or []
                if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                    return False
            return True

        deadline = time.monotonic() + 60
        while not established():
            if time.monotonic() > deadline:
                raise PlaneError("cert-manager CRDs of plane {0} not Established after 60s".format(self.name))
            time.sleep(0.2)
        self._spawn("cert-manager-controller", ["--kubeconfig", self.kubeconfig])

    def _start_chart_repository(self):
        if not os.path.isfile(os.path.join(self.charts_dir, "index.yaml")):
            return
        self.ports["charts"] = free_port()
        self._spawn("charts", ["-m", "http.server", "--bind", "127.0.0.1", "--directory", self.charts_dir,
                               str(self.ports["charts"])], command=[sys.executable])
        self._wait("charts", lambda: self._http_ok(self.charts_url + "/index.yaml"))

    def _start_registry(self):
        """The CNCF distribution registry, read-only over the storage content.sh filled with
        `helm push`: every plane serves the same manifests, so their digests are the same."""
        storage = os.path.join(os.path.dirname(self.charts_dir), "oci")
        binary = os.path.join(self.bin_dir, "registry")
        if not os.path.isdir(storage) or not os.access(binary, os.X_OK):
            return
        self.ports["registry"] = free_port()
        config = os.path.join(self.run_dir, "registry.yml")
        with open(config, "w") as handle:
            handle.write("version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {0}}}\n"
                         "  maintenance: {{readonly: {{enabled: true}}}}\nhttp:\n  addr: 127.0.0.1:{1}\n".format(
                             json.dumps(storage), self.ports["registry"]))
        # No telemetry exporter: nothing may leave the machine.
        self._spawn("registry", ["OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true", binary, "serve", config],
                    command=["env"])
        self._wait("registry", lambda: self._http_ok("http://127.0.0.1:{0}/v2/".format(self.ports["registry"])))

    # HTTP helpers --------------------------------------------------------------------------
    def _ssl_context(self, verify=True):
        context = ssl.create_default_context(cafile=self.pki.ca_cert_path)
        context.load_cert_chain(self.pki.path("admin.crt"), self.pki.path("admin.key"))
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def api(self, method, path, body=None, timeout=10):
        """A request to the apiserver as the admin user; returns the decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._ssl_context(), timeout=timeout) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise PlaneError("{0} {1}: HTTP {2}: {3}".format(method, path, error.code, error.read()[:300]))
        except (urllib.error.URLError, OSError) as error:
            raise PlaneError("{0} {1}: {2}".format(method, path, error))

    @staticmethod
    def _http_ok(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _https_ok(self, path, port=None, verify=True):
        url = "https://127.0.0.1:{0}{1}".format(port or self.ports["apiserver"], path)
        try:
            with urllib.request.urlopen(url, context=self._ssl_context(verify), timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _wait(self, component, check, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pids.get(component)
            if pid is not None and not _alive(pid):
                raise PlaneError("{0} of plane {1} exited during start-up; last log lines:\n{2}".format(
                    component, self.name, self.log_tail(component)))
            if check():
                return
            time.sleep(0.2)
        raise PlaneError("{0} of plane {1} not ready after {2:.0f}s; last log lines:\n{3}".format(
            component, self.name, timeout, self.log_tail(component)))

    def log_tail(self, component, lines=20):
        try:
            with open(os.path.join(self.log_dir, component + ".log"), "rb") as handle:
                return b"\n".join(handle.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local Kubernetes control plane on loopback.")
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--name", default="local", help="plane name (run folder .cluster/NAME)")
    parser.add_argument("--nodes", type=int, default=2, help="number of kwok nodes")
    parser.add_argument("--all", action="store_true", help="with down: every plane in .cluster/")
    args = parser.parse_args(argv)

    if args.action == "up":
        plane = ControlPlane(name=args.name, nodes=args.nodes)
        try:
            plane.start()
        except PlaneError as error:
            sys.exit("cluster-up: {0}".format(error))
        print("plane {0} is ready: {1}, {2} kwok nodes, logs in {3}".format(
            plane.name, plane.server, plane.node_count, plane.log_dir))
        if plane.charts_url:
            print("Istio chart repository: {0}".format(plane.charts_url))
        if plane.charts_oci:
            print("Istio charts over OCI (plain HTTP): {0}".format(plane.charts_oci))
        print("KUBECONFIG={0}".format(plane.kubeconfig))
        return 0
    names = (sorted(os.listdir(DEFAULT_RUN_ROOT)) if args.all and os.path.isdir(DEFAULT_RUN_ROOT)
             else [args.name])
    for name in names:
        try:
            plane = ControlPlane.load(name)
        except (OSError, ValueError, KeyError):
            print("plane {0}: not running".format(name))
            continue
        if args.action == "down":
            plane.stop()
            print("plane {0}: stopped".format(name))
        else:
            print("plane {0}: {1} at {2}, KUBECONFIG={3}".format(
                name, "running" if plane.running() else "not running (stale state)", plane.server,
                plane.kubeconfig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
