"""Clients nobody on this project wrote, through the same front ends as Docker.

skopeo, podman (Debian's) and crane (go-containerregistry) copy an image in and
out, list it and pull it; every client must see the same manifest digest, and
after a delete by digest, none of them may find the image any more.
"""

import json

import pytest

testinfra_hosts = ["ansible://docker_clients"]

# Where each registry takes pushes, and where its pulls can also be anonymous.
REGISTRIES = {"registry-v2:443": None, "registry-v3:5443": "registry-v3:443"}


def crane(host, registry, command):
    """crane trusts the registry's CA through Go's SSL_CERT_FILE; it reads
    Docker's login from ~/.docker/config.json."""
    return host.check_output(f"SSL_CERT_FILE=/etc/docker/certs.d/{registry}/ca.crt crane {command}")


def digests(host, registry, ref):
    """The manifest digest of ref as skopeo, crane, podman and Docker see it,
    and as an anonymous skopeo sees it where the registry has an anonymous port."""
    repo = ref.rsplit(":", 1)[0]
    host.check_output(f"podman pull --quiet {ref}")
    host.check_output(f"docker pull --quiet {ref}")
    repo_digests = json.loads(host.check_output(f"docker image inspect --format '{{{{json .RepoDigests}}}}' {ref}"))
    seen = {
        "skopeo": host.check_output(f"skopeo inspect --format '{{{{.Digest}}}}' docker://{ref}"),
        "crane": crane(host, registry, f"digest {ref}"),
        "podman": host.check_output(f"podman image inspect --format '{{{{.Digest}}}}' {ref}"),
        "docker": [d.split("@", 1)[1] for d in repo_digests if d.startswith(f"{repo}@")][0],
    }
    if REGISTRIES[registry]:
        anonymous = ref.replace(registry, REGISTRIES[registry])
        seen["skopeo, anonymous"] = host.check_output(
            f"skopeo inspect --no-creds --format '{{{{.Digest}}}}' docker://{anonymous}")
    return seen


@pytest.fixture(scope="module", params=sorted(REGISTRIES))
def pushed(request, host):
    """An image skopeo copied in from the Docker archive, and its digest as
    every client sees it."""
    registry = request.param
    ref = f"{registry}/peers/busybox:skopeo"
    host.check_output(f"skopeo copy --quiet docker-archive:/root/busybox.tar docker://{ref}")
    return registry, ref, digests(host, registry, ref)


def test_every_client_sees_the_same_digest(pushed):
    _, _, seen = pushed
    assert seen["skopeo"].startswith("sha256:")
    assert set(seen.values()) == {seen["skopeo"]}, seen


def test_crane_lists_the_tag(host, pushed):
    registry, _, _ = pushed
    assert "skopeo" in crane(host, registry, f"ls {registry}/peers/busybox").split()


def test_skopeo_copies_the_image_out_unchanged(host, pushed):
    _, ref, seen = pushed
    host.check_output(f"rm -rf /tmp/peers-out && skopeo copy --quiet docker://{ref} dir:/tmp/peers-out")
    copied = host.check_output("sha256sum /tmp/peers-out/manifest.json").split()[0]
    assert f"sha256:{copied}" == seen["skopeo"]


def test_deleted_manifest_is_gone_for_every_client(host, pushed):
    registry, ref, seen = pushed
    by_digest = f"{registry}/peers/busybox@{seen['skopeo']}"
    crane(host, registry, f"delete {by_digest}")
    host.check_output(f"podman rmi --force {ref} && docker rmi --force {ref}")
    refs = [ref, by_digest] + ([ref.replace(registry, REGISTRIES[registry])] if REGISTRIES[registry] else [])
    for gone in refs:
        assert "manifest unknown" in host.run(f"skopeo inspect docker://{gone}").stderr.lower()
        assert "manifest unknown" in host.run(f"podman pull {gone}").stderr
        # dockerd keeps the manifests it pulled and serves a pull by digest
        # from that cache without asking the registry: only tags tell.
        if "@" not in gone:
            assert "manifest unknown" in host.run(f"docker pull {gone}").stderr
    assert "skopeo" not in host.run(
        f"SSL_CERT_FILE=/etc/docker/certs.d/{registry}/ca.crt crane ls {registry}/peers/busybox").stdout.split()
