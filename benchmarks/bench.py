#!/usr/bin/env python3
"""Side-by-side measurements of the registry paths this project builds.

bench.py frontend OUT --rounds N --mib M NAME=HOST:PORT ...
    Push and pull of a fresh layer of M MiB of random bytes (incompressible)
    through each NAME, in turn, N rounds; the first NAME is the baseline.
bench.py replicas OUT --rounds N --mib M NAME=HOST:PORT ...
    The same, through a single filesystem registry (the first NAME, the
    baseline) and through the front end of the replicas on S3.
bench.py mirror OUT --rounds N --mib M --layers L --hosted HOST:PORT --cache NAME=HOST:PORT ...
    Each round pushes a fresh image of L layers of M MiB to the hosted
    registry, then pulls it from the hosted registry (no cache, the
    baseline), and through each cache of it in turn: cold (fetched from the
    hosted registry), then warm.
bench.py coalesce OUT --clients N ... --mib M --layers L --hosted HOST:PORT --cache NAME=HOST:PORT ...
    For each N and each cache, pushes a fresh image of L layers of M MiB to
    the hosted registry, then pulls it through that cache with N clients at
    once (cold for all of them); the first cache is the baseline. Timed: the
    slowest of the N pulls.
bench.py upstream PART LOG
    Adds to a coalesce PART the bytes each cache fetched from the hosted
    registry for each N: the sizes of the blob GETs of its images in LOG,
    the hosted registry's access log.
bench.py auth OUT --client HOST --rounds N --seconds S --clients C --pulls P --layers L --mib M
        NAME=HOST:PORT ... [--push NAME=HOST:PORT ...]
    On the controller: for each NAME, a fresh image of L layers of M MiB
    pushed through HOST:PORT with the login (a NAME of --push pulls without
    one, and its image is pushed through the address --push gives); then, each round, for each NAME in
    turn, from the client host (docker exec, running this file as bench):
    C clients make manifest HEAD requests for S seconds (ab, each request
    with the Authorization header the path asks for: Basic, or a token of
    the realm it names, which the clients share), then P pulls of the image
    one after the other, while the CPU seconds of every process on HOST (the
    container of that name: nginx, the registry, a token server) are summed.
    The rows, one figure a round: seconds per 1000 HEADs, the median pull,
    the CPU seconds per 100 pulls.
bench.py push REFERENCE --layers L --mib M
bench.py heads REFERENCE --seconds S --clients C [--anonymous]
bench.py pulls REFERENCE --count P [--anonymous]
    The client's steps of auth; heads and pulls print what they measured as
    JSON.
bench.py rollout OUT --sizes N ... --kinds KIND ... --inventory FILE --switch FILE --network NET
    On the controller, for each size N and each KIND of fleet: starts N
    fresh client hosts on the scenario's network, times playbooks/clients.yml
    switching them to the mirror (the extra variables of --switch; the role's
    default batches), counts the containers that restarted, and removes the
    hosts. Each run's output is kept next to OUT. The kinds: docker (hosts of
    the rollout image, each with its own dockerd and containerd, in
    docker_clients), containerd (the same image in runtime_clients: only
    containerd is switched), podman (hosts of the podman image, in
    runtime_clients), mixed (the three in turn). A host with a dockerd runs a
    sentinel container, which a restart of dockerd or containerd would show.
bench.py report OUT_DIR PART.json ...
    Medians, spread and ratios to the baseline of every part, as a table on
    the terminal and as OUT_DIR/bench-<UTC>.json and OUT_DIR/latest.json.

A client run (frontend, mirror) logs in as BENCH_CREDS (USER:PASS, from the
environment, never on a command line, except in the Authorization header of
ab, which has no other way: the test account's on the benchmark's own
client host) and writes OUT: the seconds of every try, per row
and direction, and the bytes moved by each. Pushes and pulls go through
skopeo, which sends and fetches blobs as they are (no compression, no
extraction): what is measured is the registry path, not the client's CPU.
Images are OCI layouts written to a scratch directory (--scratch, /run: in
memory on a host whose /run is a tmpfs, so that the client's disk adds no
noise of its own) and removed after use.
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHUNK = 4 << 20
# No copy may take longer: a stuck path fails the run instead of holding it.
SKOPEO_TIMEOUT = 300


def blob(directory, data):
    digest = hashlib.sha256(data).hexdigest()
    (directory / "blobs/sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def random_layer(directory, mib):
    """A layer of random bytes, written to the layout as it is hashed."""
    digest, size = hashlib.sha256(), 0
    part = directory / "blobs/sha256/layer.part"
    with open(part, "wb") as handle:
        for _ in range(mib * (1 << 20) // CHUNK):
            data = os.urandom(CHUNK)
            digest.update(data)
            handle.write(data)
            size += len(data)
    part.rename(directory / "blobs/sha256" / digest.hexdigest())
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{digest.hexdigest()}",
            "size": size}


def layout(scratch, layers, mib):
    """An OCI layout holding one image of fresh random layers; (path, bytes of its layers)."""
    directory = Path(tempfile.mkdtemp(dir=scratch))
    (directory / "blobs/sha256").mkdir(parents=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    described = [random_layer(directory, mib) for _ in range(layers)]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [item["digest"] for item in described]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": dict(blob(directory, config), mediaType="application/vnd.oci.image.config.v1+json"),
                           "layers": described}).encode()
    index = {"schemaVersion": 2, "manifests": [dict(blob(directory, manifest),
                                                     mediaType="application/vnd.oci.image.manifest.v1+json",
                                                     annotations={"org.opencontainers.image.ref.name": "bench"})]}
    (directory / "index.json").write_text(json.dumps(index))
    return directory, sum(item["size"] for item in described)


def skopeo(source, destination, creds):
    """Seconds one skopeo copy took; without CREDS, the registry's side goes without a login."""
    side = "src" if source.startswith("docker://") else "dest"
    flags = [f"--{side}-creds", creds] if creds else [f"--{side}-no-creds"]
    started = time.monotonic()
    result = subprocess.run(["skopeo", "copy", "--quiet", "--preserve-digests", *flags, source, destination],
                            capture_output=True, text=True, check=False, timeout=SKOPEO_TIMEOUT)
    seconds = time.monotonic() - started
    if result.returncode:
        sys.exit(f"skopeo copy {source} {destination}: {result.stderr.strip()}")
    return round(seconds, 3)


