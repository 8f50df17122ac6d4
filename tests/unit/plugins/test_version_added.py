"""Every `version_added` names a release of this collection: one in the changelog, or the version
`galaxy.yml` is about to release. Nothing claims a version that does not exist."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _versions_added():
    for path in sorted((ROOT / "plugins").rglob("*")):
        if path.suffix not in (".py", ".yml", ".yaml") or "module_utils" in path.parts:
            continue
        for match in re.finditer(r"version_added:\s*['\"]?([^\s'\"]+)", path.read_text()):
            yield path.relative_to(ROOT), match.group(1)


def test_every_version_added_is_a_release_of_this_collection():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    released = set((yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text()) or {}).get("releases") or {})
    found = list(_versions_added())
    assert found
    wrong = [(str(path), version) for path, version in found if version != galaxy and version not in released]
    assert not wrong, "version_added is neither galaxy.yml's {0} nor a released version: {1}".format(galaxy, wrong)
