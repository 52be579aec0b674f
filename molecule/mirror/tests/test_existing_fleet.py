"""client2 ran Docker's own docker-ce, from Docker's apt repository, with an operator's daemon.json and
running containers, before the project arrived; client3 was a fresh host. The rollout runs Docker Engine's
keys a batch at a time, and stops no container."""

import json
import os
from pathlib import Path

import pytest

testinfra_hosts = ["ansible://client2"]


def test_dockers_own_packages_apt_source_and_key_are_kept(host):
    assert host.package("docker-ce").is_installed
    assert not host.package("docker.io").is_installed
    host.check_output("sha256sum --check /root/docker-apt.sha256")


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


def test_client3_got_docker_engine_only_after_client2s_batch(host):
    """One host a batch: client3's docker.io was installed after client2's dockerd was restarted (a play
    over all clients at once installs it first)."""
    restarted = int(host.check_output(
        "date -d \"$(systemctl show --property ActiveEnterTimestamp --value docker)\" +%s"))
    client3 = host.get_host("ansible://client3", ansible_inventory=host.backend.ansible_inventory)
    installed = int(client3.check_output(
        "date -d \"$(grep ' status installed docker.io:' /var/log/dpkg.log | tail -1 | cut -d' ' -f1-2)\" +%s"))
    assert installed >= restarted


def test_check_mode_on_the_fresh_estate_ran_to_its_end_and_named_what_it_could_not_know():
    record = json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "site-runs" / "check.json").read_text())
    assert record["rc"] == 0 and record["refusals"] == []
    assert all(" failed=0 " in line for line in record["recap"])
    notes = " ".join(record["check_mode_notes"])
    assert "no Docker Engine answers on mirror yet" in notes
    assert "ca/mirror.crt not made yet" in notes