def push(args, reference, layers):
    """Seconds the push of a fresh image of LAYERS layers of the part's size took, and the bytes of its layers."""
    image, moved = layout(args.scratch, layers, args.mib)
    try:
        return skopeo(f"oci:{image}:bench", f"docker://{reference}", args.creds), moved
    finally:
        shutil.rmtree(image)


def named(items):
    """{NAME: HOST:PORT} of NAME=HOST:PORT arguments, in their order."""
    return dict(item.split("=", 1) for item in items)


def pull(scratch, reference, creds):
    target = Path(tempfile.mkdtemp(dir=scratch))
    try:
        return skopeo(f"docker://{reference}", f"oci:{target}:bench", creds)
    finally:
        shutil.rmtree(target)


WHAT = {"frontend": "pushed then pulled through each path in turn",
        "replicas": "pushed then pulled through a single filesystem registry and the S3 replicas' front end, in turn"}


def paths_part(args):
    """Part frontend or replicas: a fresh layer pushed and pulled through each path."""
    paths = named(args.paths)
    rows = {name: {"push": [], "pull": []} for name in paths}
    moved = 0
    for round_number in range(1, args.rounds + 1):
        # Each round starts with another path, so that none is always first
        # after the layer is written.
        names = list(paths)[round_number - 1:] + list(paths)[:round_number - 1]
        for name in names:
            reference = f"{paths[name]}/bench/{args.command}-{name}:round-{round_number}"
            seconds, moved = push(args, reference, 1)
            rows[name]["push"].append(seconds)
            rows[name]["pull"].append(pull(args.scratch, reference, args.creds))
    return {"part": args.command, "baseline": next(iter(paths)), "bytes": moved, "rows": rows,
            "what": f"one layer of {args.mib} MiB of random bytes, {WHAT[args.command]}"}


