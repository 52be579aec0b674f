"""The mirror caches what it served and takes no pushes."""

import json
import re
import time

import pytest

testinfra_hosts = ["ansible://mirror"]

STORE = "/var/lib/registry-mirror/dockerhub/docker/registry/v2"
GHCR_STORE = "/var/lib/registry-mirror/ghcr/docker/registry/v2"
LEGACY_STORE = "/var/lib/registry-mirror/legacy/docker/registry/v2"
LEGACY_CRANE = "crane pull --insecure mirror2:443/library/{} /tmp/legacy-{}.tar"
MANIFEST = "--header 'Accept: application/vnd.docker.distribution.manifest.v2+json'"


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
    assert ":5001" in config and "ttl: 0s" in config
    collection = json.loads(host.file("/etc/dockyard/ghcr/gc.json").content_string)
    assert (collection["ttl"], collection["max_size"]) == ("", "50g")  # registry_mirror_max_size


def test_config_is_a_proxy_whose_collection_has_the_ttl_and_budget(host):
    config = host.file("/etc/dockyard/dockerhub/config.yml").content_string
    # The registry's own expiry is off: it cannot delete, and the collection evicts by last pull instead.
    assert "remoteurl: http://" in config and ":5000" in config and "ttl: 0s" in config
    assert "blobdescriptor" not in config
    collection = json.loads(host.file("/etc/dockyard/dockerhub/gc.json").content_string)
    assert (collection["proxy"], collection["ttl"], collection["max_size"]) == (True, "24h", "8m")
    assert collection["pull_log"] == "/var/log/nginx/dockyard-dockerhub.pulls"
    assert host.service("dockyard-gc-dockerhub.timer").is_enabled


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
        f"probe http://127.0.0.1:5000/v2/library/coalesce/manifests/1 {MANIFEST}"))["body"]
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
    assert {blob: fetches[blob] for blob in new} == dict.fromkeys(new, 1)
    assert all(fetches[blob] <= 1 for blob in layers[:2]), fetches


def push_image(upstream, name):
    """An image of one fresh 3 MiB layer on the upstream: its digest and blobs (config and layer)."""
    upstream.check_output(
        f"mkdir -p /root/{name} && cd /root/{name} && head -c 3M /dev/urandom > layer"
        " && printf 'FROM scratch\\nCOPY layer /layer\\n' > Dockerfile"
        f" && DOCKER_BUILDKIT=0 docker build --quiet --tag 127.0.0.1:5000/library/{name}:1 ."
        f" && docker push 127.0.0.1:5000/library/{name}:1")
    response = json.loads(upstream.check_output(f"probe http://127.0.0.1:5000/v2/library/{name}/manifests/1 {MANIFEST}"))
    manifest = json.loads(response["body"])
    return response["headers"]["docker-content-digest"][0], [manifest["config"]["digest"], manifest["layers"][0]["digest"]]


def collect(host, cache):
    """Run a cache's collection by its timer's own service; what it reported."""
    host.check_output(f"systemctl start dockyard-gc-{cache}.service")
    return json.loads(host.check_output(f"journalctl --unit dockyard-gc-{cache}.service --output cat | grep '^{{' | tail -1"))


def blob_bytes(host):
    return int(host.check_output(f"find {STORE}/blobs -name data -printf '%s\\n' | awk '{{s += $1}} END {{print s + 0}}'"))


