"""client1 had a hand-written daemon.json and a running container before the rollout, and is a Kubernetes
node too: containerd's CRI plugin (Debian's config.toml, no hosts directory) and crictl beside dockerd."""

import json
import os
from pathlib import Path

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


def test_without_leave_to_restart_containerd_the_run_was_refused_before_any_change():
    record = json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "site-runs" / "containerd-unasked.json")
                        .read_text())
    assert record["rc"] == 2 and all(" changed=0 " in line for line in record["recap"])
    assert any("reads no registry hosts directory (its CRI plugin has no config_path), so CRI pulls (kubelet's, "
               "crictl's) would not use the hosts.toml files of registry_client_upstream_mirrors. Set "
               "registry_client_containerd_restart to true" in " ".join(refusal.split())
               for refusal in record["refusals"]), record["refusals"]


def test_kubelets_path_the_cri_pulls_every_upstream_through_its_cache(host):
    info = json.loads(host.check_output("crictl info"))
    assert info["config"]["registry"]["configPath"] == "/etc/containerd/certs.d"
    # No internet: the upstreams' own names answer only through the mirror.
    for image in ["busybox:latest", "ghcr.io/dockyard/tools:1"]:
        host.run(f"crictl rmi {image}")
        assert "Image is up to date" in host.check_output(f"crictl pull {image}")
