"""The host-side garbage collector (roles/registry/files/dockyard-registry-gc):
its refusals, its measure of a data directory, its S3 request signing and its
search for the schema 1 manifests 3.x cannot serve.
Its read-only window and collections run for real in the Molecule scenarios."""

import datetime
import hashlib
import importlib.machinery
import importlib.util
import json
import os
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
                      datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC))
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


S3_STORAGE = {"storage": {"s3": {"bucket": "images", "region": "us-east-1", "accesskey": "k", "secretkey": "s",
                                  "regionendpoint": "https://s3.example.com", "rootdirectory": "/reg"},
                           "delete": {"enabled": True}}}
XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def bucket(monkeypatch, uploads, lifecycle=None):
    """A bucket holding UPLOADS ({key: (upload id, ISO time begun, [part sizes])}, listed two to a page), with
    LIFECYCLE rules (XML) or none; every DELETE it is sent is kept in the list returned."""
    deleted = []

    def get(_, path, query, what, method="GET"):
        if method == "DELETE":
            deleted.append((path, query["uploadId"]))
            return b""
        if "lifecycle" in query:
            if lifecycle is None:
                raise gc.GCError(f"{what} in bucket images answered 404: b'<Code>NoSuchLifecycleConfiguration</Code>'")
            return f"<LifecycleConfiguration {XMLNS}>{lifecycle}</LifecycleConfiguration>".encode()
        if "uploads" in query:
            assert path == "/images" and query["prefix"] == "reg/docker/registry/v2/repositories/"
            keys = sorted(uploads)
            start = keys.index(query["key-marker"]) + 1 if "key-marker" in query else 0
            page = keys[start:start + 2]
            more = start + 2 < len(keys)
            items = "".join(f"<Upload><Key>{key}</Key><UploadId>{uploads[key][0]}</UploadId>"
                            f"<Initiated>{uploads[key][1]}</Initiated></Upload>" for key in page)
            marker = f"<NextKeyMarker>{page[-1]}</NextKeyMarker><NextUploadIdMarker>x</NextUploadIdMarker>" if more else ""
            return (f"<ListMultipartUploadsResult {XMLNS}><IsTruncated>{str(more).lower()}</IsTruncated>{marker}"
                    f"{items}</ListMultipartUploadsResult>").encode()
        key = path.removeprefix("/images/")
        assert query["uploadId"] == uploads[key][0]
        parts = "".join(f"<Part><PartNumber>{n}</PartNumber><Size>{size}</Size></Part>"
                        for n, size in enumerate(uploads[key][2], 1))
        return f"<ListPartsResult {XMLNS}><IsTruncated>false</IsTruncated>{parts}</ListPartsResult>".encode()
    monkeypatch.setattr(gc.S3, "get", get)
    return deleted


def s3_registry(tmp_path, upload_age="168h"):
    target = registry(tmp_path, S3_STORAGE)
    target.settings["upload_age"] = upload_age
    return target


UPLOAD = "reg/docker/registry/v2/repositories/app/_uploads/{}/data"


def test_uploads_begun_longer_ago_than_upload_age_are_listed_with_their_parts_bytes(tmp_path, monkeypatch):
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=200)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    new = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    deleted = bucket(monkeypatch, {UPLOAD.format("a"): ("id-a", old, [10485760, 12]),
                                   UPLOAD.format("b"): ("id-b", new, [5242880]),
                                   UPLOAD.format("c"): ("id-c", old, [7])})
    target = s3_registry(tmp_path)
    assert target.uploads() == {"registry": "registry", "incomplete_uploads": 2, "incomplete_upload_bytes": 10485779,
                                "lifecycle_aborts_uploads": False}
    with pytest.raises(gc.GCError, match="is not read-only: run the readonly step first"):
        target.abort()
    assert deleted == []
    (tmp_path / "config.yml.before-gc").write_text("saved")  # read-only
    assert target.abort()["uploads_aborted"] == 2
    assert deleted == [("/images/" + UPLOAD.format("a"), "id-a"), ("/images/" + UPLOAD.format("c"), "id-c")]


