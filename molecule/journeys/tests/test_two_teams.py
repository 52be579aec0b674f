"""The journey "two teams on the registry": on the bought certificate's registry, each team pushes its own
repositories and is refused the other's, the CI user pulls both teams' and pushes neither, the catalog is
the admins', a release of base/* is pushed once but by the admins, the teams' vault stays encrypted, and no
password reached the output."""

import json
import os
import time
from pathlib import Path

import pytest
import yaml

testinfra_hosts = ["ansible://fleet-mirror"]
JOURNEY = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs" / "journeys" / "two-teams"
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "journeys" / "bought-certificate" / "inventory"
REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys"
REGISTRY = "registry.fleet.test"
DENIED = "denied: requested access to the resource is denied"
# The passwords of the journey's vault, as the operator wrote them before encrypting it.
PASSWORDS = {name.removeprefix("vault_").removesuffix("_password"): password for name, password in
             yaml.safe_load((JOURNEY / "group_vars" / "registries" / "vault.yml").read_text()).items()}


@pytest.fixture(scope="module")
def docker(host):
    """docker as each team's user (a Docker configuration of their own); plain docker is the CI user's login,
    which the host's role made."""
    for user in ("alice", "bob", "ops"):
        host.check_output(f"echo '{PASSWORDS[user]}' | DOCKER_CONFIG=/root/teams/{user} docker login "
                          f"--username {user} --password-stdin {REGISTRY}")
    host.check_output("docker load -i /root/busybox.tar")

    def run(user, command):
        return host.run(f"DOCKER_CONFIG=/root/teams/{user} docker {command}" if user else f"docker {command}")
    return run


def test_the_teams_vault_stays_encrypted_in_the_inventory():
    assert (INVENTORY / "group_vars/registries/vault.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")


def test_no_password_reached_the_output():
    outputs = [step["output"] for run in ["", "-again"]
               for step in json.loads((REPORTS / f"two-teams{run}.json").read_text())]
    for password in PASSWORDS.values():
        assert not any(password in output for output in outputs), password[:14]


def test_each_team_pushes_its_own_repositories_and_is_denied_the_others(host, docker):
    for user, own, _other in [("alice", "team-a", "team-b"), ("bob", "team-b", "team-a")]:
        host.check_output(f"docker tag dockyard-test/busybox {REGISTRY}/{own}/app")
        assert docker(user, f"push {REGISTRY}/{own}/app").rc == 0
    for user, other in [("alice", "team-b"), ("bob", "team-a")]:
        host.check_output(f"docker rmi {REGISTRY}/{other}/app")
        pull = docker(user, f"pull {REGISTRY}/{other}/app")
        assert DENIED in pull.stderr, pull.stderr
        host.check_output(f"docker tag dockyard-test/busybox {REGISTRY}/{other}/app")
        push = docker(user, f"push {REGISTRY}/{other}/app")
        assert DENIED in push.stderr, push.stderr


def test_the_ci_user_pulls_both_teams_and_pushes_neither(host, docker):
    for repository in ("team-a/app", "team-b/app"):
        host.run(f"docker rmi {REGISTRY}/{repository}")
        assert docker(None, f"pull {REGISTRY}/{repository}").rc == 0
        push = docker(None, f"push {REGISTRY}/{repository}")
        assert DENIED in push.stderr, push.stderr


def test_only_the_admins_list_the_catalog(host, docker):
    def catalog(user):
        return json.loads(host.check_output(
            f"probe https://{REGISTRY}/v2/_catalog --user {user}:{PASSWORDS[user]}"
            f" --cafile /etc/docker/certs.d/{REGISTRY}/ca.crt"))
    assert {"team-a/app", "team-b/app"} <= set(json.loads(catalog("ops")["body"])["repositories"])
    denied = catalog("alice")
    assert denied["status"] == 403 and json.loads(denied["body"])["errors"][0]["code"] == "DENIED", denied


def test_a_release_of_base_is_pushed_once_but_by_the_admins(host, docker):
    release = f"{REGISTRY}/base/app:{int(time.time())}"
    host.check_output(f"docker tag dockyard-test/busybox {release}")
    assert docker(None, f"push {release}").rc == 0
    host.run("docker rm --force teams-second")
    host.check_output("docker create --name teams-second dockyard-test/busybox")
    host.check_output(f"docker commit --change 'LABEL second=1' teams-second {release}")
    push = docker(None, f"push {release}")
    tag = release.rsplit(":", 1)[1]
    assert f"denied: tag {tag} of base/app is immutable: it is not pushed again" in push.stderr, push.stderr
    assert docker("ops", f"push {release}").rc == 0
    host.check_output(f"docker rm --force teams-second && docker rmi {release}")
