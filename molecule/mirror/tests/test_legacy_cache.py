"""A cache on distribution 2.x (mirror2) keeps within its budget by last pull, as the 3.x caches of
test_mirror.py do, and concurrent cold pulls of a new image cost the upstream what one pull costs."""

import json

testinfra_hosts = ["ansible://mirror2"]

STORE = "/var/lib/registry-mirror/legacy/docker/registry/v2"
CRANE = "crane pull --insecure mirror2:443/library/{} /tmp/legacy-{}.tar"
MANIFEST = "--header 'Accept: application/vnd.docker.distribution.manifest.v2+json'"


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


def test_a_2x_cache_is_kept_within_its_budget_and_coalesces_cold_pulls(host):
    upstream = host.get_host("ansible://upstream", ansible_inventory=host.backend.ansible_inventory)
    client = host.get_host("ansible://client3", ansible_inventory=host.backend.ansible_inventory)
    assert "ttl" not in host.file("/etc/dockyard/legacy/config.yml").content_string  # 2.x has no proxy.ttl
    digests = {n: push_image(upstream, f"legacy{n}")[0] for n in (1, 2, 3)}
    # Cached in turn, then legacy1 pulled again by digest: legacy2 is the least recently pulled.
    for reference in ["legacy1:1", "legacy2:1", "legacy3:1", f"legacy1@{digests[1]}"]:
        client.check_output(CRANE.format(reference, "fill") + " && sleep 1")
    host.check_output("systemctl start dockyard-gc-legacy.service")
    report = json.loads(host.check_output(
        "journalctl --unit dockyard-gc-legacy.service --output cat | grep '^{' | tail -1"))
    assert [item["repository"] for item in report["evicted"]] == ["library/legacy2"], report
    assert report["bytes_after"] <= report["max_bytes"] == 7 << 20 < report["bytes_before"]
    assert not host.file(f"{STORE}/repositories/library/legacy2").exists
    for n in (1, 3):
        assert host.file(f"{STORE}/repositories/library/legacy{n}/_manifests/revisions/sha256/{digests[n][7:]}").exists

    # Five clients pull a new image at once: nginx lets one request per blob through, for which 2.8 fetches the
    # blob twice (one stream to store it, one to serve it: proxyblobstore.go), and never again.
    _, blobs = push_image(upstream, "legacy4")
    pull = CRANE.format("legacy4:1", "{}")
    pulls = client.run(f"seq 5 | xargs -P 5 -I{{}} sh -c '{pull} && echo pulled'")
    assert pulls.rc == 0 and pulls.stdout.split() == ["pulled"] * 5, pulls.stderr
    logs = upstream.check_output("docker logs hub 2>&1")
    assert [logs.count(f"GET /v2/library/legacy4/blobs/{blob} ") for blob in blobs] == [2, 2]
