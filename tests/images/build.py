#!/usr/bin/env python3
"""Build the offline images the tests and the demo run on, and the test programs.

No public registry is reachable from the test machines, so every image is made
here: a Debian base by debootstrap, a systemd host on top of it (and one with
Docker Engine installed and one with podman, the rollout benchmark's clients), distribution
2.x (Debian's docker-registry package) and 3.x (its Go module, built with the
local Go), and a busybox image to push and pull. The registry and busybox
images are also saved as archives in .cache/images/, which the registry role
loads the way an air-gapped site would. The Go programs the tests run against
the registries (the OCI conformance suite, crane, oras, the S3 server versitygw) are
built into .cache/go/.

An image is rebuilt only when its inputs change: each carries a label with the
hash of everything it was built from (its build context, its parent's hash,
versions), and each archive a stamp file with the same hash.

Usage: build.py [--force] [IMAGE ...]   (IMAGE: base systemd dockerd podman registry2 registry3 busybox;
the test programs are built when no IMAGE is named)
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("DOCKYARD_CACHE", ROOT / ".cache"))
ARCHIVES = CACHE / "images"

SUITE = "bookworm"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Go programs built from their modules with the local Go, once per version,
# into .cache/go/<name>-<version>: name -> (package, version).
GO_PROGRAMS = {
    "registry": ("github.com/distribution/distribution/v3/cmd/registry", "v3.1.2"),
    # The only build of the suite the Go module proxy serves (main of
    # 2026-08-31); it tests distribution-spec 1.1 with OCI_VERSION=1.1.
    "oci-conformance": ("github.com/opencontainers/distribution-spec/conformance",
                        "v0.0.0-20260831232431-97274622c111"),
    "crane": ("github.com/google/go-containerregistry/cmd/crane", "v0.22.1"),
    # Signatures and other referrers, pushed to registries without the
    # referrers API by the OCI referrers tag schema (the retention stories).
    "oras": ("oras.land/oras/cmd/oras", "v1.3.6"),
    # The CRI client kubelet's nodes have: pulls through containerd's CRI
    # plugin, as kubelet's do (the mirror scenario's Kubernetes node).
    "crictl": ("sigs.k8s.io/cri-tools/cmd/crictl", "v1.37.0"),
    # The S3 server of the replicated scenario (its posix backend keeps a
    # bucket as a directory).
    "versitygw": ("github.com/versity/versitygw/cmd/versitygw", "v1.8.0"),
}
TEST_PROGRAMS = ("oci-conformance", "crane", "oras", "crictl", "versitygw")
LABEL = "dockyard.inputs"

# name -> (tag, parent, context dir, dockerfile, archive file or None)
IMAGES = {
    "base": ("dockyard-test/debian:bookworm", None, None, None, None),
    "systemd": ("dockyard-test/systemd:bookworm", "base", "systemd", "Dockerfile", None),
    "dockerd": ("dockyard-test/dockerd:bookworm", "systemd", "dockerd", "Dockerfile", None),
    "podman": ("dockyard-test/podman:bookworm", "systemd", "podman", "Dockerfile", None),
    "registry2": ("dockyard-test/registry:2", "base", "registry", "Dockerfile.2", "registry-2.tar"),
    "registry3": ("dockyard-test/registry:3", "base", "registry", "Dockerfile.3", "registry-3.tar"),
    "busybox": ("dockyard-test/busybox:latest", "base", "busybox", "Dockerfile", "busybox.tar"),
}


class BuildError(Exception):
    pass


def run(*cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    try:
        return subprocess.run([str(c) for c in cmd], check=True, **kwargs)
    except FileNotFoundError as exc:
        raise BuildError(f"{cmd[0]} is not installed: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"command failed ({exc.returncode}): {' '.join(map(str, cmd))}") from exc


def digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def tree_digest(path):
    parts = []
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        parts += [f.relative_to(path).as_posix(), f.read_bytes()]
    return digest(*parts)


def inputs_of(name):
    tag, parent, context, dockerfile, _ = IMAGES[name]
    if parent is None:
        return digest(tag, SUITE, MIRROR, "minbase", "ca-certificates", "slim", "no-translations")
    extra = GO_PROGRAMS["registry"][1] if name == "registry3" else ""
    return digest(tag, inputs_of(parent), dockerfile, tree_digest(HERE / context), extra)


def current_label(tag):
    result = subprocess.run(
        ["docker", "image", "inspect", "-f", f'{{{{ index .Config.Labels "{LABEL}" }}}}', tag],
        capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def build_base(tag, inputs):
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is missing: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="dockyard-rootfs-") as rootfs:
        run("debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, rootfs, MIRROR,
            stdout=subprocess.DEVNULL)
        # Keep images small: no package lists, caches, docs or translations.
        run("sh", "-c", "rm -rf var/cache/apt/*.bin var/cache/apt/archives/*.deb var/lib/apt/lists/* "
            "usr/share/doc/* usr/share/man/* usr/share/locale/*", cwd=rootfs)
        Path(rootfs, "etc/dpkg/dpkg.cfg.d/01-slim").write_text(
            "path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\n")
        Path(rootfs, "etc/apt/apt.conf.d/99-no-translations").write_text('Acquire::Languages "none";\n')
        Path(rootfs, "etc/apt/sources.list").write_text(
            f"deb {MIRROR} {SUITE} main\n"
            f"deb {MIRROR} {SUITE}-updates main\n"
            f"deb {MIRROR.removesuffix('/debian')}/debian-security {SUITE}-security main\n")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        run("docker", "import", "-c", f"LABEL {LABEL}={inputs}", "-c", 'CMD ["/bin/bash"]',
            "-", tag, stdin=tar.stdout, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise BuildError(f"tar of the {SUITE} root file system failed")


def go_program(name):
    """Build one of GO_PROGRAMS unless its version is already in .cache/go."""
    package, version = GO_PROGRAMS[name]
    binary = CACHE / "go" / f"{name}-{version}"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise BuildError(f"Go is missing: {name} is built from its Go module")
    with tempfile.TemporaryDirectory(prefix="dockyard-go-") as gobin:
        env = dict(os.environ, CGO_ENABLED="0", GOBIN=gobin)
        run("go", "install", "-trimpath", "-ldflags=-s -w", f"{package}@{version}", env=env)
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(Path(gobin) / package.rsplit("/", 1)[-1], binary)
    return binary


def build_from_dockerfile(name, tag, inputs, binary=None):
    _, parent, context, dockerfile, _ = IMAGES[name]
    with tempfile.TemporaryDirectory(prefix=f"dockyard-{name}-") as ctx:
        shutil.copytree(HERE / context, ctx, dirs_exist_ok=True)
        if binary is not None:
            shutil.copy2(binary, Path(ctx) / "registry")
        run("docker", "build", "--label", f"{LABEL}={inputs}",
            "--build-arg", f"BASE={IMAGES[parent][0]}", "-f", Path(ctx) / dockerfile, "-t", tag, ctx)


def save_archive(tag, archive, inputs):
    path = ARCHIVES / archive
    stamp = path.with_name(path.name + ".inputs")
    if path.exists() and stamp.exists() and stamp.read_text() == inputs:
        return
    ARCHIVES.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    run("docker", "save", "-o", tmp, tag)
    tmp.replace(path)
    stamp.write_text(inputs)
    print(f"saved {tag} to {path}")


def ensure(name, stale, binary=None):
    tag, parent, _, _, archive = IMAGES[name]
    inputs = inputs_of(name)
    if name in stale:
        if parent is None:
            build_base(tag, inputs)
        else:
            build_from_dockerfile(name, tag, inputs, binary)
    else:
        print(f"{tag} is up to date")
    if archive:
        save_archive(tag, archive, inputs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", metavar="IMAGE", help=", ".join(IMAGES))
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    args = parser.parse_args(argv)
    wanted = args.images or list(IMAGES)
    unknown = sorted(set(wanted) - set(IMAGES))
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)}: choose from {', '.join(IMAGES)}")
    try:
        if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
            raise BuildError("no Docker engine answers `docker info`: start dockerd first")
        # An image is stale when its label does not match its inputs' hash,
        # which covers its parent's inputs too.
        stale = {name for name in IMAGES if args.force or current_label(IMAGES[name][0]) != inputs_of(name)}
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Go builds need no image: they run while the base is made.
            go_build = pool.submit(go_program, "registry") if "registry3" in stale & set(wanted) else None
            tools = [pool.submit(go_program, name) for name in TEST_PROGRAMS] if not args.images else []
            ensure("base", stale)
            for name in wanted:
                if name != "base":
                    ensure(name, stale, go_build.result() if go_build and name == "registry3" else None)
            for tool in tools:
                print(f"{tool.result()} is built")
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