def mirror(args):
    rows = {"hosted": {"pull": []}}
    for name in named(args.cache):
        rows.update({f"{name}-cold": {"pull": []}, f"{name}-warm": {"pull": []}})
    moved = 0
    for round_number in range(1, args.rounds + 1):
        name = f"bench/mirror:round-{round_number}"
        moved = push(args, f"{args.hosted}/{name}", args.layers)[1]
        rows["hosted"]["pull"].append(pull(args.scratch, f"{args.hosted}/{name}", args.creds))
        for cache, address in named(args.cache).items():
            rows[f"{cache}-cold"]["pull"].append(pull(args.scratch, f"{address}/{name}", args.creds))
            rows[f"{cache}-warm"]["pull"].append(pull(args.scratch, f"{address}/{name}", args.creds))
    return {"part": "mirror", "baseline": "hosted", "bytes": moved, "rows": rows,
            "what": f"an image of {args.layers} layers of {args.mib} MiB of random bytes, pulled from the hosted "
                    f"registry, then through each cache ({', '.join(named(args.cache))}) cold and warm"}


def coalesce(args):
    rows = {name: {} for name in named(args.cache)}
    repositories = {}
    moved = 0
    for clients in args.clients:
        for cache, address in named(args.cache).items():
            repository = f"bench/coalesce-{cache}-{clients}"
            moved = push(args, f"{args.hosted}/{repository}:1", args.layers)[1]
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                seconds = list(pool.map(lambda _, image=f"{address}/{repository}:1": pull(args.scratch, image, args.creds),
                                        range(clients)))
            rows[cache][f"{clients} at once"] = [max(seconds)]
            repositories[repository] = [cache, f"{clients} at once"]
    return {"part": "coalesce", "baseline": next(iter(rows)), "bytes": moved, "rows": rows,
            "repositories": repositories,
            "what": f"an image of {args.layers} layers of {args.mib} MiB of random bytes, new to each cache "
                    f"({', '.join(rows)}), pulled through it by that many clients at once (the slowest pull)"}


def upstream(args):
    """The bytes of the blob GETs of each coalesce image in the hosted registry's access log."""
    part = json.loads(Path(args.part).read_text())
    log = Path(args.log).read_text()
    fetched = {cache: {} for cache in part["rows"]}
    for repository, (cache, clients) in part["repositories"].items():
        sizes = re.findall(rf'"GET /v2/{re.escape(repository)}/blobs/sha256:[0-9a-f]{{64}} HTTP/1.1" 200 (\d+)', log)
        fetched[cache][clients] = sum(int(size) for size in sizes)
    Path(args.part).write_text(json.dumps(dict(part, upstream=fetched), indent=1))


# The manifest a HEAD asks for, as skopeo pushed it.
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# The CPU seconds of every process of the host it runs on (utime, stime, and
# those of its children it has waited for).
CPU = ("import glob, os\n"
       "ticks = 0\n"
       "for path in glob.glob('/proc/[0-9]*/stat'):\n"
       "    try:\n"
       "        ticks += sum(int(value) for value in open(path).read().rsplit(')', 1)[1].split()[11:15])\n"
       "    except (OSError, IndexError):\n"
       "        pass\n"
       "print(ticks / os.sysconf('SC_CLK_TCK'))")


def authorization(address, repository, creds):
    """The Authorization header a pull of REPOSITORY at ADDRESS sends: none without CREDS or where /v2/ asks for no
    login, Basic where it asks for Basic, else a pull token of the realm its challenge names."""
    if not creds:
        return ""
    context = ssl.create_default_context(cafile=f"/etc/docker/certs.d/{address}/ca.crt")
    try:
        with urllib.request.urlopen(f"https://{address}/v2/", context=context):
            return ""
    except urllib.error.HTTPError as error:
        challenge = error.headers.get("WWW-Authenticate", "")
    basic = "Basic " + base64.b64encode(creds.encode()).decode()
    if not challenge.startswith("Bearer "):
        return basic
    asked = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    query = urllib.parse.urlencode({"service": asked["service"], "scope": f"repository:{repository}:pull"})
    request = urllib.request.Request(f"{asked['realm']}?{query}", headers={"Authorization": basic})
    with urllib.request.urlopen(request, context=context) as answer:
        return "Bearer " + json.load(answer)["token"]


