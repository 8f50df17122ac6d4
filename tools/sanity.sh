#!/usr/bin/env bash
# Runs `ansible-test sanity` on a copy of the collection laid out as
# ansible_collections/adoptmesh/istio (ansible-test reads the real path of its working folder,
# so a symbolic link does not do). Without Docker, each sanity test gets a virtualenv of its own
# (--venv) with the requirements pinned by ansible-test.
#   tools/sanity.sh [ansible-test sanity options...]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$repo/.build/sanity/ansible_collections
copy=$root/adoptmesh/istio

# Start from an empty copy, but keep ansible-test's own virtualenvs in tests/output between runs.
mkdir -p "$copy/tests" "$root/kubernetes"
find "$copy" -mindepth 1 -maxdepth 1 ! -name tests -exec rm -rf {} +
find "$copy/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
ln -sfn "$repo/.build/collections/ansible_collections/kubernetes/core" "$root/kubernetes/core"
# Exactly what git tracks, plus new files not yet ignored: the same set a commit would land.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) \
  | (cd "$repo" && xargs -0 cp --parents -t "$copy" 2>/dev/null || true)

# ansible-test bootstraps pip in its virtualenvs with a script from a host we may not reach;
# give it the equivalent stand-in, under the name it looks for in its cache.
pip_version=$("$repo/.venv/bin/python" -c 'import ansible_test._internal.python_requirements as r, inspect, re
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))')
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
[[ -f $cache ]] || install -D -m 0644 "$repo/tools/ansible-test/get_pip.py" "$cache"

cd "$copy"
# ansible-test finds the tree's files through git when it is a repository; make it one.
rm -rf .git && git init --quiet && git add --all && git -c user.name=sanity -c user.email=sanity@localhost commit --quiet -m sanity
python_version=$("$repo/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The sanity tools (shellcheck among them) come from the pinned virtualenv.
export PATH="$repo/.venv/bin:$PATH"
exec "$repo/.venv/bin/ansible-test" sanity --venv --python "$python_version" --color no "$@"
