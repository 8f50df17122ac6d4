"""Fixtures for the integration tier: real local control planes, helm and istioctl.

Every test here talks to a real kube-apiserver (tools/cluster/plane.py). One plane is shared by
the session; tests that need a clean cluster take their own namespace. Set KEEP_PLANES=1 to keep
the planes' run folders (logs, kubeconfig) under .cluster/ after the session, for debugging.
"""

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
    tool.run("repo", "add", "istio-local", plane.charts_url)
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
