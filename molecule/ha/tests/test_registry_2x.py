"""A single distribution 2.x registry on the same S3 server, with a redis of its own, where
2.x's settings differ from 3.x's: path style implied by the endpoint (no
forcepathstyle key), redis.addr, and a container environment without
AWS_CA_BUNDLE (2.8's s3 driver panics with it)."""

import json

import yaml

testinfra_hosts = ["ansible://registry-2x"]

BUCKET = "/srv/s3/registry/dockyard-2x/docker/registry/v2"
REF = "registry-2x:443/v2x/stage"


def other(host, name):
    return host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


def test_config_takes_the_2x_keys(host):
    settings = yaml.safe_load(host.file("/etc/dockyard/registry/config.yml").content_string)
    s3 = settings["storage"]["s3"]
    assert "forcepathstyle" not in s3 and s3["rootdirectory"] == "/dockyard-2x"
    assert settings["redis"] == {"addr": "10.231.1.13:6379", "db": 1,
                                 "password": host.ansible.get_variables()["test_redis_password"],
                                 "dialtimeout": "1s", "readtimeout": "1s", "writetimeout": "1s"}
    env = json.loads(host.check_output("docker inspect registry"))[0]["Config"]["Env"]
    assert not any(e.startswith(("AWS_", "OTEL_")) for e in env)


def test_push_and_pull_through_s3_and_redis(host):
    client = other(host, "client-ha")
    client.check_output(f"mkdir -p /tmp/v2x && echo v2x > /tmp/v2x/stage && tar -C /tmp/v2x -c stage"
                        f" | docker import - {REF}:one && docker push {REF}:one")
    digest = client.check_output(f"docker inspect --format '{{{{index .RepoDigests 0}}}}' {REF}:one").split("@")[1]
    client.check_output(f"docker rmi {REF}:one && docker pull {REF}@{digest}")
    s3 = other(host, "s3")
    assert s3.file(f"{BUCKET}/blobs/sha256/{digest[7:9]}/{digest[7:]}/data").is_file
    assert s3.file(f"{BUCKET}/repositories/v2x/stage/_manifests/tags/one").is_directory
    password = host.ansible.get_variables()["test_redis_password"]
    keys = host.check_output(
        f"printf 'AUTH %s\\nSELECT 1\\nKEYS blobs::*\\n' '{password}' | redis-cli -h 10.231.1.13")
    assert f"blobs::{digest}" in keys.splitlines()