def test_a_lifecycle_rule_that_aborts_incomplete_uploads_is_reported(tmp_path, monkeypatch):
    rule = ("<Rule><ID>uploads</ID><Status>{}</Status><Filter><Prefix></Prefix></Filter>"
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
            "</AbortIncompleteMultipartUpload></Rule>")
    bucket(monkeypatch, {}, rule.format("Enabled"))
    assert s3_registry(tmp_path).uploads()["lifecycle_aborts_uploads"] is True
    bucket(monkeypatch, {}, rule.format("Disabled"))
    assert s3_registry(tmp_path).uploads()["lifecycle_aborts_uploads"] is False


def test_a_registry_on_a_filesystem_has_no_uploads_to_abort(tmp_path):
    assert registry(tmp_path, DELETES).abort() == {"registry": "registry"}


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


# A pull-through cache's eviction, on a data directory laid out as distribution stores it.

CACHE = {"storage": {"filesystem": {"rootdirectory": "/var/lib/registry"}, "delete": {"enabled": False}},
         "proxy": {"remoteurl": "https://registry-1.docker.io"}}
NOW = 1_800_000_000


class Store:
    def __init__(self, root):
        self.root = root

    def blob(self, content, when=NOW - 86400):
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        path = self.root / gc.BLOBS / "sha256" / digest[7:9] / digest[7:] / "data"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (when, when))
        return digest

    def link(self, relative, digest, when):
        path = self.root / gc.REPOSITORIES / relative / "link"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)
        os.utime(path, (when, when))

    def image(self, repository, tag, layer_sizes, stored, tagged=None, seed=""):
        """An image of fresh layers, cached at stored and its tag last resolved at tagged."""
        layers = [self.blob(f"{repository}{tag}{seed}{n}".encode().ljust(size, b"."), stored)
                  for n, size in enumerate(layer_sizes)]
        config = self.blob(f"config {repository}:{tag}{seed}".encode(), stored)
        manifest = self.blob(json.dumps({"schemaVersion": 2, "config": {"digest": config},
                                         "layers": [{"digest": layer} for layer in layers]}).encode(), stored)
        for digest in layers + [config]:
            self.link(f"{repository}/_layers/sha256/{digest[7:]}", digest, stored)
        self.link(f"{repository}/_manifests/revisions/sha256/{manifest[7:]}", manifest, stored)
        self.link(f"{repository}/_manifests/tags/{tag}/index/sha256/{manifest[7:]}", manifest, stored)
        self.link(f"{repository}/_manifests/tags/{tag}/current", manifest, tagged or stored)
        return manifest, layers + [config]


def cache(tmp_path, ttl="", max_size="", pull_log=""):
    target = registry(tmp_path, CACHE)
    target.settings.update(proxy=True, ttl=ttl, max_size=max_size, pull_log=pull_log)
    return target, Store(tmp_path / "data")


def stored_blobs(tmp_path):
    return {path.parent.name for path in (tmp_path / "data" / gc.BLOBS).rglob("data")}


def test_a_cache_is_evicted_not_collected(tmp_path):
    target, _ = cache(tmp_path)
    assert target.check() == {"registry": "registry", "cache": True}
    with pytest.raises(gc.GCError, match="is a pull-through cache: the evict step collects it"):
        target.collect()
    with pytest.raises(gc.GCError, match="is not a pull-through cache: evict is for caches"):
        registry(tmp_path, DELETES).evict()


