#!/usr/bin/env python3
"""The client's side of the garbage-collection story (gc.yml), with crane.

gc_client.py seed REGISTRY      push what the retention policy is tried on; write seed.json
gc_client.py state REGISTRY NAME  write NAME.json: each repository's tags and digests, and which blobs answer
gc_client.py push REGISTRY NAME   push an image to gc/readonly:NAME; write NAME.json with crane's answer
gc_client.py repush REGISTRY    push build-2 again, from the copy seed kept; write repush.json
gc_client.py interrupt REGISTRY  begin pushing a 12 MiB layer to gc/interrupted and stop before its end, as a
                                 client that died would; write interrupted.json (the upload's address, its range)

Everything goes to /root/gc/REGISTRY/. What is pushed:
  keep/base:1          the busybox test image (no rule governs keep/*)
  gc/app:build-1..5    busybox plus a layer of its own, built on day 1..5 of 2026
  gc/app:release-1     build-1 again;  gc/app:latest  build-5 again
  gc/multi:old, :new   two-platform indexes (linux/amd64, linux/arm64), each child with a layer of its own
  and, with oras, what refers to build-2 and to build-5 where the registry has no referrers API: a signature
  (cosign's tag, sha256-<hex>.sig) and an SBOM (attached: the OCI referrers tag schema's index, sha256-<hex>),
  and the signature of an image that is gone (sha256:eee...e)
"""

import base64
import json
import os
import ssl
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

REGISTRY = sys.argv[2]
HOME = Path("/root/gc") / REGISTRY
ENV = dict(os.environ, SSL_CERT_FILE=f"/etc/docker/certs.d/{REGISTRY}/ca.crt")


def oras(*arguments):
    """oras, in HOME (it takes relative file names only), with the client's Docker login."""
    result = subprocess.run(["oras", *arguments], text=True, env=ENV, cwd=HOME, capture_output=True, check=False)
    if result.returncode:
        sys.exit(f"oras {' '.join(arguments)}: {result.stderr}")
    return result


def refer(repository, subject, name):
    """A signature of subject in its cosign tag, and, where subject is there, an SBOM attached to it."""
    hexed = subject.removeprefix("sha256:")
    (HOME / f"{name}.sig").write_text(f"signature of {name} {os.urandom(8).hex()}\n")
    oras("push", f"{repository}:sha256-{hexed}.sig", f"{name}.sig:application/vnd.dev.cosign.simplesigning.v1+json")
    facts = {"subject": subject, "signature": image_facts(f"{repository}:sha256-{hexed}.sig")}
    if name != "orphan":
        (HOME / f"{name}.sbom").write_text(f"sbom of {name} {os.urandom(8).hex()}\n")
        attached = oras("attach", "--artifact-type", "application/spdx+json", f"{repository}@{subject}",
                        f"{name}.sbom:application/spdx+json").stdout
        facts["sbom"] = image_facts(f"{repository}@{attached.split('Digest: ')[1].split()[0]}")
        facts["index"] = crane("digest", f"{repository}:sha256-{hexed}").stdout.strip()
    return facts


