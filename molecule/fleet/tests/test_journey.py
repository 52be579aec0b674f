"""The journey ran as documented: every command passed, the fleet changed a batch at a time, and each host
pulls Docker Hub names through the mirror."""

import json
import os
import re
from pathlib import Path

testinfra_hosts = ["ansible://existing_docker"]


def record(run):
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "journeys" / f"existing-fleet{run}.json"
    return json.loads(path.read_text())


def test_every_command_of_the_journey_ran_and_passed_and_a_second_run_passed_too():
    commands = (Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs/journeys/existing-fleet/commands.sh")
    typed = [line for line in commands.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert typed[0] == "cp -r inventory.example inventory"
    assert [step["command"] for step in record("")] == typed
    assert [step["command"] for step in record("-again")] == typed[1:]
    assert [step["rc"] for step in record("") + record("-again")] == [0] * (2 * len(typed) - 1)


def summaries(run):
    """The rollout's summary after each batch."""
    return re.findall(r'"msg": "(changed: [^"]*)"', record(run)[-1]["output"])


def test_the_rollout_changed_the_fleet_a_batch_at_a_time_canary_first():
    assert summaries("") == ["changed: fleet1; unchanged: none; rolled back: none",
                             "changed: fleet1, fleet2; unchanged: none; rolled back: none"]


def test_the_journey_typed_again_changes_nothing():
    assert summaries("-again") == ["changed: none; unchanged: fleet1; rolled back: none",
                                   "changed: none; unchanged: fleet1, fleet2; rolled back: none"]
    assert not any(re.search(" changed=[1-9]", step["output"]) for step in record("-again"))


def test_dockerd_pulls_docker_hub_names_through_the_mirror(host):
    assert json.loads(host.check_output("docker info --format '{{json .RegistryConfig.Mirrors}}'")) == [
        "https://fleet-mirror/"]
    host.run("docker rmi --force busybox:latest")
    host.check_output("docker pull busybox:latest")
