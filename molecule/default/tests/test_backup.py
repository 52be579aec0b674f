"""Backup and restore (../resources/backup.yml): the archive, the refused
restore, and every image back with its digests after its data was destroyed."""

import json
import os

testinfra_hosts = ["ansible://registries"]


def report(host):
    return json.loads(host.file("/root/backup.json").content_string)


def recorded(host, name):
    """What the client recorded of this registry at one step of the story."""
    client = host.get_host("ansible://client", ansible_inventory=host.backend.ansible_inventory)
    address = host.ansible.get_variables()["test_gc_address"]
    return json.loads(client.file(f"/root/gc/{address}/{name}.json").content_string)


def test_archive_is_whole_private_and_matches_its_checksum(host):
    archive = report(host)["archive"]
    directory, name = os.path.split(archive)
    assert host.file(directory).mode == 0o700
    assert host.file(archive).mode == 0o600 and host.file(archive).size == report(host)["bytes"]
    assert host.file(f"{archive}.sha256").mode == 0o600
    assert not host.file(f"{archive}.partial").exists
    assert host.check_output(f"cd {directory} && sha256sum --check {name}.sha256") == f"{name}: OK"
    members = host.check_output(f"tar --list --file {archive}").splitlines()
    assert "./docker/registry/v2/repositories/gc/app/_manifests/tags/latest/current/link" in members


def test_backup_ran_read_only_and_left_the_deployed_config(host):
    assert report(host)["readonly_seconds"] > 0
    assert not host.file("/etc/dockyard/registry/config.yml.before-gc").exists
    config = host.file("/etc/dockyard/registry/config.yml").content_string
    assert "readonly" not in config


def test_restore_onto_a_data_directory_with_images_is_refused(host):
    refusal = " ".join(host.file("/root/restore-refusal.txt").content_string.split())
    assert refusal.startswith("/var/lib/registry holds images already (")
    assert "restore onto an empty data directory" in refusal


def test_destroyed_images_are_back_with_the_same_digests(host):
    before, wiped, restored = (recorded(host, name) for name in ("before-backup", "after-wipe", "after-restore"))
    assert before["tags"]["gc/app"] and before["tags"]["keep/base"] and before["tags"]["gc/multi"]
    assert any(answer is True for answer in before["blobs"].values())
    # Gone for the client: no tag, no blob.
    assert not any(wiped["tags"].values())
    assert not any(answer is True for answer in wiped["blobs"].values())
    # Back whole: every tag with its digest, every blob that answered answers.
    assert restored["tags"] == before["tags"]
    assert {blob: answer is True for blob, answer in restored["blobs"].items()} \
        == {blob: answer is True for blob, answer in before["blobs"].items()}
