"""Fixtures for the integration tier: real local control planes, helm and istioctl.

Every test here talks to a real kube-apiserver (tools/cluster/plane.py). One plane is shared by
the session; tests that need a clean cluster take their own namespace. Set KEEP_PLANES=1 to keep
the planes' run folders (logs, kubeconfig) under .cluster/ after the session, for debugging.
"""

import contextlib
import json
import os
import subprocess
import sys
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools", "cluster"))

import plane as plane_module  # noqa: E402

BIN = os.path.join(REPO, ".build", "bin")
ISTIO_CHART_VERSIONS = ("1.30.4-dev.9739e10eb9d7", "1.31.0-dev.eed52ebb66ad")


class Tool:
    """A command-line tool bound to one plane's kubeconfig."""

    def __init__(self, name, plane, env=None):
        self.path = os.path.join(BIN, name)
        self.plane = plane
        self.env = dict(os.environ, KUBECONFIG=plane.kubeconfig, **(env or {}))

    def run(self, *args, check=True, input=None, kubeconfig=None):
        env = dict(self.env, KUBECONFIG=kubeconfig) if kubeconfig else self.env
        result = subprocess.run([self.path] + [str(a) for a in args], input=input, env=env, check=False,
                                capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError("{0} {1} failed ({2}):\n{3}{4}".format(
                os.path.basename(self.path), " ".join(map(str, args)), result.returncode, result.stdout, result.stderr))
        return result

    def json(self, *args):
        return json.loads(self.run(*(args + ("-o", "json"))).stdout)


def start_plane(name):
    plane = plane_module.ControlPlane(name=name)
    plane.start()
    return plane


@contextlib.contextmanager
def own_plane(purpose):
    """A plane of its own for a module of tests, stopped however the module ends (a failed
    set-up included); KEEP_PLANES=1 keeps its folder for a look afterwards."""
    plane = start_plane("pytest-{0}-{1}".format(purpose, os.getpid()))
    try:
        yield plane
    finally:
        plane.stop(remove=not os.environ.get("KEEP_PLANES"))


@pytest.fixture(scope="session")
def plane():
    started = start_plane("pytest-{0}".format(os.getpid()))
    yield started
    started.stop(remove=not os.environ.get("KEEP_PLANES"))


@pytest.fixture(scope="session")
def kubectl(plane):
    return Tool("kubectl", plane)


@pytest.fixture(scope="session")
def helm(plane, tmp_path_factory):
    home = tmp_path_factory.mktemp("helm")
    tool = Tool("helm", plane, env={"HELM_CONFIG_HOME": str(home / "config"), "HELM_CACHE_HOME": str(home / "cache"),
                                    "HELM_DATA_HOME": str(home / "data")})
    return tool


@pytest.fixture(scope="session")
def istioctl(plane):
    return Tool("istioctl", plane)


@pytest.fixture
def namespace(kubectl):
    name = "t-" + uuid.uuid4().hex[:8]
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def istio(helm, kubectl):
    """Istio base + istiod from the plane's OCI registry (first pinned version)."""
    version = ISTIO_CHART_VERSIONS[0]
    helm.run("install", "istio-base", helm.plane.charts_oci + "/base", "--plain-http", "-n", "istio-system",
             "--create-namespace", "--version", version, "--wait")
    helm.run("install", "istiod", helm.plane.charts_oci + "/istiod", "--plain-http", "-n", "istio-system",
             "--version", version, "--wait")
    return version


class Playbook:
    """Runs tasks with ansible-playbook against one plane, auth passed once by module_defaults."""

    def __init__(self, plane, directory):
        self.plane = plane
        self.directory = directory
        self.count = 0

    def run(self, tasks, check=False, diff=False, extra_args=(), expect_failure=False):
        self.count += 1
        results = os.path.join(str(self.directory), "results-{0}.json".format(self.count))
        play = [{
            "name": "Integration play", "hosts": "localhost", "gather_facts": False,
            "module_defaults": {"group/adoptmesh.istio.k8s": {"kubeconfig": self.plane.kubeconfig},
                                "group/kubernetes.core.helm": {"kubeconfig": self.plane.kubeconfig,
                                                               "binary_path": os.path.join(BIN, "helm")}},
            "tasks": tasks + [{"name": "Save the registered results", "delegate_to": "localhost",
                               "check_mode": False, "changed_when": False, "ansible.builtin.copy": {
                                   "dest": results, "mode": "0600",
                                   "content": "{{ {" + ", ".join("'{0}': {0} | default(None)".format(t["register"])
                                                                 for t in tasks if "register" in t) + "} | to_json }}"}}],
        }]
        path = os.path.join(str(self.directory), "play-{0}.yml".format(self.count))
        with open(path, "w") as handle:
            json.dump(play, handle)
        command = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), path, "-i", "localhost,", "-c", "local"]
        command += (["--check"] if check else []) + (["--diff"] if diff else []) + list(extra_args)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                   ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, PATH=BIN + os.pathsep + os.environ["PATH"],
                   HELM_CONFIG_HOME=os.path.join(str(self.directory), "helm-config"),
                   HELM_CACHE_HOME=os.path.join(str(self.directory), "helm-cache"),
                   HELM_DATA_HOME=os.path.join(str(self.directory), "helm-data"))
        process = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)
        output = process.stdout + process.stderr
        if expect_failure:
            assert process.returncode != 0, output
            return None, output
        assert process.returncode == 0, output
        with open(results) as handle:
            return json.load(handle), output


@pytest.fixture
def playbook(plane, tmp_path):
    return Playbook(plane, tmp_path)


def recap_changed(output):
    """The changed= count of the play recap."""
    for line in output.splitlines():
        if "changed=" in line and "ok=" in line:
            return int(line.split("changed=")[1].split()[0])
    raise AssertionError("no play recap in:\n" + output)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """Every request the translation unit tests route, with the objects and inputs: they run once more
    with recording on (tests/unit/.../route_cases.py), for the oracle tests to judge."""
    target = tmp_path_factory.mktemp("routes") / "cases.jsonl"
    env = dict(os.environ, ADOPTMESH_ROUTE_CASES=str(target))
    unit_tests = os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "test_ingress.py")
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", unit_tests],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:]
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len({line["test"] for line in lines}) >= 40, "the translation tests recorded too few requests"
    return lines
