"""Result keys Ansible reads itself must never be a module's own output: a list under `skipped`
makes the task show as skipped (and loses `changed` and `--diff`), `attempts` belongs to `until`."""

import ast
import pathlib

import pytest
import yaml

MODULES = sorted((pathlib.Path(__file__).resolve().parents[4] / "plugins" / "modules").glob("*.py"))
# Keys the task executor, callbacks or loops interpret (ansible-core's TaskResult and executor);
# `exception` is left out: fail_json(exception=...) is how a module hands Ansible its traceback.
RESERVED = {"skipped", "skip_reason", "attempts", "retries", "results", "failed", "unreachable", "rc",
            "stdout", "stderr", "stdout_lines", "stderr_lines", "invocation", "warnings",
            "deprecations", "ansible_facts", "item", "ansible_loop_var", "censored"}


def _documented_return(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "RETURN":
            return yaml.safe_load(node.value.value) or {}
    raise AssertionError("{0} has no RETURN".format(path.name))


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_module_documents_a_reserved_result_key(path):
    assert not set(_documented_return(path)) & RESERVED


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_module_returns_a_reserved_key_by_name(path):
    """exit_json/fail_json keywords and literal keys of the dicts the module returns."""
    tree = ast.parse(path.read_text())
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("exit_json", "fail_json"):
            named.update(k.arg for k in node.keywords if k.arg)
    assert not named & RESERVED


def test_a_translation_names_its_untranslated_ingresses_without_the_reserved_key():
    from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import Translator, Options

    other = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
             "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"ingressClassName": "traefik", "rules": [{"host": "a.example"}]}}
    result = Translator(Options()).translate([other], []).as_dict()
    assert "skipped" not in result
    assert result["not_translated"][0]["ingress"] == "shop/web"
