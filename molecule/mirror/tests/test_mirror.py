"""The mirror caches what it served and takes no pushes."""

import json
import re

import pytest

testinfra_hosts = ["ansible://mirrors"]

STORE = "/var/lib/registry-mirror/dockerhub/docker/registry/v2"
GHCR_STORE = "/var/lib/registry-mirror/ghcr/docker/registry/v2"


def upstream_blob_fetches(host):
    upstream = host.get_host("ansible://upstream", ansible_inventory=host.backend.ansible_inventory)
    logs = upstream.check_output("docker logs hub 2>&1")
    return sum(1 for line in logs.splitlines() if "GET /v2/library/busybox/blobs/" in line)


def test_cache_holds_the_pulled_repository_and_its_blobs(host):
    assert host.file(f"{STORE}/repositories/library/busybox").is_directory
    assert host.check_output(f"find {STORE}/blobs -name data | wc -l") != "0"


def test_each_upstream_has_its_own_cache(host):
    assert host.file(f"{GHCR_STORE}/repositories/dockyard/tools").is_directory
    assert not host.file(f"{STORE}/repositories/dockyard").exists
    assert not host.file(f"{GHCR_STORE}/repositories/library").exists
    config = host.file("/etc/dockyard/ghcr/config.yml").content_string
    assert ":5001" in config and "ttl" not in config


def test_config_is_a_proxy_with_a_ttl(host):
    config = host.file("/etc/dockyard/dockerhub/config.yml").content_string
    assert "remoteurl: http://" in config and ":5000" in config and "ttl: 24h" in config


def proxy_counters(host):
    """The dockerhub cache's registry_proxy_*_total counters, blobs and manifests
    together, from its metrics on loopback (registry_mirror_metrics_port_base
    5200, upstream 1)."""
    body = json.loads(host.check_output("probe http://127.0.0.1:5201/metrics"))["body"]
    counters = {}
    for name, value in re.findall(r'^registry_proxy_(\w+)_total\{type="(?:blob|manifest)"\} (\S+)$', body, re.M):
        counters[name] = counters.get(name, 0) + float(value)
    return counters


def test_second_pull_is_served_from_the_cache(host):
    before, counted = upstream_blob_fetches(host), proxy_counters(host)
    assert before > 0  # the first client's pull went through to the upstream
    client = host.get_host("ansible://client2", ansible_inventory=host.backend.ansible_inventory)
    client.check_output("docker rmi --force busybox:latest")
    client.check_output("docker pull busybox:latest")
    assert upstream_blob_fetches(host) == before
    # The cache's own count: every request a hit, none a miss, nothing pulled upstream.
    after = proxy_counters(host)
    hits = after["hits"] - counted["hits"]
    assert hits >= 1 and after["requests"] - counted["requests"] == hits
    assert (after["misses"], after["pulled_bytes"]) == (counted["misses"], counted["pulled_bytes"])
    assert not host.socket("tcp://0.0.0.0:5201").is_listening


@pytest.mark.parametrize("port", [443, 8443])
def test_anonymous_push_to_the_mirror_is_refused(host, port):
    response = json.loads(host.check_output(
        f"probe https://127.0.0.1:{port}/v2/library/busybox/blobs/uploads/ --method POST --insecure"))
    assert response["status"] == 403


def test_concurrent_cold_pulls_of_a_new_image_fetch_each_blob_from_the_upstream_once(host):
    """20 clients pull an image the cache has never seen, all at once: nginx lets one request per blob through
    to the cache (proxy_cache_lock), which fetches it from the upstream; the others wait and get nginx's copy."""
    upstream = host.get_host("ansible://upstream", ansible_inventory=host.backend.ansible_inventory)
    client = host.get_host("ansible://client3", ansible_inventory=host.backend.ansible_inventory)
    # Four layers of fresh random bytes over busybox's two: six, four of them new to the cache.
    upstream.check_output(
        "mkdir -p /root/coalesce && cd /root/coalesce && printf 'FROM dockyard-test/busybox:latest\\n' > Dockerfile"
        " && for n in 1 2 3 4; do head -c 4M /dev/urandom > layer$n && echo COPY layer$n /layer$n >> Dockerfile;"
        " done && DOCKER_BUILDKIT=0 docker build --quiet --tag 127.0.0.1:5000/library/coalesce:1 ."
        " && docker push 127.0.0.1:5000/library/coalesce:1")
    manifest = json.loads(upstream.check_output(
        "probe http://127.0.0.1:5000/v2/library/coalesce/manifests/1"
        " --header 'Accept: application/vnd.docker.distribution.manifest.v2+json'"))["body"]
    layers = [layer["digest"] for layer in json.loads(manifest)["layers"]]
    assert len(layers) == 6
    # busybox's layers may already be in nginx's copy (the rollout's canary pulled them): at most one fetch.
    new = [json.loads(manifest)["config"]["digest"]] + layers[2:]
    pulls = client.run(
        "seq 20 | xargs -P 20 -I{} sh -c 'SSL_CERT_FILE=/etc/docker/certs.d/mirror/ca.crt"
        " crane pull mirror:443/library/coalesce:1 /tmp/coalesce-{}.tar && echo pulled'")
    client.run("rm -f /tmp/coalesce-*.tar")
    assert pulls.rc == 0 and pulls.stdout.split() == ["pulled"] * 20, pulls.stderr
    logs = upstream.check_output("docker logs hub 2>&1")
    fetches = {blob: logs.count(f"GET /v2/library/coalesce/blobs/{blob} ") for blob in layers + new}
    assert {blob: fetches[blob] for blob in new} == {blob: 1 for blob in new}
    assert all(fetches[blob] <= 1 for blob in layers[:2]), fetches