def heads(args):
    """Manifest HEADs per second of CLIENTS clients for SECONDS seconds (ab, keeping its connections)."""
    address, path = args.reference.split("/", 1)
    repository, tag = path.rsplit(":", 1)
    header = authorization(address, repository, args.creds)
    # ab keeps a record of each request it may make: room for 20,000 a second.
    command = ["ab", "-k", "-i", "-q", "-c", str(args.clients), "-t", str(args.seconds),
               "-n", str(args.seconds * 20000), "-H", f"Accept: {MANIFEST}"]
    command += ["-H", f"Authorization: {header}"] if header else []
    result = subprocess.run([*command, f"https://{address}/v2/{repository}/manifests/{tag}"],
                            capture_output=True, text=True, check=False, timeout=args.seconds + SKOPEO_TIMEOUT)
    figures = dict(re.findall(r"^([A-Z][A-Za-z0-9 -]+):\s+([0-9.]+)", result.stdout, re.MULTILINE))
    if result.returncode or "Requests per second" not in figures:
        sys.exit(f"ab on {args.reference}: {result.stderr.strip() or result.stdout.strip()}")
    refused = int(figures.get("Non-2xx responses", 0)) + int(figures.get("Failed requests", 0))
    if refused:
        sys.exit(f"ab on {args.reference}: {refused} of {figures['Complete requests']} requests failed or were refused")
    return {"per_s": float(figures["Requests per second"]), "requests": int(figures["Complete requests"])}


def pulls(args):
    """Seconds of each of COUNT pulls of REFERENCE, one after the other."""
    return [pull(args.scratch, args.reference, args.creds) for _ in range(args.count)]


def client(args, *command):
    """What a step of this file printed on the client host, run there with BENCH_CREDS."""
    return docker("exec", "--env", "BENCH_CREDS", args.client, "bench", *command)


def cpu(host):
    return float(docker("exec", host, "python3", "-c", CPU))


def auth(args):
    """Part auth: HEADs, pulls and the server's CPU through each way of logging in."""
    paths, pushed_through = named(args.paths), named(args.push)
    sizes = ["--layers", str(args.layers), "--mib", str(args.mib)]
    for name, address in paths.items():
        client(args, "push", f"{pushed_through.get(name, address)}/bench/auth-{name}:1", *sizes)
    rows = {name: {"1000 HEADs": [], "pull": [], "CPU, 100 pulls": []} for name in paths}
    for round_number in range(1, args.rounds + 1):
        for name in list(paths)[round_number - 1:] + list(paths)[:round_number - 1]:
            reference = f"{paths[name]}/bench/auth-{name}:1"
            login = ["--anonymous"] if name in pushed_through else []
            head = json.loads(client(args, "heads", reference, "--seconds", str(args.seconds),
                                     "--clients", str(args.clients), *login))
            rows[name]["1000 HEADs"].append(round(1000 / head["per_s"], 3))
            server = paths[name].split(":")[0]
            before = cpu(server)
            seconds = json.loads(client(args, "pulls", reference, "--count", str(args.pulls), *login))
            rows[name]["pull"].append(round(statistics.median(seconds), 3))
            rows[name]["CPU, 100 pulls"].append(round((cpu(server) - before) * 100 / args.pulls, 3))
    return {"part": "auth", "baseline": next(iter(paths)), "bytes": 0, "rows": rows,
            "what": f"manifest HEADs of {args.clients} clients for {args.seconds} s (HEAD/s: 1000 divided by the "
                    f"seconds per 1000), then {args.pulls} pulls one after the other (their median) of an image of {args.layers} "
                    f"layers of {args.mib} MiB, and the CPU seconds the server host spent on them (per 100 pulls; a "
                    f"ratio above 1.00x spends less), each round, through each way of logging in: "
                    + ", ".join(paths)}


# Linux gives each user 128 inotify instances; systemd, dbus and containerd
# take about 7 a host, so a fleet of hosts needs more for the run.
INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_PER_HOST = 10
SENTINEL = "bench-sentinel"
CLIENT_LABEL = "dockyard.bench=rollout"


