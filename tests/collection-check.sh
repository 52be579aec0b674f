#!/usr/bin/env bash
# The collection as another team uses it: the journey of the collection's
# README (docs/journeys/collection/commands.sh), command by command, in a
# project directory of its own outside this checkout, with no ansible.cfg,
# beside the tarball make collection built.
# Its inventory is a sandbox host on this machine (demo/sandbox.yml), a
# registry and its own Docker client. After the journey: the playbook of the
# project's own (registry.yml) changed nothing that dockyard.registry.site
# had made; the sandbox's Docker, logged in by the client role, pushes an
# image, forgets it, pulls it back and runs it; logged out, it is refused.
# Collections install into the project (ANSIBLE_COLLECTIONS_PATH), not into
# ~/.ansible; the ansible package's own collections stay on the path, as the
# dependencies the journey's install finds there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tarball=$root/$1
sandbox=dockyard-collection
registry=$sandbox:443
fail() { echo "collection-check: $*" >&2; exit 1; }

version=$(sed -n 's/^version: //p' collections/ansible_collections/dockyard/registry/galaxy.yml)
mapfile -t typed < <(grep -v -e '^#' -e '^$' docs/journeys/collection/commands.sh)
[[ ${typed[0]} == "ansible-galaxy collection install dockyard-registry-$version.tar.gz" ]] \
  || fail "the journey does not install dockyard-registry-$version.tar.gz first: ${typed[0]}"

project=$(mktemp -d)
cleanup() { docker rm --force --volumes $sandbox >/dev/null 2>&1 || true; rm -rf "$project"; }
trap cleanup EXIT
ansible-playbook -i localhost, demo/sandbox.yml -e sandbox_name=$sandbox >/dev/null

cp "$tarball" docs/journeys/collection/registry.yml "$project/"
mkdir "$project/inventory"
cat > "$project/inventory/hosts.yml" <<YAML
---
all:
  children:
    registries:
      hosts:
        $sandbox:
    docker_clients:
      hosts:
        $sandbox:
  vars:
    ansible_connection: community.docker.docker
    registry_image: dockyard-test/registry:2
    registry_image_archive: $root/.cache/images/registry-2.tar
    registry_users: [{name: ci, password: ci-password-1}]
    registry_certs_names: [$sandbox]
    registry_certs_ca_export: $project/ca.crt
    registry_client_registries:
      - {address: "$registry", ca_file: $project/ca.crt, username: ci, password: ci-password-1}
YAML

site_packages=$(python3 -c 'import ansible, os; print(os.path.dirname(os.path.dirname(ansible.__file__)))')
cd "$project"
for command in "${typed[@]}"; do
  echo "collection-check: \$ $command"
  env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$project/collections:$site_packages" ANSIBLE_FORCE_COLOR=0 \
    bash -euo pipefail -c "$command" | tee "$project/last.log"
done
[[ -d $project/collections/ansible_collections/dockyard/registry/roles/registry_instance ]] \
  || fail "the collection was not installed into the project"
grep -E "^$sandbox +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0" "$project/last.log" >/dev/null \
  || fail "registry.yml changed what dockyard.registry.site had made (its recap above)"

docker cp "$root/.cache/images/busybox.tar" $sandbox:/root/busybox.tar
docker exec $sandbox sh -euc "docker load --quiet --input /root/busybox.tar >/dev/null
  docker tag dockyard-test/busybox:latest $registry/proof/busybox:1
  docker push --quiet $registry/proof/busybox:1 >/dev/null
  docker rmi --force $registry/proof/busybox:1 dockyard-test/busybox:latest >/dev/null
  docker pull --quiet $registry/proof/busybox:1 >/dev/null"
[[ $(docker exec $sandbox docker run --rm $registry/proof/busybox:1 echo pulled) == pulled ]] \
  || fail "the image pulled back does not run"
docker exec $sandbox docker logout $registry >/dev/null
docker exec $sandbox docker rmi $registry/proof/busybox:1 >/dev/null
denied=$(docker exec $sandbox docker pull $registry/proof/busybox:1 2>&1) && fail "a pull without a login passed"
[[ $denied == *"no basic auth credentials"* ]] || fail "a pull without a login failed otherwise: $denied"
echo "collection-check: the installed collection deployed a registry by its names, which pushed, pulled and refused as it should"
