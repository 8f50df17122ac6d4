"""The collection builds, installs like a user would install it, documents every module and
plugin, and its playbooks run by their FQCN from the installed collection."""

import os
import subprocess

import pytest

from conftest import REPO

MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules")) if name.endswith(".py"))
FILTERS = sorted(name[:-4] for name in os.listdir(os.path.join(REPO, "plugins", "filter")) if name.endswith(".yml"))
LOOKUPS = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "lookup")) if name.endswith(".py"))
VENV = os.path.join(REPO, ".venv", "bin")


def run(*command, env=None, cwd=REPO):
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class InstalledCollection:
    """The built tarball installed with ansible-galaxy into a folder of its own. kubernetes.core
    and awx.awx (which users get from Galaxy) are the only other collections visible: the working
    tree must not be found instead of the installed tarball."""

    def __init__(self, directory):
        self.directory = directory
        run(os.path.join(VENV, "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(directory), ".")
        [self.tarball] = [str(directory / p) for p in os.listdir(str(directory)) if p.endswith(".tar.gz")]
        self.installed = directory / "collections"
        self.dependencies = directory / "dependencies"
        for namespace, name in (("kubernetes", "core"), ("awx", "awx")):
            (self.dependencies / "ansible_collections" / namespace).mkdir(parents=True)
            os.symlink(os.path.join(REPO, ".build", "collections", "ansible_collections", namespace, name),
                       str(self.dependencies / "ansible_collections" / namespace / name))
        config = directory / "ansible.cfg"
        config.write_text("[defaults]\n")
        self.path = str(self.installed) + os.pathsep + str(self.dependencies)
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=self.path, ANSIBLE_NOCOLOR="1")
        run(os.path.join(VENV, "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(self.installed),
            self.tarball, env=self.env)
        self.root = self.installed / "ansible_collections" / "adoptmesh" / "istio"


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return InstalledCollection(tmp_path_factory.mktemp("installed"))


def test_built_tarball_installs_and_ansible_doc_lists_and_renders_every_module(collection):
    env = collection.env
    assert (collection.root / "MANIFEST.json").exists()
    listed = run(os.path.join(VENV, "ansible-doc"), "-l", "adoptmesh.istio", env=env)
    for module in MODULES:
        assert "adoptmesh.istio." + module in listed
    for module in MODULES:
        text = run(os.path.join(VENV, "ansible-doc"), "adoptmesh.istio." + module, env=env)
        assert "EXAMPLES" in text and "RETURN VALUES" in text
    for name in FILTERS:
        text = run(os.path.join(VENV, "ansible-doc"), "-t", "filter", "adoptmesh.istio." + name, env=env)
        assert "EXAMPLES" in text and "RETURN VALUES" in text
    for name in LOOKUPS:
        text = run(os.path.join(VENV, "ansible-doc"), "-t", "lookup", "adoptmesh.istio." + name, env=env)
        assert "EXAMPLES" in text and "RETURN VALUES" in text
    roles = run(os.path.join(VENV, "ansible-doc"), "-t", "role", "-l", "adoptmesh.istio", env=env)
    for role in ("preflight", "istio_install", "sidecar_injection", "probes", "mesh_policy", "adoption_report"):
        assert "adoptmesh.istio." + role in roles


@pytest.mark.parametrize("playbook", ["adoptmesh.istio.adopt_istio", "adoptmesh.istio.rollback_istio",
                                      "adoptmesh.istio.upgrade_istio", "adoptmesh.istio.restore_ingresses",
                                      "adoptmesh.istio.configure_awx", "adoptmesh.istio.hosts_matched"])
def test_playbooks_run_by_fqcn_from_the_installed_collection(collection, tmp_path, playbook):
    # From an empty folder, as a user who installed the collection would: nothing of the checkout.
    output = run(os.path.join(VENV, "ansible-playbook"), playbook, "-i", "localhost,", "--list-tasks",
                 env=collection.env, cwd=str(tmp_path))
    assert "play #1" in output


def test_the_awx_surveys_build_from_the_installed_roles_and_awx_takes_them(collection, tmp_path):
    output = run(os.path.join(VENV, "ansible-playbook"), "adoptmesh.istio.configure_awx", "--tags", "surveys",
                 env=collection.env, cwd=str(tmp_path))
    assert "failed=0" in output and "item=strict" in output and "item=rollback" in output
    # The workflow is made from the one list of stages, with the approval before STRICT.
    assert "install -> inject -> ingress -> approve-strict -> strict" in output


@pytest.mark.parametrize("asks", ['"install"', '{"canary": []}', '{"install": "istio_install_version"}'])
def test_the_awx_settings_per_stage_are_checked_before_anything_is_built(collection, tmp_path, asks):
    completed = subprocess.run([os.path.join(VENV, "ansible-playbook"), "adoptmesh.istio.configure_awx", "--tags",
                                "surveys", "-e", '{"adoptmesh_awx_asks": ' + asks + '}'],
                               env=collection.env, cwd=str(tmp_path), capture_output=True, text=True, check=False)
    assert completed.returncode != 0 and "adoptmesh_awx_asks must map stage names" in completed.stdout
