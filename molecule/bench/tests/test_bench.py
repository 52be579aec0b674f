"""The benchmark ran every comparison and wrote a whole report: every path
moved its images in every round, the caches really served the mirror's pulls,
the cache with nginx's copy of the blobs fetched each new image once however
many clients pulled it at once,
the replicas kept their layers in the S3 bucket,
each way of logging in answered its HEADs and pulls (anonymous with no login,
the others with the one each asks for, a token from bench-token's token
server) while its server's CPU was summed,
every fleet of the rollout (Docker, containerd, podman and mixed hosts) was
switched to the cache, each runtime's canary pulled on each host that has it,
with no container restarted and nothing left behind, and the report has every part with its
medians and ratios. The figures themselves are not judged here (make bench
reports them)."""

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

testinfra_hosts = ["ansible://bench-client"]

ROUNDS = int(os.environ.get("BENCH_ROUNDS") or 1)
COALESCE_CLIENTS = [int(clients) for clients in (os.environ.get("BENCH_COALESCE_CLIENTS") or "1 3").split()]
ROLLOUT_SIZES = [int(size) for size in (os.environ.get("BENCH_ROLLOUT_SIZES") or "3").split()]
ROLLOUT_KINDS = (os.environ.get("BENCH_ROLLOUT_KINDS") or "mixed").split()
ROLLOUT_ROUNDS = int(os.environ.get("BENCH_ROLLOUT_ROUNDS") or 1)
ROLE = "dockyard.registry.registry_client"
# Each runtime's canary task, and the runtimes each kind of host has.
CANARIES = {
    "dockerd": "Pull the canary image through dockerd's mirrors.",
    "containerd": "Pull the canary image through containerd's CRI plugin (crictl), or with ctr from the same hosts.toml files.",
    "podman": "Pull the canary image through the containers tools' mirrors (podman, or skopeo).",
}
RUNTIMES = {"docker": {"dockerd", "containerd"}, "containerd": {"containerd"}, "podman": {"podman"}}
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
REPORT = PROJECT / "reports/bench/latest.json"
# benchmarks/bench.py, for the kinds of hosts its mixed fleets take.
SPEC = importlib.util.spec_from_file_location("bench", PROJECT / "benchmarks/bench.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)
TIMINGS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "bench"
# The tags each round pushed.
TAGS = [f"round-{number}" for number in range(1, ROUNDS + 1)]
# The replicas' repositories, as objects of the S3 server's bucket on bench-store.
BUCKET = "/srv/s3/registry/docker/registry/v2/repositories"


def measured(host, part):
    return json.loads(host.file(f"/root/bench-{part}.json").content_string)


def stored_tags(host, container, repository):
    """The tags of a repository on the disk of a registry container of bench-registry."""
    registry = host.get_host("ansible://bench-registry", ansible_inventory=host.backend.ansible_inventory)
    mounts = json.loads(registry.check_output(f"docker inspect {container}"))[0]["Mounts"]
    data = next(mount["Source"] for mount in mounts if mount["Destination"] == "/var/lib/registry")
    return registry.check_output(f"ls {data}/docker/registry/v2/repositories/{repository}/_manifests/tags").split()


def test_every_front_end_path_pushed_and_pulled_the_layer_in_every_round(host):
    frontend = measured(host, "frontend")
    assert frontend["baseline"] == "direct"
    assert list(frontend["rows"]) == ["direct", "project", "blog-post"]
    for row in frontend["rows"].values():
        assert len(row["push"]) == len(row["pull"]) == ROUNDS
        assert all(seconds > 0 for seconds in row["push"] + row["pull"])
    assert frontend["bytes"] == int(os.environ.get("BENCH_MIB") or 32) << 20


def test_the_filesystem_registry_and_the_replicas_pushed_and_pulled_the_layer_in_every_round(host):
    replicas = measured(host, "replicas")
    assert replicas["baseline"] == "filesystem"
    assert list(replicas["rows"]) == ["filesystem", "replicas"]
    for row in replicas["rows"].values():
        assert len(row["push"]) == len(row["pull"]) == ROUNDS
    assert replicas["bytes"] == int(os.environ.get("BENCH_MIB") or 32) << 20


def test_each_path_of_the_replicas_part_kept_its_images_where_it_stores_them(host):
    """The replicas' tags are in the S3 bucket, the filesystem registry's on its disk."""
    store = host.get_host("ansible://bench-store", ansible_inventory=host.backend.ansible_inventory)
    assert store.check_output(f"ls {BUCKET}/bench/replicas-replicas/_manifests/tags").split() == TAGS
    assert not store.file(f"{BUCKET}/bench/replicas-filesystem").exists
    assert stored_tags(host, "registry", "bench/replicas-filesystem") == TAGS


def test_each_cache_was_pulled_cold_and_warm_in_every_round(host):
    mirror = measured(host, "mirror")
    assert list(mirror["rows"]) == ["hosted", "cache-cold", "cache-warm", "plain-cold", "plain-warm"]
    assert all(len(row["pull"]) == ROUNDS for row in mirror["rows"].values())


def test_each_cache_holds_what_it_served(host):
    for cache in ("cache", "plain"):
        assert stored_tags(host, cache, "bench/mirror") == TAGS


def test_the_cache_with_the_copy_fetched_each_new_image_once_however_many_clients_pulled_it():
    coalesce = json.loads((TIMINGS / "coalesce.json").read_text())
    pulls = [f"{clients} at once" for clients in COALESCE_CLIENTS]
    assert {cache: list(rows) for cache, rows in coalesce["rows"].items()} == {"plain": pulls, "cache": pulls}
    # One image's blobs: what the cache without the copy fetched for one client.
    once = coalesce["upstream"]["plain"][pulls[0]]
    assert once > coalesce["bytes"]  # the layers and the config
    assert coalesce["upstream"]["cache"] == dict.fromkeys(pulls, once)


def test_each_way_of_logging_in_answered_its_heads_and_pulls_in_every_round():
    auth = json.loads((TIMINGS / "auth.json").read_text())
    assert auth["baseline"] == "anonymous"
    assert list(auth["rows"]) == ["anonymous", "nginx", "htpasswd", "token"]
    for row in auth["rows"].values():
        assert len(row["1000 HEADs"]) == len(row["pull"]) == len(row["CPU, 100 pulls"]) == ROUNDS
        assert all(value > 0 for value in row["1000 HEADs"] + row["pull"] + row["CPU, 100 pulls"])


def test_each_way_of_logging_in_was_asked_of_its_own_server(host):
    """The challenges the client meets: none on the anonymous port, Basic from nginx and from the registry, and a
    token realm on bench-token, whose token server issued the benchmark's pull tokens."""
    def answer(address):
        return json.loads(host.check_output(f"probe https://{address}/v2/ --cafile /etc/docker/certs.d/{address}/ca.crt"))

    assert answer("bench-open:443")["status"] == 200
    for address in ("bench-open:5443", "bench-registry:443"):
        basic = answer(address)
        assert basic["status"] == 401
        assert basic["headers"]["www-authenticate"][0].startswith("Basic realm="), address
    challenge = answer("bench-token:443")
    assert challenge["status"] == 401
    assert challenge["headers"]["www-authenticate"][0].startswith('Bearer realm="https://bench-token/token"')
    token = host.get_host("ansible://bench-token", ansible_inventory=host.backend.ansible_inventory)
    issued = token.check_output("journalctl --no-pager -u 'dockyard-token-*'")
    assert re.search(r" ci: granted repository:bench/auth-token:pull$", issued, re.MULTILINE)


def test_every_rollout_fleet_switched_to_the_cache_with_no_container_restarted():
    rollout = json.loads((TIMINGS / "rollout.json").read_text())
    fleets = [f"{size} hosts, {kind}" for size in ROLLOUT_SIZES for kind in ROLLOUT_KINDS]
    assert list(rollout["rows"]) == fleets and rollout["restarted"] == dict.fromkeys(fleets, 0)
    assert all(len(row["rollout"]) == len(row["per host"]) == ROLLOUT_ROUNDS for row in rollout["rows"].values())
    for kind in ROLLOUT_KINDS:
        largest = (TIMINGS / f"rollout-{ROLLOUT_SIZES[-1]}-{kind}.log").read_text()
        assert "Batches [1, \"25%\"]" in largest
        # Every host changed, and pulled the canary with each of its runtimes
        # (in its batch's run of the task): Docker Hub is out of reach, so
        # only the cache can have served it.
        for number, host_kind in enumerate(bench.kinds_of(kind, ROLLOUT_SIZES[-1]), start=1):
            name = f"bench-rollout-{number:02d}"
            assert re.search(rf"^{name}\s+: ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0", largest, re.MULTILINE)
            for runtime, task in CANARIES.items():
                pulled = f"\nok: [{name}]" in "".join(
                    run for run in ("\n" + largest).split("\nTASK [") if run.startswith(f"{ROLE} : {task}]"))
                assert pulled == (runtime in RUNTIMES[host_kind]), (name, runtime)
    # The fleets' hosts are gone again.
    assert subprocess.run(["docker", "ps", "--all", "--quiet", "--filter", "label=dockyard.bench=rollout"],
                          capture_output=True, text=True, check=True).stdout == ""


def test_the_report_has_every_part_with_medians_and_ratios():
    report = json.loads(REPORT.read_text())
    parts = {part["part"]: part for part in report["parts"]}
    assert list(parts) == ["frontend", "mirror", "coalesce", "rollout", "converge", "replicas", "auth"]
    assert parts["frontend"]["rows"]["direct"]["push"]["ratio"] == 1.0
    for name in ("project", "blog-post"):
        for direction in ("push", "pull"):
            figures = parts["frontend"]["rows"][name][direction]
            assert figures["median"] > 0 and figures["mb_per_s"] > 0 and figures["ratio"] > 0
    assert parts["mirror"]["rows"]["cache-warm"]["pull"]["ratio"] > 0
    assert parts["coalesce"]["rows"]["plain"][f"{COALESCE_CLIENTS[0]} at once"]["ratio"] == 1.0
    assert parts["replicas"]["rows"]["filesystem"]["pull"]["ratio"] == 1.0
    for direction in ("push", "pull"):
        figures = parts["replicas"]["rows"]["replicas"][direction]
        assert figures["median"] > 0 and figures["mb_per_s"] > 0 and figures["ratio"] > 0
    assert all(row["rollout"]["median"] > 0 for row in parts["rollout"]["rows"].values())
    assert parts["auth"]["rows"]["anonymous"]["1000 HEADs"]["ratio"] == 1.0
    # Basic logins' ratios can round to 0.00x on a loaded machine: each is checked against its medians.
    auth = parts["auth"]["rows"]
    assert all(figures["ratio"] == round(auth["anonymous"][measure]["median"] / figures["median"], 2)
               for row in auth.values() for measure, figures in row.items())
    assert all(figures["ratio"] > 0 for figures in auth["token"].values())
    assert all(parts["converge"]["rows"][row]["converge"]["median"] > 0 for row in ("first", "re-run", "re-run, 1 host"))
    assert report["machine"]["cores"] >= 1
