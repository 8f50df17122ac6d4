#!/usr/bin/env bash
# Development set-up, idempotent and quick when nothing changed:
#   - .venv with the pinned Python dependencies (requirements-dev.txt + constraints.txt);
#   - kubernetes.core, taken from PyPI's `ansible` package (Galaxy is not reachable from every
#     build machine), checked against a pinned sha256;
#   - .build/collections/ansible_collections/{adoptmesh/istio -> this checkout, kubernetes/core},
#     the collections path that playbooks, pytest and ansible-test use.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}
venv=$repo/.venv
build=$repo/.build
collections=$build/collections/ansible_collections

# The `ansible` package whose kubernetes.core we ship to tests and the demo.
ANSIBLE_PACKAGE_VERSION=12.3.0
ANSIBLE_PACKAGE_SHA256=cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414
KUBERNETES_CORE_VERSION=6.2.0
AWX_VERSION=24.6.1

mkdir -p "$build"

stamp=$( { cat requirements.txt requirements-dev.txt constraints.txt; "$python" --version; } | sha256sum | cut -c1-16)
if [[ ! -x $venv/bin/python || $(cat "$venv/.setup-stamp" 2>/dev/null) != "$stamp" ]]; then
  echo "setup: creating $venv with pinned Python dependencies"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
  echo "$stamp" > "$venv/.setup-stamp"
fi

# Collections taken from the ansible package: kubernetes.core (the dependency) and awx.awx (the
# modules playbooks/awx/configure-awx.yml configures AWX / Automation Platform with).
wanted_collections="kubernetes/core=$KUBERNETES_CORE_VERSION awx/awx=$AWX_VERSION"
missing=""
for entry in $wanted_collections; do
  path=${entry%%=*} version=${entry#*=}
  [[ $(cat "$collections/$path/.version" 2>/dev/null) == "$version" ]] || missing="$missing $entry"
done
if [[ -n $missing ]]; then
  echo "setup: installing$missing from ansible $ANSIBLE_PACKAGE_VERSION"
  wheel_dir=$build/downloads
  wheel=$wheel_dir/ansible-$ANSIBLE_PACKAGE_VERSION-py3-none-any.whl
  if [[ ! -f $wheel ]] || ! sha256sum -c --status <<<"$ANSIBLE_PACKAGE_SHA256  $wheel"; then
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$wheel_dir" \
      "ansible==$ANSIBLE_PACKAGE_VERSION"
  fi
  sha256sum -c --status <<<"$ANSIBLE_PACKAGE_SHA256  $wheel" \
    || { echo "setup: $wheel does not have the pinned sha256" >&2; exit 1; }
  for entry in $missing; do
    path=${entry%%=*} version=${entry#*=}
    rm -rf "${collections:?}/$path"
    "$venv/bin/python" - "$wheel" "$collections" "$path" "$version" <<'PY'
import json, os, sys, zipfile
wheel, collections, path, wanted = sys.argv[1:]
prefix = "ansible_collections/" + path + "/"
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.startswith(prefix)]
    found = json.loads(archive.read(prefix + "MANIFEST.json"))["collection_info"]["version"]
    if found != wanted:
        sys.exit("setup: the ansible package carries %s %s, expected %s" % (path.replace("/", "."), found, wanted))
    archive.extractall(os.path.dirname(collections), members)
PY
    echo "$version" > "$collections/$path/.version"
  done
fi

link=$collections/adoptmesh/istio
if [[ ! -L $link ]]; then
  mkdir -p "$(dirname "$link")"
  rm -rf "$link"
  ln -s "$repo" "$link"
fi