def test_a_collection_keeps_the_cache_within_its_budget_by_last_pull_while_clients_pull(host):
    """Four images of one fresh 3 MiB layer are cached in turn, then the first is pulled again by digest (which
    only the pull log tells) and the second by tag: the collection, run by the timer's own service while a Docker
    and a containerd client pull in a loop, keeps those two within the 8m budget and evicts everything older."""
    upstream = host.get_host("ansible://upstream", ansible_inventory=host.backend.ansible_inventory)
    client1 = host.get_host("ansible://client1", ansible_inventory=host.backend.ansible_inventory)
    client3 = host.get_host("ansible://client3", ansible_inventory=host.backend.ansible_inventory)
    digests = {n: push_image(upstream, f"evict{n}")[0] for n in (1, 2, 3, 4)}
    crane = "SSL_CERT_FILE=/etc/docker/certs.d/mirror/ca.crt crane pull mirror:443/library/{} /tmp/evict.tar && sleep 1"
    for reference in ["evict1:1", "evict2:1", "evict3:1", "evict4:1", f"evict1@{digests[1]}", "evict2:1"]:
        client3.check_output(crane.format(reference))
    assert blob_bytes(host) > 8 << 20

    # Pull evict2 in a loop on client1 (Docker, through registry-mirrors) and client3 (containerd).
    loop = ("rm -f /root/pulls /root/stop; setsid nohup sh -c 'while [ ! -e /root/stop ]; do start=$(date +%s.%N);"
            " {pull} >/dev/null 2>&1; rc=$?; {remove} >/dev/null 2>&1; echo $start $(date +%s.%N) $rc >> /root/pulls;"
            " done; touch /root/stopped' >/dev/null 2>&1 < /dev/null &")
    loops = {client1: loop.format(pull="docker pull evict2:1", remove="docker rmi evict2:1"),
             client3: loop.format(pull="ctr --namespace evict images pull --hosts-dir /etc/containerd/certs.d"
                                       " docker.io/library/evict2:1",
                                  remove="ctr --namespace evict images rm docker.io/library/evict2:1")}
    for client, command in loops.items():
        client.run("rm -f /root/stopped")
        client.check_output(command)
    time.sleep(3)
    began = float(host.check_output("date +%s.%N"))
    report = collect(host, "dockerhub")
    ended = float(host.check_output("date +%s.%N"))
    time.sleep(3)
    outcomes = {}
    for client in loops:
        client.check_output("touch /root/stop && for i in $(seq 60); do [ -e /root/stopped ] && break; sleep 1; done")
        outcomes[client] = [line.split() for line in client.check_output("cat /root/pulls").splitlines()]

    for lines in outcomes.values():
        assert lines and all(rc == "0" for _, _, rc in lines), lines  # no pull failed
        assert any(float(start) < ended and float(end) > began for start, end, _ in lines), (lines, began, ended)
    assert report["bytes_after"] <= report["max_bytes"] == 8 << 20 and blob_bytes(host) <= 8 << 20
    evicted = {item["repository"] for item in report["evicted"]}
    assert {"library/evict3", "library/evict4", "library/coalesce"} <= evicted, report
    assert not {"library/evict1", "library/evict2"} & evicted
    assert report["bytes_freed"] == report["bytes_before"] - report["bytes_after"] > 0
    for n in (1, 2):
        assert host.file(f"{STORE}/repositories/library/evict{n}/_manifests/revisions/sha256/{digests[n][7:]}").exists
    for n in (3, 4):
        assert not host.file(f"{STORE}/repositories/library/evict{n}").exists

    # The cache's size and budget, as node_exporter exports them next to the host's own metrics.
    body = json.loads(host.check_output("probe http://127.0.0.1:9100/metrics"))["body"]
    exported = {name: float(value)
                for name, value in re.findall(r'^dockyard_cache_(\w+)\{cache="dockerhub"\} (\S+)$', body, re.M)}
    assert (exported["bytes"], exported["max_bytes"], exported["evicted_images"]) == (
        report["bytes_after"], 8 << 20, report["images_evicted"])

    # An evicted image is pulled again: the cache fetches and stores it anew.
    client3.check_output(crane.format("evict3:1"))
    assert host.file(f"{STORE}/repositories/library/evict3/_manifests/revisions/sha256/{digests[3][7:]}").exists


def test_a_2x_cache_is_kept_within_its_budget_and_coalesces_cold_pulls(host):
    """mirror2's cache, on distribution 2.x, keeps within its budget by last pull, and concurrent cold pulls of a new
    image cost the upstream what one pull costs."""
    mirror2 = host.get_host("ansible://mirror2", ansible_inventory=host.backend.ansible_inventory)
    upstream = host.get_host("ansible://upstream", ansible_inventory=host.backend.ansible_inventory)
    client = host.get_host("ansible://client3", ansible_inventory=host.backend.ansible_inventory)
    assert "ttl" not in mirror2.file("/etc/dockyard/legacy/config.yml").content_string  # 2.x has no proxy.ttl
    digests = {n: push_image(upstream, f"legacy{n}")[0] for n in (1, 2, 3)}
    # Cached in turn, then legacy1 pulled again by digest: legacy2 is the least recently pulled.
    for reference in ["legacy1:1", "legacy2:1", "legacy3:1", f"legacy1@{digests[1]}"]:
        client.check_output(LEGACY_CRANE.format(reference, "fill") + " && sleep 1")
    report = collect(mirror2, "legacy")
    assert [item["repository"] for item in report["evicted"]] == ["library/legacy2"], report
    assert report["bytes_after"] <= report["max_bytes"] == 7 << 20 < report["bytes_before"]
    assert not mirror2.file(f"{LEGACY_STORE}/repositories/library/legacy2").exists
    for n in (1, 3):
        assert mirror2.file(f"{LEGACY_STORE}/repositories/library/legacy{n}/_manifests/revisions/sha256/{digests[n][7:]}").exists

    # Five clients pull a new image at once: nginx lets one request per blob through, for which 2.8 fetches the
    # blob twice (one stream to store it, one to serve it: proxyblobstore.go), and never again.
    _, blobs = push_image(upstream, "legacy4")
    pull = LEGACY_CRANE.format("legacy4:1", "{}")
    pulls = client.run(f"seq 5 | xargs -P 5 -I{{}} sh -c '{pull} && echo pulled'")
    assert pulls.rc == 0 and pulls.stdout.split() == ["pulled"] * 5, pulls.stderr
    logs = upstream.check_output("docker logs hub 2>&1")
    assert [logs.count(f"GET /v2/library/legacy4/blobs/{blob} ") for blob in blobs] == [2, 2]
