"""client1 had a hand-written daemon.json and a running container before the rollout."""

import json

testinfra_hosts = ["ansible://client1"]


def test_daemon_json_keeps_the_keys_it_had(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-level"] == "warn" and config["max-concurrent-downloads"] == 4
    assert config["registry-mirrors"] == ["https://mirror"]


def test_running_container_survived_the_rollout(host):
    started = host.file("/root/keepalive-started").content_string.strip()
    assert host.check_output("docker inspect --format '{{.State.StartedAt}}' keepalive") == started
    assert host.check_output("docker inspect --format '{{.State.Running}}' keepalive") == "true"


def test_a_key_that_needs_a_restart_waits_while_a_container_runs_without_live_restore(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert "log-driver" not in config
    assert host.check_output("docker info --format '{{.LoggingDriver}}'") == "json-file"
