"""The journeys "backup" and "restore": the bought certificate's registry backed up with an image in it, into
an archive for root only with the checksum sha256sum --check reads beside it; its data directory lost, the host
deployed again and the newest archive restored, after which the image pulls again by the digest it had."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml

testinfra_hosts = ["ansible://registry.fleet.test"]
REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys"
IMAGE = "registry.fleet.test/base/backed-up"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
# The CI user's password, of the vault of the journey "one registry with a bought certificate".
PASSWORD = yaml.safe_load((Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs" / "journeys" / "bought-certificate"
                           / "group_vars" / "all" / "vault.yml").read_text())["vault_ci_password"]


def output(journey, playbook):
    """The output of the journey's command that ran the playbook."""
    return next(step["output"] for step in json.loads((REPORTS / f"{journey}.json").read_text())
                if playbook in step["command"])


@pytest.fixture(scope="module")
def report():
    """The registry_backup_report that playbooks/backup.yml printed."""
    text = output("backup", "playbooks/backup.yml")
    start = text.index('"registry_backup_report": ') + len('"registry_backup_report": ')
    return json.JSONDecoder().raw_decode(text[start:])[0]


def test_the_archive_is_roots_alone_with_a_checksum_that_checks(host, report):
    archive = host.file(report["archive"])
    assert re.fullmatch(r"/var/backups/dockyard/registry-\d{8}T\d{6}Z\.tar", report["archive"]), report
    assert (archive.mode, archive.user, archive.size) == (0o600, "root", report["bytes"])
    assert host.file(report["archive"] + ".sha256").mode == 0o600
    check = host.run(f"cd /var/backups/dockyard && sha256sum --check {Path(report['archive']).name}.sha256")
    assert check.stdout.strip() == f"{Path(report['archive']).name}: OK", check.stdout + check.stderr


def test_the_archive_holds_the_image_pushed_before_the_backup(host, report):
    listing = host.check_output(f"tar --list --file {report['archive']}")
    assert "./docker/registry/v2/repositories/base/backed-up/_manifests/tags/latest/current/link" in listing


def test_the_restore_unpacked_the_newest_archive_into_the_empty_data_directory(report):
    text = output("restore", "playbooks/restore.yml")
    assert "Unpack the archive into the data directory" in text
    assert re.search(r"registry\.fleet\.test +: ok=\d+ +changed=[1-9]\d* +unreachable=0 +failed=0", text), text[-2000:]


def test_the_image_answers_again_with_the_digest_and_every_blob_it_had_before_the_loss(host):
    client = host.get_host("ansible://fleet-mirror", ansible_inventory=host.backend.ansible_inventory)
    pushed = client.check_output(f"docker image inspect --format '{{{{index .RepoDigests 0}}}}' {IMAGE}")
    assert pushed.startswith(f"{IMAGE}@sha256:"), pushed

    def get(path, method="GET"):
        return json.loads(client.check_output(
            f"probe https://registry.fleet.test/v2/base/backed-up/{path} --method {method} --user ci:{PASSWORD}"
            f" --header 'Accept: {MANIFEST}' --cafile /etc/docker/certs.d/registry.fleet.test/ca.crt"))
    manifest = get("manifests/latest")
    assert manifest["status"] == 200, manifest
    assert manifest["headers"]["docker-content-digest"] == [pushed.split("@")[1]]
    blobs = [json.loads(manifest["body"])["config"]] + json.loads(manifest["body"])["layers"]
    assert [get(f"blobs/{blob['digest']}", "HEAD")["status"] for blob in blobs] == [200] * len(blobs)
