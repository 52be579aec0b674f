"""The journey "upgrading": the bought certificate's registry backed up and then upgraded in place to
distribution 3.x, whose container runs the 3.x image with its configuration where 3.x reads it; the image
pushed before the backup still answers with its digest and blobs (test_backup_restore.py, run after it)."""

import json
import os
from pathlib import Path

import yaml

testinfra_hosts = ["ansible://registry.fleet.test"]
JOURNEY = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs" / "journeys" / "upgrading"
REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys"
IMAGE = yaml.safe_load((JOURNEY / "group_vars" / "registries" / "upgrade.yml").read_text())["registry_image"]


def test_a_backup_was_taken_before_the_upgrade(host):
    step = json.loads((REPORTS / "upgrading.json").read_text())[0]
    assert "playbooks/backup.yml" in step["command"]
    start = step["output"].index('"registry_backup_report": ') + len('"registry_backup_report": ')
    archive = json.JSONDecoder().raw_decode(step["output"][start:])[0]["archive"]
    assert host.file(archive).is_file and host.file(archive + ".sha256").is_file


def test_the_registry_runs_the_3x_image_with_its_configuration_where_3x_reads_it(host):
    container = json.loads(host.check_output("docker inspect registry"))[0]
    assert container["Config"]["Image"] == IMAGE == "registry:3"
    assert "/etc/distribution/config.yml" in [mount["Destination"] for mount in container["Mounts"]]
    assert container["Image"] == host.check_output(f"docker image inspect --format '{{{{.Id}}}}' {IMAGE}")