def docker(*args, stdin=None, check=True):
    result = subprocess.run(["docker", *args], stdin=stdin, capture_output=True, text=stdin is None,
                            check=False, timeout=SKOPEO_TIMEOUT)
    if check and result.returncode:
        sys.exit(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip() if stdin is None else ""


def up(name, kind):
    """dockerd answers, or (a podman host) systemd has started every unit."""
    if kind != "podman":
        return subprocess.run(["docker", "exec", name, "docker", "info"], capture_output=True, check=False).returncode == 0
    state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return state in ("running", "degraded")


def start_client(name, kind, args, host):
    """One client host of that kind, up, and the start time of its sentinel (None on a podman host)."""
    options = [flag for capability in host["capabilities"] for flag in ("--cap-add", capability)]
    options += [flag for option in host["security_opts"] for flag in ("--security-opt", option)]
    options += [flag for volume in host["volumes"] for flag in ("--volume", volume)]
    options += [flag for mount in host["tmpfs"] for flag in ("--tmpfs", mount)]
    image = args.podman_image if kind == "podman" else args.image
    docker("run", "--detach", "--name", name, "--hostname", name, "--network", args.network,
           "--label", CLIENT_LABEL, *options, image, host["command"])
    deadline = time.monotonic() + 120
    while not up(name, kind):
        if time.monotonic() > deadline:
            sys.exit(f"{name}: the host did not start within 120 s")
        time.sleep(1)
    if kind == "podman":
        return None
    with open(args.sentinel, "rb") as archive:
        docker("exec", "--interactive", name, "docker", "load", stdin=archive)
    docker("exec", name, "docker", "run", "--detach", "--name", SENTINEL, args.sentinel_image, "sleep", "1d")
    return docker("exec", name, "docker", "inspect", "--format", "{{.State.StartedAt}}", SENTINEL)


def restarted(name, started):
    if started is None:
        return False
    state = docker("exec", name, "docker", "inspect", "--format",
                   "{{.State.Running}} {{.State.StartedAt}} {{.RestartCount}}", SENTINEL)
    return state != f"true {started} 0"


def remove_clients():
    """Remove every client host, this run's and any a killed run left."""
    for container in docker("ps", "--all", "--quiet", "--filter", f"label={CLIENT_LABEL}").split():
        docker("rm", "--force", "--volumes", container, check=False)


KINDS = ("docker", "containerd", "podman", "mixed")


def kinds_of(kind, size):
    """Each host's kind in a fleet of that kind: mixed takes docker, containerd and podman in turn."""
    return [KINDS[number % 3] if kind == "mixed" else kind for number in range(size)]


def clients_playbook(args, hosts, label):
    """Seconds playbooks/clients.yml took on these hosts (and the mirror host it checks first)."""
    inventory = Path(args.out).with_name("rollout-inventory.json")
    groups = {"docker_clients": [name for name, kind in hosts.items() if kind == "docker"],
              "runtime_clients": [name for name, kind in hosts.items() if kind != "docker"]}
    inventory.write_text(json.dumps(
        {"bench_rollout": {"hosts": dict.fromkeys(hosts, {"ansible_connection": "community.docker.docker"})},
         **{group: {"hosts": dict.fromkeys(names)} for group, names in groups.items()}}))
    environment = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", args.inventory, "-i", str(inventory),
                             "--limit", "mirrors:bench_rollout", "-e", f"@{args.switch}",
                             str(ROOT / "playbooks/clients.yml")],
                            capture_output=True, text=True, check=False, env=environment, timeout=1200)
    seconds = time.monotonic() - started
    # The whole output, with the time of each task, next to OUT.
    Path(args.out).with_name(f"rollout-{label.replace(' hosts, ', '-')}.log").write_text(result.stdout)
    if result.returncode:
        sys.exit(f"clients.yml on {label} failed:\n{result.stdout[-4000:]}")
    # Each host must have changed: the switch really ran on it.
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE))
    unchanged = [name for name in hosts if recap.get(name, "0") == "0"]
    if unchanged:
        sys.exit(f"clients.yml changed nothing on {', '.join(unchanged)}")
    return round(seconds, 3)


