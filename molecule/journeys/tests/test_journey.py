"""The journeys ran as documented: every command passed, and so did the operator's second run of their
playbooks, which changed nothing; the fleet changed a batch at a time, and each of its hosts pulls Docker Hub
names through the mirror."""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

testinfra_hosts = ["ansible://existing_docker"]
# Each journey, in the order converge.yml types those of one project directory, and whether it starts from
# inventory.example (the others go on with the inventory before).
JOURNEYS = {"existing-fleet": True, "bought-certificate": True, "two-teams": False,
            "operations": False, "backup": False, "restore": False,
            "upgrading": False, "scaling-out": True}
# molecule/resources/journey.py, which typed them: what the operator's second run types again.
SPEC = importlib.util.spec_from_file_location(
    "journey", Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "molecule" / "resources" / "journey.py")
journey_py = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(journey_py)


def record(journey, run=""):
    path = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys" / f"{journey}{run}.json"
    return json.loads(path.read_text())


def typed(journey):
    return journey_py.commands(Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs/journeys" / journey)


def typed_again_by_earlier_journeys(journey):
    """What the second runs of the journeys before this one, in its project directory, typed (in the order run)."""
    earlier = []
    for name, starts in JOURNEYS.items():
        if name == journey:
            return earlier if not starts else []
        earlier = ([] if starts else earlier) + [command for command in typed(name) if journey_py.typed_again(command)]
    raise KeyError(journey)


@pytest.mark.parametrize("journey, starts", JOURNEYS.items())
def test_every_command_of_the_journey_ran_and_passed_and_so_did_its_playbooks_run_again(journey, starts):
    typed_first = typed(journey)
    # The second run types a command once in a project directory: the same command on the same inventory.
    again = [command for command in typed_first if journey_py.typed_again(command)
             and command not in typed_again_by_earlier_journeys(journey)]
    assert (typed_first[0] == "cp -r inventory.example inventory") == starts
    assert [step["command"] for step in record(journey)] == typed_first
    assert [step["command"] for step in record(journey, "-again")] == again
    assert [step["rc"] for step in record(journey) + record(journey, "-again")] == [0] * (len(typed_first) + len(again))


@pytest.mark.parametrize("journey", JOURNEYS)
def test_the_journeys_playbooks_run_again_change_nothing(journey):
    assert not any(re.search(" changed=[1-9]", step["output"]) for step in record(journey, "-again"))


def summaries(run):
    """The rollout's summary after each batch."""
    return re.findall(r'"msg": "(changed: [^"]*)"', record("existing-fleet", run)[-1]["output"])


def test_the_rollout_changed_the_fleet_a_batch_at_a_time_canary_first():
    assert summaries("") == ["changed: fleet1; unchanged: none; rolled back: none",
                             "changed: fleet1, fleet2; unchanged: none; rolled back: none"]


def test_the_rollout_run_again_finds_each_batch_unchanged():
    assert summaries("-again") == ["changed: none; unchanged: fleet1; rolled back: none",
                                   "changed: none; unchanged: fleet1, fleet2; rolled back: none"]


def test_dockerd_pulls_docker_hub_names_through_the_mirror(host):
    assert json.loads(host.check_output("docker info --format '{{json .RegistryConfig.Mirrors}}'")) == [
        "https://fleet-mirror/"]
    host.run("docker rmi --force busybox:latest")
    host.check_output("docker pull busybox:latest")


def test_containerd_pulls_docker_hub_names_through_the_mirror(host):
    assert 'config_path = "/etc/containerd/certs.d"' in host.file("/etc/containerd/config.toml").content_string
    mirror = host.get_host("ansible://fleet-mirror", ansible_inventory=host.backend.ansible_inventory)
    log = "/var/log/dockyard/dockerhub-audit.log"
    start = int(mirror.check_output(f"stat --format %s {log}"))
    host.check_output("ctr --namespace journey images pull --hosts-dir /etc/containerd/certs.d"
                      " docker.io/library/busybox:latest")
    # The host's addresses: its dockerd's bridge among them.
    addresses = set(host.check_output("hostname -I").split())
    lines = [json.loads(line) for line in mirror.check_output(f"tail --bytes +{start + 1} {log}").splitlines()]
    assert [line for line in lines if line["client"] in addresses and line["repository"] == "library/busybox"
            and line["status"] == 200], lines
