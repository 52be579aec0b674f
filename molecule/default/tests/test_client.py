"""A Docker client host using the registries through their nginx front ends.

registry-v2:443 is authenticated by the registry itself. registry-v3 lets
anyone pull on 443 (writes get 403) and takes pushes with a login on 5443,
where nginx checks the password.
"""

import json

import pytest

testinfra_hosts = ["ansible://docker_clients"]

# A name without a dot needs its port in image names, or Docker means Docker Hub.
PUSH = ["registry-v2:443", "registry-v3:5443"]
HOSTS = ["registry-v2", "registry-v3"]
ANONYMOUS = "DOCKER_CONFIG=/tmp/anonymous docker"


def account(host):
    """user:password of the scenario's test account."""
    variables = host.ansible.get_variables()
    return f"{variables['test_user']}:{variables['test_password']}"


def probe(host, url, *args, ca=None):
    options = list(args) + ([f"--cafile /etc/docker/certs.d/{ca}/ca.crt"] if ca else [])
    return json.loads(host.check_output(f"probe {url} {' '.join(options)}"))


def forget(host):
    """Delete every local copy of the test images, under any tag, so that the
    next pull must fetch all its blobs from the registry."""
    images = "docker image ls --quiet --filter reference='*/smoke/*' --filter reference='dockyard-test/*'"
    host.check_output(f"{images} | sort -u | xargs --no-run-if-empty docker rmi --force")
    assert host.check_output(images) == ""


def tag_test_image(host, ref):
    host.check_output("docker load -i /root/busybox.tar")
    host.check_output(f"docker tag dockyard-test/busybox:latest {ref}")


def test_ca_is_trusted_without_insecure_registries(host):
    for address in PUSH + ["registry-v3:443"]:
        assert host.file(f"/etc/docker/certs.d/{address}/ca.crt").is_file
    config = host.check_output("docker info --format '{{json .RegistryConfig}}'")
    assert not any(name in config for name in HOSTS)


def test_role_logged_in_where_credentials_were_given(host):
    auths = json.loads(host.file("/root/.docker/config.json").content_string)["auths"]
    assert set(auths) == set(PUSH)


@pytest.mark.parametrize("registry", PUSH)
def test_push_remove_pull_and_run_over_tls(host, registry):
    ref = f"{registry}/smoke/busybox:roundtrip"
    tag_test_image(host, ref)
    host.check_output(f"docker push {ref}")
    forget(host)
    host.check_output(f"docker pull {ref}")
    assert host.check_output(f"docker run --rm {ref} echo pulled-and-ran") == "pulled-and-ran"


@pytest.mark.parametrize("registry", PUSH)
def test_images_pushed_before_the_container_was_recreated_still_pull(host, registry):
    forget(host)
    ref = f"{registry}/smoke/busybox:before-recreate"
    host.check_output(f"docker pull {ref}")
    assert host.check_output(f"docker run --rm {ref} echo survived") == "survived"


@pytest.mark.parametrize("registry", PUSH)
def test_catalog_lists_the_pushed_repository(host, registry):
    response = probe(host, f"https://{registry}/v2/_catalog", f"--user {account(host)}", ca=registry)
    assert response["status"] == 200
    assert "smoke/busybox" in json.loads(response["body"])["repositories"]


def test_registry_auth_challenges_every_anonymous_request(host):
    registry = "registry-v2:443"
    response = probe(host, f"https://{registry}/v2/", ca=registry)
    assert response["status"] == 401
    assert response["headers"]["www-authenticate"][0].startswith("Basic realm=")
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
    assert response["headers"]["strict-transport-security"] == ["max-age=63072000"]
    assert probe(host, f"https://{registry}/v2/", "--user ci:wrong-password", ca=registry)["status"] == 401
    assert "no basic auth credentials" in host.run(f"{ANONYMOUS} pull {registry}/smoke/busybox:roundtrip").stderr


def test_anyone_pulls_from_the_anonymous_port(host):
    registry = "registry-v3:443"
    response = probe(host, f"https://{registry}/v2/", ca=registry)
    assert response["status"] == 200
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
    forget(host)
    host.check_output(f"{ANONYMOUS} pull {registry}/smoke/busybox:roundtrip")


def test_push_port_challenges_with_a_401_nginx_makes(host):
    registry = "registry-v3:5443"
    response = probe(host, f"https://{registry}/v2/", ca=registry)
    assert response["status"] == 401
    assert response["headers"]["www-authenticate"] == ['Basic realm="Registry registry"']
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
    assert response["headers"]["server"][0].startswith("nginx")
    assert probe(host, f"https://{registry}/v2/", "--user ci:wrong-password", ca=registry)["status"] == 401
    assert probe(host, f"https://{registry}/v2/", f"--user {account(host)}", ca=registry)["status"] == 200


