"""dockyard.registry.archive_image_ids: the image IDs a docker save archive holds, read on the controller."""

import io
import json
import tarfile

from ansible_collections.dockyard.registry.plugins.filter import dockyard as filters

CONFIG = "f5bc9de9f4f12e8efbeede39d08995f65c174d5fbe49125d6b04915ee4a0db1c"
MANIFEST = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"


def archive(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            payload = json.dumps(data).encode()
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return str(path)


def test_docker_archive_gives_the_config_digest(tmp_path):
    path = archive(tmp_path / "registry.tar", {
        f"{CONFIG}.json": {}, "manifest.json": [{"Config": f"{CONFIG}.json", "RepoTags": ["registry:2"]}]})
    assert filters.dockyard_archive_image_ids(path) == [f"sha256:{CONFIG}"]


def test_oci_layout_gives_the_config_and_manifest_digests(tmp_path):
    path = archive(tmp_path / "registry.tar", {
        "index.json": {"manifests": [{"digest": f"sha256:{MANIFEST}"}]},
        "manifest.json": [{"Config": f"blobs/sha256/{CONFIG}", "RepoTags": ["registry:3"]}]})
    assert filters.dockyard_archive_image_ids(path) == [f"sha256:{CONFIG}", f"sha256:{MANIFEST}"]


def test_a_file_that_is_no_archive_gives_nothing(tmp_path):
    (tmp_path / "notes.txt").write_text("not a tar\n")
    assert filters.dockyard_archive_image_ids(str(tmp_path / "notes.txt")) == []
    assert filters.dockyard_archive_image_ids(str(tmp_path / "missing.tar")) == []
    broken = archive(tmp_path / "broken.tar", {"manifest.json": {"Config": 1}})
    assert filters.dockyard_archive_image_ids(broken) == []