def test_the_least_recently_pulled_go_first_until_the_rest_fits(tmp_path, monkeypatch):
    monkeypatch.setattr(gc.time, "time", lambda: NOW)
    target, store = cache(tmp_path, max_size="3k")
    target.settings["textfile_dir"] = str(tmp_path / "textfile")
    # Cached in this order; "one" and "two" were pulled again since (by tag), "three" and "four" were not.
    one, one_blobs = store.image("library/one", "1", [1024], NOW - 4000, tagged=NOW - 100)
    two, two_blobs = store.image("library/two", "1", [1024], NOW - 3000, tagged=NOW - 50)
    three, three_blobs = store.image("library/three", "1", [1024], NOW - 2000)
    four, four_blobs = store.image("team/four", "1", [1024], NOW - 1000)
    report = target.evict()
    assert [(item["repository"], item["why"]) for item in report["evicted"]] == [
        ("library/three", "max_size"), ("team/four", "max_size")]
    left = stored_blobs(tmp_path)
    assert {d[7:] for d in one_blobs + two_blobs + [one, two]} <= left
    assert not {d[7:] for d in three_blobs + four_blobs + [three, four]} & left
    assert report["bytes_after"] <= 3 * 1024 and report["bytes_freed"] == report["bytes_before"] - report["bytes_after"]
    # Its figures, for node_exporter's textfile collector (which runs as another user).
    metrics = tmp_path / "textfile" / "dockyard_cache_registry.prom"
    assert oct(metrics.stat().st_mode & 0o777) == "0o644"
    assert {f'dockyard_cache_bytes{{cache="registry"}} {report["bytes_after"]}',
            'dockyard_cache_max_bytes{cache="registry"} 3072', 'dockyard_cache_images{cache="registry"} 2',
            'dockyard_cache_evicted_images{cache="registry"} 2',
            f'dockyard_cache_freed_bytes{{cache="registry"}} {report["bytes_freed"]}'} <= set(metrics.read_text().splitlines())
    # Nothing of the evicted repositories is left, not even their namespace.
    repositories = tmp_path / "data" / gc.REPOSITORIES
    assert sorted(path.name for path in repositories.iterdir()) == ["library"]
    assert sorted(path.name for path in (repositories / "library").iterdir()) == ["one", "two"]
    assert target.evict()["images_evicted"] == 0


def test_the_pull_log_counts_pulls_by_digest_and_ttl_forgets_what_nobody_pulled(tmp_path, monkeypatch):
    monkeypatch.setattr(gc.time, "time", lambda: NOW)
    monkeypatch.setattr(gc.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(gc.subprocess, "run", lambda *args, **kwargs: None)
    log = tmp_path / "pulls"
    target, store = cache(tmp_path, ttl="1h", pull_log=str(log))
    pinned, _ = store.image("library/pinned", "1", [10], NOW - 86400)
    forgotten, _ = store.image("library/forgotten", "1", [10], NOW - 86400)
    recent, _ = store.image("library/recent", "1", [10], NOW - 60)
    log.write_text(f"{NOW - 600}.123 /v2/library/pinned/manifests/{pinned}\n"
                   f"{NOW - 90000}.000 /v2/library/forgotten/manifests/1\n"
                   "not a pull\n")
    report = target.evict()
    assert [(item["repository"], item["why"]) for item in report["evicted"]] == [("library/forgotten", "ttl")]
    assert not log.exists() and not (tmp_path / "pulls.1").exists()
    kept = json.loads((tmp_path / "data" / gc.PULLS_FILE).read_text())
    assert kept == {f"library/pinned {pinned}": NOW - 600 + 0.123}
    assert recent[7:] in stored_blobs(tmp_path) and forgotten[7:] not in stored_blobs(tmp_path)


def test_what_a_pull_stores_while_the_collection_runs_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(gc.time, "time", lambda: NOW)
    target, store = cache(tmp_path, max_size="1")
    _, old = store.image("library/old", "1", [100], NOW - 5000)
    # A layer written after the collection began, its manifest not stored yet.
    fresh = store.blob(b"fresh layer", NOW + 1)
    report = target.evict()
    assert report["images_evicted"] == 1
    assert stored_blobs(tmp_path) == {fresh[7:]}


def test_sizes_and_durations_as_the_roles_take_them():
    assert [gc.size(text) for text in ("", "512", "2k", "10M", "1g")] == [0, 512, 2048, 10 << 20, 1 << 30]
    assert [gc.duration(text) for text in ("", "168h", "1h30m", "90s")] == [0, 604800, 5400, 90]
    for bad, function in (("10x", gc.size), ("1d", gc.duration), ("h", gc.duration)):
        with pytest.raises(gc.GCError):
            function(bad)
