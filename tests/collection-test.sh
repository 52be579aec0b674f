#!/usr/bin/env bash
# ansible-test on the built collection (make collection), installed where
# ansible-test wants it: <dir>/ansible_collections/dockyard/registry, outside
# this checkout. sanity: every sanity test (the findings the collection's
# tests/sanity/ignore-<ansible-core>.txt names are the only ones let through,
# each with its reason); units: the module and filter tests, tests/unit. Each
# runs in virtual environments of ansible-test's own, under .cache/ansible-test
# (their pip from this Python's ensurepip, tests/get_pip.py).
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$1
shift
home=$PWD/.cache/ansible-test
mkdir -p "$home/.ansible/test/cache"
# The pip release ansible-test puts into its environments, as it names it.
pip_version=$(sed -n "s/^ *pip='\(.*\)',$/\1/p" \
  "$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
[[ -n $pip_version ]] || { echo "collection-test: cannot tell which pip ansible-test installs" >&2; exit 1; }
cp tests/get_pip.py "$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection install --force --no-deps --collections-path "$work" "$tarball" >/dev/null 2>&1
cd "$work/ansible_collections/dockyard/registry"
python=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
for command in "$@"; do
  echo "collection-test: ansible-test $command"
  HOME=$home ansible-test "$command" --venv --python "$python" --color no
done
