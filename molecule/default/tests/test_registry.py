"""A registry host as an operator would check it after `ansible-playbook site.yml`."""

import json

import yaml

REGISTRY = "127.0.0.1:5000"
CONFIG_DIR = "/etc/dockyard/registry"
CONFIG_PATH = {"2": "/etc/docker/registry/config.yml", "3": "/etc/distribution/config.yml"}


def inspect(host, name="registry"):
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


def forget(host):
    """Delete every local copy of the test image, under any tag, so that the
    next pull must fetch all its blobs from the registry."""
    images = "docker image ls --quiet --filter reference='*/smoke/busybox' --filter reference='dockyard-test/busybox'"
    host.check_output(f"{images} | sort -u | xargs --no-run-if-empty docker rmi --force")
    assert host.check_output(images) == ""


def api(host, path):
    """GET a registry API path from the host itself; return the decoded JSON."""
    script = f"import urllib.request; print(urllib.request.urlopen('http://{REGISTRY}{path}').read().decode())"
    return json.loads(host.check_output(f'python3 -c "{script}"'))


def test_docker_runs_now_and_at_boot(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_registry_container_runs_the_configured_version(host):
    hostvars = host.ansible.get_variables()
    info = inspect(host)
    assert info["State"]["Running"]
    assert info["Config"]["Image"] == hostvars["registry_image"]
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert hostvars["expected_version"] in host.check_output("docker exec registry /bin/registry --version")


def test_container_reads_the_rendered_config(host):
    major = host.ansible.get_variables()["registry_image"].rsplit(":", 1)[1]
    mounts = {m["Destination"]: m["Source"] for m in inspect(host)["Mounts"]}
    assert mounts[CONFIG_PATH[major]] == f"{CONFIG_DIR}/config.yml"
    assert mounts["/var/lib/registry"] == "/var/lib/registry"
    config_file = host.file(f"{CONFIG_DIR}/config.yml")
    assert config_file.mode == 0o600
    config = yaml.safe_load(config_file.content_string)
    assert config["http"]["addr"] == ":5000"
    assert config["http"]["headers"]["X-Content-Type-Options"] == ["nosniff"]
    assert config["health"]["storagedriver"]["enabled"] is True
    secret = host.file(f"{CONFIG_DIR}/http-secret")
    assert secret.mode == 0o600
    assert len(config["http"]["secret"]) == 48
    assert config["http"]["secret"] == secret.content_string


def test_registry_is_published_on_loopback_only(host):
    assert host.socket(f"tcp://{REGISTRY}").is_listening
    assert not host.socket("tcp://0.0.0.0:5000").is_listening


def test_push_remove_pull_and_run(host):
    host.check_output("docker load -i /root/busybox.tar")
    ref = f"{REGISTRY}/smoke/busybox:roundtrip"
    host.check_output(f"docker tag dockyard-test/busybox:latest {ref}")
    host.check_output(f"docker push {ref}")
    forget(host)
    host.check_output(f"docker pull {ref}")
    assert host.check_output(f"docker run --rm {ref} echo pulled-and-ran") == "pulled-and-ran"


def test_catalog_lists_the_pushed_repository(host):
    assert "smoke/busybox" in api(host, "/v2/_catalog")["repositories"]
    assert {"roundtrip", "before-recreate"} <= set(api(host, "/v2/smoke/busybox/tags/list")["tags"])


def test_images_survive_recreating_the_container(host):
    before = host.file("/root/registry-id-before").content_string.strip()
    assert before and inspect(host)["Id"] != before
    ref = f"{REGISTRY}/smoke/busybox:before-recreate"
    forget(host)
    host.check_output(f"docker pull {ref}")
    assert host.check_output(f"docker run --rm {ref} echo survived") == "survived"