def rollout(args):
    import yaml  # only on the controller, which has Ansible's Python
    host = yaml.safe_load((ROOT / "molecule/resources/host.yml").read_text())
    limit = int(INOTIFY_LIMIT.read_text())
    rows, restarts = {}, {}
    remove_clients()
    try:
        INOTIFY_LIMIT.write_text(str(limit + INOTIFY_PER_HOST * max(args.sizes)))
        for _ in range(args.rounds):
            for size in args.sizes:
                for kind in args.kinds:
                    # Fresh hosts for each fleet: every fleet starts from the same state.
                    label = f"{size} hosts, {kind}"
                    hosts = {f"bench-rollout-{number:02d}": host_kind
                             for number, host_kind in enumerate(kinds_of(kind, size), start=1)}
                    try:
                        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                            started = dict(zip(hosts, pool.map(lambda item: start_client(*item, args, host), hosts.items()),
                                               strict=True))
                        seconds = clients_playbook(args, hosts, label)
                        row = rows.setdefault(label, {"rollout": [], "per host": []})
                        row["rollout"].append(seconds)
                        row["per host"].append(round(seconds / size, 3))
                        restarts[label] = restarts.get(label, 0) + sum(
                            restarted(name, started[name]) for name in hosts)
                    finally:
                        remove_clients()
    finally:
        INOTIFY_LIMIT.write_text(str(limit))
    if any(restarts.values()):
        sys.exit(f"containers restarted during the rollout: {restarts}")
    return {"part": "rollout", "baseline": "", "bytes": 0, "rows": rows, "restarted": restarts,
            "what": "playbooks/clients.yml switching that many fresh hosts of each kind to the cache with the "
                    "default batches, canary pulls included, and that time divided by the hosts (docker: dockerd "
                    "and containerd; containerd; podman; mixed: the three in turn); containers restarted on them: "
                    + ", ".join(f"{name} {count}" for name, count in restarts.items())}


def summary(part):
    """Medians, spread (lowest and highest) and throughput per row and direction, and ratios to the baseline."""
    rows = {}
    for name, directions in part["rows"].items():
        rows[name] = {}
        for direction, seconds in directions.items():
            seconds = [float(value) for value in seconds]
            median = statistics.median(seconds)
            rows[name][direction] = {"seconds": seconds, "median": round(median, 3),
                                     "spread": [min(seconds), max(seconds)],
                                     "mb_per_s": round(part["bytes"] / median / 1e6, 1) if part["bytes"] else None}
    if not part.get("baseline"):
        return dict(part, rows=rows)
    base = rows[part["baseline"]]
    for directions in rows.values():
        for direction, figures in directions.items():
            figures["ratio"] = round(base[direction]["median"] / figures["median"], 2)
    return dict(part, rows=rows)


def table(parts):
    lines = []
    for part in parts:
        lines.append(f"{part['part']}: {part['what']}")
        lines.append(f"  {'path':<14} {'direction':<9} {'median s':>9} {'spread s':>15} {'MB/s':>7} {'ratio':>6}")
        for name, directions in part["rows"].items():
            for direction, figures in directions.items():
                spread = f"{figures['spread'][0]:.2f}-{figures['spread'][1]:.2f}"
                rate = "" if figures["mb_per_s"] is None else f"{figures['mb_per_s']:.1f}"
                ratio = f"{figures['ratio']:.2f}x" if "ratio" in figures else ""
                lines.append(f"  {name:<14} {direction:<9} {figures['median']:>9.2f} {spread:>15} {rate:>7} {ratio:>6}")
        for name, fetched in part.get("upstream", {}).items():
            lines.append(f"  {name} fetched from the upstream: "
                         + ", ".join(f"{size / (1 << 20):.1f} MiB ({clients})" for clients, size in fetched.items()))
        lines.append("")
    return "\n".join(lines)


def report(args):
    parts = [summary(json.loads(Path(path).read_text())) for path in args.parts]
    now = datetime.datetime.now(datetime.UTC)
    result = {"when": now.isoformat(timespec="seconds"), "machine": machine(), "parts": parts}
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1)
    (out / f"bench-{now.strftime('%Y%m%dT%H%M%SZ')}.json").write_text(text)
    (out / "latest.json").write_text(text)
    print(table(parts))
    return result


