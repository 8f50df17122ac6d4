"""The collection builds, installs like a user would install it, and documents every module."""

import os
import subprocess

from conftest import REPO

MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules")) if name.endswith(".py"))


def run(*command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_built_tarball_installs_and_ansible_doc_lists_and_renders_every_module(tmp_path):
    venv = os.path.join(REPO, ".venv", "bin")
    run(os.path.join(venv, "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tmp_path), ".")
    [tarball] = [p for p in os.listdir(str(tmp_path)) if p.endswith(".tar.gz")]
    installed = tmp_path / "collections"
    # kubernetes.core (the dependency, which users get from Galaxy) is the only other collection
    # visible: the working tree must not be found instead of the installed tarball.
    dependency = tmp_path / "dependency" / "ansible_collections" / "kubernetes"
    dependency.mkdir(parents=True)
    os.symlink(os.path.join(REPO, ".build", "collections", "ansible_collections", "kubernetes", "core"),
               str(dependency / "core"))
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(config),
               ANSIBLE_COLLECTIONS_PATH=str(installed) + os.pathsep + str(tmp_path / "dependency"))
    run(os.path.join(venv, "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(installed),
        str(tmp_path / tarball), env=env)
    assert (installed / "ansible_collections" / "adoptmesh" / "istio" / "MANIFEST.json").exists()
    listed = run(os.path.join(venv, "ansible-doc"), "-l", "adoptmesh.istio", env=env)
    for module in MODULES:
        assert "adoptmesh.istio." + module in listed
    for module in MODULES:
        text = run(os.path.join(venv, "ansible-doc"), "adoptmesh.istio." + module, env=env)
        assert "EXAMPLES" in text and "RETURN VALUES" in text
    roles = run(os.path.join(venv, "ansible-doc"), "-t", "role", "-l", "adoptmesh.istio", env=env)
    for role in ("preflight", "istio_install", "sidecar_injection", "probes", "mesh_policy", "adoption_report"):
        assert "adoptmesh.istio." + role in roles
