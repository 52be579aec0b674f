"""client2 ran Docker's own docker-ce before the project arrived (test_existing_docker.py), client3 was a
fresh host: the rollout applies Docker Engine a batch at a time. And before anything was deployed, check mode
ran to its end on this estate."""

import json
import os
from pathlib import Path

testinfra_hosts = ["ansible://client2"]


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
