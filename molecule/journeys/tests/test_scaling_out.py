"""The journey "scaling out": two registry hosts serve one name with one CA, from one S3 bucket and one
redis, so that an image pushed through one host's front end is pulled through the other's; the vault stays
encrypted, and no secret reached the output."""

import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

testinfra_hosts = ["ansible://fleet-mirror"]
JOURNEY = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs" / "journeys" / "scaling-out"
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "journeys" / "scaling-out" / "inventory"
REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys"
REGISTRY = "registry.internal.example.com"
REPLICAS = {"registry1.fleet.test": "10.233.0.111", "registry2.fleet.test": "10.233.0.112"}
SECRETS = yaml.safe_load((JOURNEY / "group_vars" / "all" / "vault.yml").read_text())
CA = f"/etc/docker/certs.d/{REGISTRY}/ca.crt"


def other(host, name):
    return host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


def test_the_vault_stays_encrypted_in_the_inventory():
    assert (INVENTORY / "group_vars/all/vault.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")


def test_no_secret_reached_the_output():
    outputs = [step["output"] for run in ["", "-again"]
               for step in json.loads((REPORTS / f"scaling-out{run}.json").read_text())]
    for name, secret in SECRETS.items():
        assert not any(secret in output for output in outputs), name


@pytest.mark.parametrize("replica", REPLICAS)
def test_each_replica_serves_its_own_name_under_the_one_ca_the_docker_host_trusts(host, replica):
    answer = json.loads(host.check_output(f"probe https://{replica}/v2/ --user ci:wrong --cafile {CA}"))
    assert answer["status"] == 401, answer


@pytest.fixture()
def resolve(host):
    """Point the registry's name at one replica, as the operator's DNS would; /etc/hosts is put back after."""
    saved = host.check_output("cat /etc/hosts")

    def point(address):
        host.check_output(f"sed '/[[:space:]]{REGISTRY}$/d' /etc/hosts > /tmp/hosts && echo '{address} {REGISTRY}'"
                          " >> /tmp/hosts && cat /tmp/hosts > /etc/hosts")  # /etc/hosts is a mount: written in place
        assert host.check_output(f"getent hosts {REGISTRY}").split()[0] == address
        time.sleep(6)  # dockerd's resolver (Go's) reads /etc/hosts again at most every 5 s
    yield point
    host.check_output(f"cat > /etc/hosts <<'EOF'\n{saved}\nEOF")


def test_an_image_pushed_through_one_replica_is_pulled_by_digest_through_the_other(host, resolve):
    image = f"{REGISTRY}/ci/busybox"
    resolve(REPLICAS["registry1.fleet.test"])
    host.check_output(f"docker load -i /root/busybox.tar && docker tag dockyard-test/busybox {image}")
    pushed = host.check_output(f"docker push {image}")
    digest = pushed.split("digest: ")[1].split()[0]
    # The image goes with every tag of it (other journeys' tests tagged it too): no layer of it is left here.
    host.check_output(f"docker rmi --force $(docker inspect --format '{{{{.Id}}}}' {image})")
    resolve(REPLICAS["registry2.fleet.test"])
    registry2 = other(host, "registry2.fleet.test")
    logged = int(registry2.check_output("wc -l < /var/log/nginx/access.log"))
    assert f"{image}@{digest}" in host.check_output(f"docker pull {image}@{digest}")
    log = registry2.check_output(f"tail -n +{logged + 1} /var/log/nginx/access.log")
    assert f"GET /v2/ci/busybox/manifests/{digest} HTTP/1.1\" 200" in log
    assert len(re.findall(r'"GET /v2/ci/busybox/blobs/sha256:[0-9a-f]{64} HTTP/1.1" 200', log)) == 3  # config, 2 layers


def test_the_images_are_in_the_bucket_and_their_descriptors_in_redis(host):
    store = other(host, "fleet-store")
    assert store.file("/srv/s3/registry/docker/registry/v2/repositories/ci/busybox").is_directory
    layers = store.check_output("ls /srv/s3/registry/docker/registry/v2/repositories/ci/busybox/_layers/sha256")
    keys = store.check_output(f"printf 'AUTH %s\\nKEYS blobs::*\\n' '{SECRETS['vault_redis_password']}'"
                              " | redis-cli -h 10.233.0.101").splitlines()
    assert keys[0] == "OK" and {f"blobs::sha256:{layer}" for layer in layers.split()} <= set(keys[1:]), keys