def machine():
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), "0")
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "")
    return {"cores": os.cpu_count(), "memory_gib": round(int(memory) / (1 << 20), 1), "cpu": model}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("frontend", "replicas", "mirror", "coalesce", "rollout"):
        command = commands.add_parser(name)
        command.add_argument("out")
        command.add_argument("--rounds", type=int, default=1)
    for name in ("frontend", "replicas", "mirror", "coalesce"):
        commands.choices[name].add_argument("--mib", type=int, default=16)
        commands.choices[name].add_argument("--scratch", default="/run")
    for name in ("frontend", "replicas"):
        commands.choices[name].add_argument("paths", nargs="+", metavar="NAME=HOST:PORT")
    for name in ("mirror", "coalesce"):
        commands.choices[name].add_argument("--layers", type=int, default=4)
        commands.choices[name].add_argument("--hosted", required=True)
        commands.choices[name].add_argument("--cache", required=True, action="append", metavar="NAME=HOST:PORT")
    commands.choices["coalesce"].add_argument("--clients", type=int, nargs="+", required=True)
    command = commands.add_parser("auth")
    command.add_argument("out")
    command.add_argument("paths", nargs="+", metavar="NAME=HOST:PORT")
    command.add_argument("--push", action="append", default=[], metavar="NAME=HOST:PORT")
    command.add_argument("--client", required=True, help="the client host's container")
    for option, default in (("--rounds", 1), ("--seconds", 5), ("--clients", 20), ("--pulls", 10), ("--layers", 10),
                            ("--mib", 1)):
        command.add_argument(option, type=int, default=default)
    command = commands.add_parser("push")
    command.add_argument("reference")
    command.add_argument("--layers", type=int, default=1)
    command.add_argument("--mib", type=int, default=1)
    command = commands.add_parser("heads")
    command.add_argument("reference")
    command.add_argument("--seconds", type=int, default=5)
    command.add_argument("--clients", type=int, default=20)
    command = commands.add_parser("pulls")
    command.add_argument("reference")
    command.add_argument("--count", type=int, default=10)
    for name in ("push", "heads", "pulls"):
        commands.choices[name].add_argument("--scratch", default="/run")
    for name in ("heads", "pulls"):
        commands.choices[name].add_argument("--anonymous", action="store_true", help="without the login")
    command = commands.add_parser("upstream")
    command.add_argument("part")
    command.add_argument("log")
    command = commands.choices["rollout"]
    command.add_argument("--sizes", type=int, nargs="+", required=True)
    command.add_argument("--kinds", nargs="+", choices=KINDS, default=["mixed"])
    command.add_argument("--inventory", required=True, help="the scenario's inventory, with the mirror host")
    command.add_argument("--switch", required=True, help="extra variables of the rollout to the mirror")
    command.add_argument("--network", required=True)
    command.add_argument("--image", default="dockyard-test/dockerd:bookworm")
    command.add_argument("--podman-image", default="dockyard-test/podman:bookworm")
    command.add_argument("--sentinel", default=str(ROOT / ".cache/images/busybox.tar"))
    command.add_argument("--sentinel-image", default="dockyard-test/busybox:latest")
    command = commands.add_parser("report")
    command.add_argument("out_dir")
    command.add_argument("parts", nargs="+")
    args = parser.parse_args()
    if args.command == "report":
        report(args)
        return 0
    if args.command == "rollout":
        Path(args.out).write_text(json.dumps(rollout(args), indent=1))
        return 0
    if args.command == "upstream":
        upstream(args)
        return 0
    args.creds = os.environ.get("BENCH_CREDS", "")
    if ":" not in args.creds:
        sys.exit("BENCH_CREDS must hold USER:PASS")
    if args.command == "push":
        push(args, args.reference, args.layers)
        return 0
    if args.command in ("heads", "pulls"):
        args.creds = "" if args.anonymous else args.creds
        print(json.dumps({"heads": heads, "pulls": pulls}[args.command](args)))
        return 0
    result = {"mirror": mirror, "coalesce": coalesce, "auth": auth}.get(args.command, paths_part)(args)
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
