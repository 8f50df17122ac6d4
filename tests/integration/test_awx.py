"""What AWX and Automation Platform run: the execution environment's build context, and the AWX
project skeleton run by ansible-runner (AWX's own engine) from an AWX-style private data dir."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import BIN, ISTIO_CHART_VERSIONS, REPO, Tool, own_plane
from test_adoption_playbook import ESTATE
from test_collection_build import VENV, InstalledCollection, run


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return InstalledCollection(tmp_path_factory.mktemp("installed"))


def galaxy_version():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["version"]


def test_ansible_builder_creates_the_execution_environment_context_offline(collection, tmp_path):
    source = tmp_path / "ee"
    shutil.copytree(os.path.join(REPO, "execution-environment"), str(source / "execution-environment"))
    for name in ("requirements.txt", "bindep.txt"):
        shutil.copy(os.path.join(REPO, name), str(source / name))
    (source / "execution-environment" / "collections").mkdir()
    shutil.copy(collection.tarball, str(source / "execution-environment" / "collections"))
    # Nothing may be fetched while the context is written: every proxy points at a closed port.
    closed = "http://127.0.0.1:9"
    env = dict(os.environ, http_proxy=closed, https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed,
               PIP_NO_INDEX="1")
    run(os.path.join(VENV, "ansible-builder"), "create", "-f", "execution-environment/execution-environment.yml",
        "-c", "context", "--output-filename", "Containerfile", env=env, cwd=str(source))
    context = source / "context"
    containerfile = (context / "Containerfile").read_text()
    build = context / "_build"
    # The collection: the tarball as built, named by the galaxy requirements installed in the galaxy stage.
    tarball = "adoptmesh-istio-{0}.tar.gz".format(galaxy_version())
    assert (build / "collections" / tarball).read_bytes() == open(collection.tarball, "rb").read()
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert {"name": "collections/" + tarball, "type": "file"} in requirements["collections"]
    assert any(c["name"] == "kubernetes.core" for c in requirements["collections"])
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    # Its Python and system dependencies.
    assert (build / "requirements.txt").read_text() == open(os.path.join(REPO, "requirements.txt")).read()
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    # helm and istioctl, each checked against its published checksum, and run once in the image.
    for tool, url in (("helm", "https://get.helm.sh/helm-v${HELM_VERSION}"),
                      ("istioctl", "https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/istioctl-")):
        assert url in containerfile and "/tmp/{0}.tar.gz\" | sha256sum -c -".format(tool) in containerfile
        assert "tar -xzf /tmp/{0}.tar.gz -C /usr/local/bin".format(tool) in containerfile
    assert "RUN helm version --short && istioctl version --remote=false" in containerfile
    assert containerfile.index("FROM base AS final") < containerfile.index("ARG HELM_VERSION")
    # ansible-core and Python pinned by the definition, not taken from whatever the base image has.
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.17,<2.21 ' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile and 'ARG PYPKG="python3.11"' in containerfile


def test_the_awx_project_installs_the_collection_from_its_own_tarball_without_galaxy(collection, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(os.path.join(REPO, "awx", "project"), str(project))
    requirements = yaml.safe_load((project / "collections" / "requirements.yml").read_text())
    [own] = [c for c in requirements["collections"] if "adoptmesh" in c["name"]]
    assert own == {"name": "collections/adoptmesh-istio-{0}.tar.gz".format(galaxy_version()), "type": "file"}
    shutil.copy(collection.tarball, str(project / "collections"))
    # As AWX's project update runs it, from the project's folder, with Galaxy out of reach.
    closed = "http://127.0.0.1:9"
    env = dict(collection.env, http_proxy=closed, https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed,
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "installed"))
    only_own = tmp_path / "own.yml"
    only_own.write_text(yaml.safe_dump({"collections": [own]}))
    run(os.path.join(VENV, "ansible-galaxy"), "collection", "install", "--no-deps", "-r", str(only_own),
        "-p", str(tmp_path / "installed"), env=env, cwd=str(project))
    manifest = json.loads((tmp_path / "installed" / "ansible_collections" / "adoptmesh" / "istio" /
                           "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == galaxy_version()


@pytest.fixture(scope="module")
def runner_plane():
    with own_plane("runner") as plane:
        Tool("kubectl", plane).run("apply", "-f", ESTATE)
        Tool("kubectl", plane).run("wait", "--for=condition=Available", "deployment", "--all", "-A", "--timeout=120s")
        yield plane


def private_data_dir(directory, plane, collection, extravars):
    """An AWX-style private data dir: the project skeleton, an inventory, extravars, env vars and
    passwords, as AWX lays it out for ansible-runner."""
    shutil.copytree(os.path.join(REPO, "awx", "project"), str(directory / "project"))
    inventory = {"clusters": {"hosts": {"cluster-a": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "adoptmesh_kubeconfig": plane.kubeconfig, "adoptmesh_chart_source": plane.charts_oci,
        "adoptmesh_chart_plain_http": True,
        "adoptmesh_istio_version": ISTIO_CHART_VERSIONS[0], "adoptmesh_namespaces": ["shop", "payments"],
        "adoptmesh_helm_binary": os.path.join(BIN, "helm"),
        "adoptmesh_report_dir": str(directory / "artifacts" / "reports")}}}, "canary": {"hosts": {}}}
    (directory / "inventory").mkdir()
    (directory / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (directory / "env").mkdir()
    (directory / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (directory / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": collection.path, "ANSIBLE_NOCOLOR": "1",
        "HELM_CONFIG_HOME": str(directory / "helm"), "HELM_CACHE_HOME": str(directory / "helm-cache"),
        "HELM_DATA_HOME": str(directory / "helm-data")}))
    (directory / "env" / "passwords").write_text(yaml.safe_dump({}))
    (directory / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 1200}))
    return directory


def runner_events(directory, ident):
    events = []
    folder = directory / "artifacts" / ident / "job_events"
    for name in sorted(os.listdir(str(folder)), key=lambda n: int(n.split("-")[0])):
        with open(str(folder / name)) as handle:
            events.append(json.load(handle))
    return events


def test_ansible_runner_runs_the_awx_project_and_its_artifacts_hold_the_report(runner_plane, collection, tmp_path):
    # As the inject job template of configure_awx would launch it: the stage and the survey's
    # types as extra variables, the answers as text (a boolean answered "false").
    extravars = {"adoption_stage": "inject", "adoption_serial": 1, "adoption_max_fail_percentage": 0,
                 "adoptmesh_survey_types": {"sidecar_injection_restart": "bool",
                                            "sidecar_injection_batch_size": "int"},
                 "survey_sidecar_injection_restart": "false", "survey_sidecar_injection_batch_size": "5"}
    directory = private_data_dir(tmp_path / "job", runner_plane, collection, extravars)
    process = subprocess.run([os.path.join(VENV, "ansible-runner"), "run", str(directory), "-p", "adopt-istio.yml",
                              "--ident", "1"], capture_output=True, text=True, timeout=1500, check=False,
                             env=dict(os.environ, PATH=os.pathsep.join([VENV, os.environ["PATH"]])))
    artifacts = directory / "artifacts" / "1"
    stdout = (artifacts / "stdout").read_text() if (artifacts / "stdout").exists() else process.stdout
    assert process.returncode == 0, stdout + process.stderr
    assert (artifacts / "status").read_text() == "successful"
    assert (artifacts / "rc").read_text() == "0"
    # The per-cluster report, and where the cluster stands as set_stats data (an AWX job's artifacts).
    with open(str(directory / "artifacts" / "reports" / "cluster-a.json")) as handle:
        report = json.load(handle)
    assert report["status"] == "complete" and report["state"]["reached"] == "inject"
    [stats] = [e for e in runner_events(directory, "1") if e["event"] == "playbook_on_stats"]
    assert stats["event_data"]["artifact_data"]["adoptmesh_clusters"]["cluster-a"]["reached"] == "inject"
    # The survey's "false" arrived as a boolean: the namespaces are labelled, no workload restarted.
    assert "sidecar_injection_restart" in stdout
    shop = report["namespaces"]["shop"]
    assert shop["injection"] and shop["pods"] > 0 and shop["with_sidecar"] == 0, shop
    labels = Tool("kubectl", runner_plane).json("get", "namespace", "shop")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
