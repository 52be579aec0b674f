"""The host-side garbage collector (roles/registry/files/dockyard-registry-gc):
its refusals, its measure of a data directory, its S3 request signing and its
search for the schema 1 manifests 3.x cannot serve.
Its read-only window and collections run for real in the Molecule scenarios."""

import datetime
import hashlib
import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

PROGRAM = Path(__file__).resolve().parents[2] / "roles" / "registry" / "files" / "dockyard-registry-gc"
LOADER = importlib.machinery.SourceFileLoader("dockyard_registry_gc", str(PROGRAM))
gc = importlib.util.module_from_spec(importlib.util.spec_from_loader(LOADER.name, LOADER))
LOADER.exec_module(gc)


def registry(tmp_path, config, replicas=("host-a",)):
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    settings = {"name": "registry", "config": str(tmp_path / "config.yml"), "container_config": "/etc/x.yml",
                "major": "3", "address": "127.0.0.1:1", "data_dir": str(tmp_path / "data"), "s3_ca": "",
                "replicas": list(replicas)}
    (tmp_path / "gc.json").write_text(json.dumps(settings))
    return gc.Registry(str(tmp_path / "gc.json"))


DELETES = {"storage": {"filesystem": {"rootdirectory": "/var/lib/registry"}, "delete": {"enabled": True}}}


def test_refuses_a_registry_whose_deletes_are_disabled(tmp_path):
    target = registry(tmp_path, {"storage": {"filesystem": {}}})
    for step in (target.check, target.collect, target.run):
        with pytest.raises(gc.GCError, match=r"deletes are disabled in .*config\.yml, so nothing can be collected: "
                                             r"set registry_config: \{storage: \{delete: \{enabled: true\}\}\}"):
            step()
    assert not (tmp_path / "config.yml.before-gc").exists()


def test_collects_only_while_read_only(tmp_path):
    with pytest.raises(gc.GCError, match="is not read-only: run the readonly step first"):
        registry(tmp_path, DELETES).collect()


def test_one_host_of_replicas_refuses_to_run_alone(tmp_path):
    with pytest.raises(gc.GCError, match="is served by host-a, host-b: collect its garbage with playbooks/gc.yml"):
        registry(tmp_path, DELETES, replicas=("host-a", "host-b")).run()


def test_read_write_without_a_window_changes_nothing(tmp_path):
    target = registry(tmp_path, DELETES)
    before = (tmp_path / "config.yml").read_text()
    assert target.readwrite() == {"registry": "registry", "readonly": False, "readonly_seconds": 0}
    assert (tmp_path / "config.yml").read_text() == before


def test_usage_counts_the_blob_data_only(tmp_path):
    blobs = tmp_path / "data" / gc.BLOBS / "sha256" / "ab"
    for name, size in (("abc", 1000), ("abd", 234)):
        (blobs / name).mkdir(parents=True)
        (blobs / name / "data").write_bytes(b"x" * size)
    (tmp_path / "data" / "docker/registry/v2/repositories").mkdir(parents=True)
    (tmp_path / "data" / "docker/registry/v2/repositories/link").write_bytes(b"y" * 71)
    assert registry(tmp_path, DELETES).usage() == {"registry": "registry", "bytes": 1234}


def test_s3_listing_is_signed_as_aws_documents_it():
    # The "GET Bucket (List Objects)" example of AWS's signature version 4 documentation.
    headers = gc.sign({"accesskey": "AKIAIOSFODNN7EXAMPLE", "secretkey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                      "us-east-1", "examplebucket.s3.amazonaws.com", "/", {"max-keys": "2", "prefix": "J"},
                      datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    assert headers["x-amz-date"] == "20130524T000000Z"


def test_a_registry_nothing_was_pushed_to_has_nothing_to_collect(tmp_path, monkeypatch):
    target = registry(tmp_path, DELETES)
    (tmp_path / "config.yml.before-gc").write_text("saved")  # read-only

    def empty(*_):
        raise gc.GCError("docker exec failed: failed to mark: filesystem: Path not found: /docker/registry/v2/repositories")
    monkeypatch.setattr(gc, "docker", empty)
    assert target.collect()["summary"] == "nothing stored yet, nothing to collect"

    def broken(*_):
        raise gc.GCError("docker exec failed: s3aws: AccessDenied")
    monkeypatch.setattr(gc, "docker", broken)
    with pytest.raises(gc.GCError, match="AccessDenied"):
        target.collect()


def store(data, repository, manifest, tags=()):
    """Lay a manifest out as distribution stores it: its blob, its revision and its tags."""
    text = json.dumps(manifest).encode()
    digest = hashlib.sha256(text).hexdigest()
    v2 = data / "docker/registry/v2"
    files = {f"blobs/sha256/{digest[:2]}/{digest}/data": text,
             f"repositories/{repository}/_manifests/revisions/sha256/{digest}/link": f"sha256:{digest}".encode()}
    files.update({f"repositories/{repository}/_manifests/tags/{tag}/current/link": f"sha256:{digest}".encode()
                  for tag in tags})
    for path, content in files.items():
        (v2 / path).parent.mkdir(parents=True, exist_ok=True)
        (v2 / path).write_bytes(content)
    return f"sha256:{digest}"


def test_schema1_lists_the_manifests_3x_cannot_serve_with_their_tags(tmp_path):
    data = tmp_path / "data"
    old = store(data, "team/legacy", {"schemaVersion": 1, "name": "team/legacy", "fsLayers": []}, ["2016", "old"])
    untagged = store(data, "team/legacy", {"schemaVersion": 1, "name": "team/legacy", "tag": "gone"})
    store(data, "team/legacy", {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"},
          ["latest"])
    store(data, "base", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}, ["1"])
    # A revision whose blob is gone serves nothing, on any version.
    (data / "docker/registry/v2/repositories/base/_manifests/revisions/sha256" / ("0" * 64)).mkdir(parents=True)
    (data / "docker/registry/v2/repositories/base/_manifests/revisions/sha256" / ("0" * 64) / "link").write_text("x")
    found = registry(tmp_path, DELETES).schema1()
    assert found["manifests"] == 5
    assert found["schema1"] == sorted([{"repository": "team/legacy", "digest": old, "tags": ["2016", "old"]},
                                       {"repository": "team/legacy", "digest": untagged, "tags": []}],
                                      key=lambda item: item["digest"])


def test_schema1_on_an_empty_registry_finds_nothing(tmp_path):
    assert registry(tmp_path, DELETES).schema1() == {"registry": "registry", "manifests": 0, "schema1": []}
