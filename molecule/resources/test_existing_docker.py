"""The hosts that ran Docker before the project arrived (molecule/resources/existing_docker.yml) keep their
Docker Engine, its packages, apt source and key, and the operator's daemon.json keys; dockerd was restarted
into the keys that need a restart (live-restore and log-driver: local) without a sentinel going through it."""

import json

import pytest

testinfra_hosts = ["ansible://existing_docker"]


def test_the_hosts_own_packages_apt_source_and_key_are_kept(host):
    if "existing_docker_ce" in host.ansible.get_variables()["group_names"]:
        assert host.package("docker-ce").is_installed and not host.package("docker.io").is_installed
        host.check_output("sha256sum --check /root/docker-apt.sha256")
    else:
        assert host.package("docker.io").is_installed and not host.package("docker-ce").is_installed


def test_the_operators_keys_stay_beside_the_ones_the_role_applied(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-level"] == "warn" and config["max-concurrent-uploads"] == 3
    assert config["live-restore"] is True and config["log-driver"] == "local"


def test_dockerd_was_restarted_into_the_keys_that_need_a_restart(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "local" and info["LiveRestoreEnabled"] is True


@pytest.mark.parametrize("name", ["sentinel-always", "sentinel-no"])
def test_no_sentinel_restarted(host, name):
    started = dict(line.split() for line in host.file("/root/sentinels-started").content_string.splitlines())
    state = json.loads(host.check_output(f"docker inspect --format '{{{{json .State}}}}' {name}"))
    restarts = host.check_output(f"docker inspect --format '{{{{.RestartCount}}}}' {name}")
    assert state["Running"] and state["StartedAt"] == started[f"/{name}"] and restarts == "0"
