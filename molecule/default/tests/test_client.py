"""A Docker client host using the registries through their nginx front ends."""

import json

import pytest

testinfra_hosts = ["ansible://docker_clients"]

# A name without a dot needs its port in image names, or Docker means Docker Hub.
REGISTRIES = ["registry-v2:443", "registry-v3:443"]
USER = "ci:ci-password-1"


def name(registry):
    return registry.split(":")[0]


def probe(host, url, *args, ca=None):
    ca_file = f"/etc/docker/certs.d/{ca}/ca.crt" if ca else None
    options = " ".join(list(args) + ([f"--cafile {ca_file}"] if ca_file else []))
    return json.loads(host.check_output(f"probe {url} {options}"))


def forget(host):
    """Delete every local copy of the test images, under any tag, so that the
    next pull must fetch all its blobs from the registry."""
    images = "docker image ls --quiet --filter reference='*/smoke/*' --filter reference='dockyard-test/*'"
    host.check_output(f"{images} | sort -u | xargs --no-run-if-empty docker rmi --force")
    assert host.check_output(images) == ""


def test_ca_is_trusted_without_insecure_registries(host):
    for registry in REGISTRIES:
        assert host.file(f"/etc/docker/certs.d/{registry}/ca.crt").is_file
    info = json.loads(host.check_output("docker info --format '{{json .RegistryConfig}}'"))
    assert not any(r in json.dumps(info) for r in REGISTRIES)


def test_role_logged_in_to_every_registry(host):
    auths = json.loads(host.file("/root/.docker/config.json").content_string)["auths"]
    assert set(REGISTRIES) <= set(auths)


@pytest.mark.parametrize("registry", REGISTRIES)
def test_push_remove_pull_and_run_over_tls(host, registry):
    host.check_output("docker load -i /root/busybox.tar")
    ref = f"{registry}/smoke/busybox:roundtrip"
    host.check_output(f"docker tag dockyard-test/busybox:latest {ref}")
    host.check_output(f"docker push {ref}")
    forget(host)
    host.check_output(f"docker pull {ref}")
    assert host.check_output(f"docker run --rm {ref} echo pulled-and-ran") == "pulled-and-ran"


@pytest.mark.parametrize("registry", REGISTRIES)
def test_images_pushed_before_the_container_was_recreated_still_pull(host, registry):
    forget(host)
    ref = f"{registry}/smoke/busybox:before-recreate"
    host.check_output(f"docker pull {ref}")
    assert host.check_output(f"docker run --rm {ref} echo survived") == "survived"


@pytest.mark.parametrize("registry", REGISTRIES)
def test_catalog_lists_the_pushed_repository(host, registry):
    response = probe(host, f"https://{registry}/v2/_catalog", f"--user {USER}", ca=registry)
    assert response["status"] == 200
    assert "smoke/busybox" in json.loads(response["body"])["repositories"]


@pytest.mark.parametrize("registry", REGISTRIES)
def test_anonymous_api_root_is_a_401_challenge_with_api_version(host, registry):
    response = probe(host, f"https://{registry}/v2/", ca=registry)
    assert response["status"] == 401
    assert response["headers"]["www-authenticate"][0].startswith("Basic realm=")
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
    assert response["headers"]["strict-transport-security"] == ["max-age=63072000"]


@pytest.mark.parametrize("registry", REGISTRIES)
def test_wrong_password_and_anonymous_push_are_refused(host, registry):
    wrong = probe(host, f"https://{registry}/v2/", "--user ci:wrong-password", ca=registry)
    assert wrong["status"] == 401
    push = probe(host, f"https://{registry}/v2/smoke/anonymous/blobs/uploads/", "--method POST", ca=registry)
    assert push["status"] == 401
    assert host.run(f"DOCKER_CONFIG=/tmp/anonymous docker push {registry}/smoke/busybox:roundtrip").rc != 0


@pytest.mark.parametrize("registry", REGISTRIES)
def test_only_tls_1_2_and_newer_are_accepted(host, registry):
    for version in ("1.0", "1.1"):
        assert "error" in probe(host, f"https://{registry}/v2/", f"--tls-max {version}", ca=registry), version
    assert probe(host, f"https://{registry}/v2/", "--tls-max 1.2", ca=registry)["status"] == 401


@pytest.mark.parametrize("registry", REGISTRIES)
def test_http_redirects_to_https(host, registry):
    response = probe(host, f"http://{name(registry)}/v2/_catalog")
    assert response["status"] == 301
    assert response["headers"]["location"] == [f"https://{name(registry)}/v2/_catalog"]


@pytest.mark.parametrize("registry", REGISTRIES)
def test_registry_port_is_not_reachable_except_through_nginx(host, registry):
    assert "error" in probe(host, f"http://{name(registry)}:5000/v2/")


def test_one_gib_layer_pushes_and_pulls_through_nginx(host):
    """A layer of 1 GiB of random bytes (incompressible: 1 GiB on the wire)."""
    ref = "registry-v3:443/smoke/big:1gib"
    host.check_output(
        "mkdir -p /root/big && head -c 1073741824 /dev/urandom > /root/big/blob"
        f" && tar -C /root/big -c blob | docker import - {ref} && rm -rf /root/big")
    push = host.run(f"docker push {ref}")
    assert push.rc == 0, push.stderr
    host.check_output(f"docker rmi {ref}")
    pull = host.run(f"docker pull {ref}")
    assert pull.rc == 0, pull.stderr
    assert int(host.check_output(f"docker image inspect --format '{{{{.Size}}}}' {ref}")) >= 1073741824