def crane(*arguments, stdin=None, check=True, keep_output=True):
    result = subprocess.run(["crane", *arguments], input=stdin, text=True, env=ENV, check=False,
                            stdout=subprocess.PIPE if keep_output else subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check and result.returncode:
        sys.exit(f"crane {' '.join(arguments)}: {result.stderr}")
    return result


def layer(name):
    """A tar of one file of random bytes, a layer nothing else has."""
    path = HOME / f"{name}.tar"
    (HOME / name).write_bytes(os.urandom(400_000))
    with tarfile.open(path, "w") as archive:
        archive.add(HOME / name, arcname=name)
    return str(path)


def image_facts(reference):
    manifest = json.loads(crane("manifest", reference).stdout)
    return {"digest": crane("digest", reference).stdout.strip(),
            "blobs": [manifest["config"]["digest"]] + [item["digest"] for item in manifest["layers"]]}


def seed():
    HOME.mkdir(parents=True, exist_ok=True)
    base = f"{REGISTRY}/keep/base"
    crane("push", "/root/busybox.tar", f"{base}:1")
    facts = {"base": image_facts(f"{base}:1"), "app": {}, "multi": {}}
    config = json.loads(crane("config", f"{base}:1").stdout)
    for day in range(1, 6):
        dated = dict(config, created=f"2026-01-0{day}T00:00:00Z")
        crane("edit", "config", f"{base}:1", "-t", f"{base}:day-{day}", stdin=json.dumps(dated))
        crane("append", "-b", f"{base}:day-{day}", "-f", layer(f"build-{day}"), "-t", f"{REGISTRY}/gc/app:build-{day}")
        facts["app"][f"build-{day}"] = image_facts(f"{REGISTRY}/gc/app:build-{day}")
    crane("tag", f"{REGISTRY}/gc/app:build-1", "release-1")
    crane("tag", f"{REGISTRY}/gc/app:build-5", "latest")
    crane("pull", f"{REGISTRY}/gc/app:build-2", str(HOME / "build-2.image.tar"))
    facts["referrers"] = {build: refer(f"{REGISTRY}/gc/app", facts["app"][build]["digest"], build)
                          for build in ("build-2", "build-5")}
    facts["referrers"]["orphan"] = refer(f"{REGISTRY}/gc/app", "sha256:" + "e" * 64, "orphan")
    for version in ("old", "new"):
        children = {}
        for arch in ("amd64", "arm64"):
            reference = crane("mutate", f"{base}:1", "--append", layer(f"{version}-{arch}"),
                              "--set-platform", f"linux/{arch}", "--repo", f"{REGISTRY}/gc/multi").stdout.strip()
            children[arch] = image_facts(reference)
        crane("index", "append", "-m", f"{REGISTRY}/gc/multi@{children['amd64']['digest']}",
              "-m", f"{REGISTRY}/gc/multi@{children['arm64']['digest']}", "-t", f"{REGISTRY}/gc/multi:{version}")
        facts["multi"][version] = {"digest": crane("digest", f"{REGISTRY}/gc/multi:{version}").stdout.strip(),
                                   "children": children}
    write("seed", facts)


def state(name):
    seed_facts = json.loads((HOME / "seed.json").read_text())
    found = {}
    for repository in ("keep/base", "gc/app", "gc/multi"):
        listing = crane("ls", f"{REGISTRY}/{repository}", check=False)
        tags = listing.stdout.split() if listing.returncode == 0 else []
        found[repository] = {tag: crane("digest", f"{REGISTRY}/{repository}:{tag}").stdout.strip() for tag in tags}
    images = [("keep/base", seed_facts["base"])] + [("gc/app", facts) for facts in seed_facts["app"].values()] \
        + [("gc/app", facts) for referrers in seed_facts["referrers"].values()
           for facts in referrers.values() if isinstance(facts, dict)] \
        + [("gc/multi", child) for index in seed_facts["multi"].values() for child in index["children"].values()]
    blobs = {}
    for repository, facts in images:
        for blob in facts["blobs"]:
            answer = crane("blob", f"{REGISTRY}/{repository}@{blob}", check=False, keep_output=False)
            blobs[blob] = answer.returncode == 0 or answer.stderr.strip()[-300:]
    write(name, {"tags": found, "blobs": blobs})


def push(name):
    """Push to gc/readonly:NAME; record crane's answer and the tags gc/readonly has afterwards."""
    answer = crane("push", "/root/busybox.tar", f"{REGISTRY}/gc/readonly:{name}", check=False)
    listing = crane("ls", f"{REGISTRY}/gc/readonly", check=False)
    write(name, {"rc": answer.returncode, "stderr": answer.stderr[-2000:],
                 "tags": listing.stdout.split() if listing.returncode == 0 else [],
                 "listing": listing.stderr.strip()[-500:]})


def repush():
    answer = crane("push", str(HOME / "build-2.image.tar"), f"{REGISTRY}/gc/app:build-2", check=False)
    write("repush", {"rc": answer.returncode, "stderr": answer.stderr[-2000:],
                     "digest": crane("digest", f"{REGISTRY}/gc/app:build-2", check=False).stdout.strip()})


def interrupt():
    HOME.mkdir(parents=True, exist_ok=True)
    login = json.loads(crane("auth", "get", REGISTRY).stdout)
    headers = {"Authorization": "Basic " + base64.b64encode(f"{login['Username']}:{login['Secret']}".encode()).decode()}
    context = ssl.create_default_context(cafile=ENV["SSL_CERT_FILE"])
    begin = f"https://{REGISTRY}/v2/gc/interrupted/blobs/uploads/"
    with urllib.request.urlopen(urllib.request.Request(begin, method="POST", headers=headers), context=context) as answer:
        location = urllib.parse.urljoin(begin, answer.headers["Location"])
    # More than the S3 driver's part size (10 MiB): one part at least is stored, and the upload never completed.
    patch = urllib.request.Request(location, data=os.urandom(12 * 1024 * 1024), method="PATCH",
                                   headers=dict(headers, **{"Content-Type": "application/octet-stream"}))
    with urllib.request.urlopen(patch, context=context) as answer:
        write("interrupted", {"location": urllib.parse.urljoin(location, answer.headers["Location"]),
                              "range": answer.headers["Range"]})


def write(name, facts):
    (HOME / f"{name}.json").write_text(json.dumps(facts, indent=1, sort_keys=True))


if __name__ == "__main__":
    {"seed": seed, "state": lambda: state(sys.argv[3]), "push": lambda: push(sys.argv[3]), "repush": repush,
     "interrupt": interrupt}[sys.argv[1]]()