# Docker's words for a 401 (it has no login to offer) and for nginx's 403 page.
@pytest.mark.parametrize("registry, status, refusal", [
    ("registry-v2:443", 401, "no basic auth credentials"),
    ("registry-v3:5443", 401, "no basic auth credentials"),
    ("registry-v3:443", 403, "403 Forbidden")])
def test_anonymous_push_is_refused(host, registry, status, refusal):
    response = probe(host, f"https://{registry}/v2/smoke/anonymous/blobs/uploads/", "--method POST", ca=registry)
    assert response["status"] == status
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
    ref = f"{registry}/smoke/anonymous:1"
    tag_test_image(host, ref)
    assert refusal in host.run(f"{ANONYMOUS} push {ref}").stderr


@pytest.mark.parametrize("name", HOSTS)
def test_only_tls_1_2_and_newer_are_accepted(host, name):
    ca = f"{name}:443"
    for version in ("1.0", "1.1"):
        assert "error" in probe(host, f"https://{name}/v2/", f"--tls-max {version}", ca=ca), version
    assert "status" in probe(host, f"https://{name}/v2/", "--tls-max 1.2", ca=ca)


@pytest.mark.parametrize("name", HOSTS)
def test_docker_1_5_and_older_are_refused(host, name):
    ca = f"{name}:443"
    assert probe(host, f"https://{name}/v2/", "--agent 'docker/1.5.0 go/go1.4'", ca=ca)["status"] == 404
    assert probe(host, f"https://{name}/v2/", "--agent 'docker/20.10.24 go/go1.19'", ca=ca)["status"] != 404


@pytest.mark.parametrize("name", HOSTS)
def test_http_redirects_to_https(host, name):
    response = probe(host, f"http://{name}/v2/_catalog")
    assert response["status"] == 301
    assert response["headers"]["location"] == [f"https://{name}/v2/_catalog"]


@pytest.mark.parametrize("name", HOSTS)
def test_registry_port_is_not_reachable_except_through_nginx(host, name):
    assert "error" in probe(host, f"http://{name}:5000/v2/")


@pytest.mark.parametrize("name", HOSTS)
def test_metrics_are_not_reachable_from_the_client(host, name):
    """Published on the registry host's loopback only (registry_metrics_port 5001)."""
    assert "refused" in probe(host, f"http://{name}:5001/metrics")["error"]
    through_nginx = probe(host, f"https://{name}/metrics", "--insecure")
    assert through_nginx["status"] == 404 and "registry_http_requests_total" not in through_nginx["body"]


def test_registry_v3_sends_its_traces_to_the_collector_given(host):
    """The collector of prepare.yml records what registry-v3 posts to it."""
    records = [json.loads(line) for line in host.file("/var/lib/collector/traces.jsonl").content_string.splitlines()]
    assert records and all(r["path"] == "/v1/traces" and r["content_type"] == "application/x-protobuf"
                           and "error" not in r for r in records)
    resources = [resource for record in records for resource in record["resources"]]
    services = {(r["attributes"]["service.name"], r["attributes"]["service.version"][:3]) for r in resources}
    assert services == {("registry", "v3.")}
    spans = {span for resource in resources for span in resource["spans"]}
    assert "GET /v2/" in spans and any(span.startswith("PUT /v2/smoke/") for span in spans), sorted(spans)[:20]


def test_one_gib_layer_pushes_and_pulls_through_nginx(host):
    """1 GiB of random bytes (incompressible: 1 GiB on the wire) in one layer,
    pushed with a login and pulled back anonymously."""
    pushed, pulled = "registry-v3:5443/smoke/big:1gib", "registry-v3:443/smoke/big:1gib"
    host.check_output(
        "mkdir -p /root/big && head -c 1073741824 /dev/urandom > /root/big/blob"
        f" && tar -C /root/big -c blob | docker import - {pushed} && rm -rf /root/big")
    push = host.run(f"docker push {pushed}")
    assert push.rc == 0, push.stderr
    host.check_output(f"docker rmi {pushed}")
    pull = host.run(f"{ANONYMOUS} pull {pulled}")
    assert pull.rc == 0, pull.stderr
    assert int(host.check_output(f"docker image inspect --format '{{{{.Size}}}}' {pulled}")) >= 1073741824
