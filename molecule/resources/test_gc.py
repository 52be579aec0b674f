"""Keeping storage in check (../resources/gc.yml): a retention policy applied
through the registry's API, then garbage collection with every replica
read-only, on distribution 2.x and 3.x on one host (scenario default) and on
the replicated registry on S3 (scenario ha).

The policy (test_gc_rules): gc/app keeps latest, release-* and its two newest
other tags; gc/multi keeps the index tagged new; keep/* has no rule. In
scenario default, gc/app's build-3 is an immutable tag, which stays. What
refers to build-2 (a signature and an SBOM) goes with it, what refers to
build-5 stays with it, and the signature of an image that is gone goes.
"""

import json
import os

import pytest

testinfra_hosts = ["ansible://docker_clients"]

# The address the client pushes by -> the hosts serving that registry.
REGISTRIES = {
    "default": {"registry-v2:443": ["registry-v2"], "registry-v3:5443": ["registry-v3"]},
    "ha": {"registry.ha.test": ["registry-a", "registry-b"]},
}[os.environ["MOLECULE_SCENARIO_NAME"]]
MAJOR = {"registry-v2:443": "2"}
# The tags of gc/app registry_frontend_immutable_tags guards.
IMMUTABLE = {"default": {"build-3"}, "ha": set()}[os.environ["MOLECULE_SCENARIO_NAME"]]
# Where the blob-descriptor cache is redis (ha), the collection empties it.
REDIS = os.environ["MOLECULE_SCENARIO_NAME"] == "ha"

APP_KEPT = {"build-4", "build-5", "latest", "release-1"}


def read(host, path):
    return json.loads(host.file(path).content_string)


@pytest.fixture(scope="module", params=sorted(REGISTRIES))
def story(request, host):
    address = request.param
    hosts = REGISTRIES[address]
    collector = host.get_host(f"ansible://{hosts[0]}", ansible_inventory=host.backend.ansible_inventory)
    replicas = [host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory) for name in hosts]
    files = {name: read(host, f"/root/gc/{address}/{name}.json")
             for name in ("seed", "after-dry-run", "during-readonly", "after-readonly", "after-gc", "repush")}
    files["dry-run"] = read(collector, "/root/gc-dry-run.json")
    files["applied"] = read(collector, "/root/gc-applied.json")
    files["replicas"] = {name: read(replica, "/root/gc-repush.json") for name, replica in zip(hosts, replicas, strict=True)}
    return address, MAJOR.get(address, "3"), files


def referrer_tags(seed, *owners):
    """The tags that hold what refers to these images (build-2, build-5, orphan) and their digests."""
    tags = {}
    for owner in owners:
        referrers = seed["referrers"][owner]
        hexed = referrers["subject"].removeprefix("sha256:")
        tags[f"sha256-{hexed}.sig"] = referrers["signature"]["digest"]
        if "index" in referrers:
            tags[f"sha256-{hexed}"] = referrers["index"]
    return tags


def seeded_tags(seed):
    app = {f"build-{day}": seed["app"][f"build-{day}"]["digest"] for day in range(1, 6)}
    app.update({"release-1": app["build-1"], "latest": app["build-5"]})
    app.update(referrer_tags(seed, "build-2", "build-5", "orphan"))
    return {"keep/base": {"1": seed["base"]["digest"]}, "gc/app": app,
            "gc/multi": {version: seed["multi"][version]["digest"] for version in ("old", "new")}}


def test_dry_run_reports_and_deletes_nothing(story):
    address, major, files = story
    report = {entry["name"]: entry for entry in files["dry-run"]["retention"]["repositories"]}
    assert files["dry-run"]["retention"]["applied"] is False
    assert set(report) == {"gc/app", "gc/multi"}, "keep/* has no rule: nothing of it may go"
    going = {entry["tag"] for entry in report["gc/app"]["delete"] if "kind" not in entry}
    # 2.x deletes by digest: build-1 shares its digest with release-1, which stays.
    assert going == ({"build-2", "build-3"} if major == "2" else {"build-1", "build-2", "build-3"}) - IMMUTABLE
    assert report["gc/app"]["immutable"] == sorted(IMMUTABLE)
    referrers = {entry["tag"]: entry["kind"] for entry in report["gc/app"]["delete"] if "kind" in entry}
    assert referrers == {tag: "referrers" if tag.count(".") == 0 else "signature"
                         for tag in referrer_tags(files["seed"], "build-2", "orphan")}
    assert report["gc/app"]["orphans"] == list(referrer_tags(files["seed"], "orphan"))
    assert [entry["tag"] for entry in report["gc/multi"]["delete"]] == ["old"]
    # The layer of each build whose digest goes: build-2, and build-3 where it is not immutable.
    assert files["dry-run"]["retention"]["bytes_freed"] > 400_000 * len({"build-2", "build-3"} - IMMUTABLE)
    tags = files["after-dry-run"]["tags"]
    expected = seeded_tags(files["seed"])
    assert tags["gc/app"] == expected["gc/app"] and tags["gc/multi"] == expected["gc/multi"]


def test_kept_tags_keep_their_digests(story):
    _, major, files = story
    expected = seeded_tags(files["seed"])
    tags = files["after-gc"]["tags"]
    kept = APP_KEPT | IMMUTABLE | ({"build-1"} if major == "2" else set()) \
        | set(referrer_tags(files["seed"], "build-5"))
    assert tags["gc/app"] == {tag: expected["gc/app"][tag] for tag in kept}
    assert tags["gc/multi"] == {"new": expected["gc/multi"]["new"]}
    assert tags["keep/base"]["1"] == expected["keep/base"]["1"]


def test_kept_blobs_stay_and_unshared_ones_go(story):
    _, major, files = story
    seed, blobs = files["seed"], files["after-gc"]["blobs"]
    kept_images = [seed["base"]] + [seed["app"][tag] for tag in ("build-1", "build-4", "build-5", *IMMUTABLE)] \
        + list(seed["multi"]["new"]["children"].values())
    for image in kept_images:
        assert all(blobs[blob] is True for blob in image["blobs"]), image
    gone_images = [seed["app"][tag] for tag in ("build-2", "build-3") if tag not in IMMUTABLE]
    if major == "3":
        # 3.x collects the children of the deleted index too (--delete-untagged).
        gone_images += list(seed["multi"]["old"]["children"].values())
    for image in gone_images:
        unshared = [blob for blob in image["blobs"] if blob not in seed["base"]["blobs"]]
        assert len(unshared) == 2  # its config and its own layer
        assert all("BLOB_UNKNOWN" in str(blobs[blob]) for blob in unshared), (image, blobs)
    # What refers to an image: its file (the config, empty, is every artifact's) stays and goes with the image.
    for owner, stays in [("build-5", True), ("build-2", False), ("orphan", False)]:
        for kind in ("signature", "sbom"):
            if kind in seed["referrers"][owner]:
                answer = blobs[seed["referrers"][owner][kind]["blobs"][-1]]
                assert answer is True if stays else "BLOB_UNKNOWN" in str(answer), (owner, kind, answer)


def test_storage_fell_by_the_reported_amount(story):
    _, _, files = story
    applied = files["applied"]
    assert applied["retention"]["applied"] is True
    assert applied["bytes_freed"] == applied["bytes_before"] - applied["bytes_after"]
    assert applied["bytes_freed"] == applied["retention"]["bytes_freed"]
    assert "blobs marked" in applied["summary"]
    assert (applied["cache_keys_dropped"] > 0) == REDIS
    assert 0 < applied["readonly_seconds"] < 120


def test_push_during_readonly_is_refused_and_leaves_nothing(story):
    _, _, files = story
    during, after = files["during-readonly"], files["after-readonly"]
    assert during["rc"] != 0 and "405 Method Not Allowed" in during["stderr"], during
    # No tag: the repository is unknown (filesystem) or listed empty (S3).
    assert during["tags"] == [], during
    assert during["listing"] == "" or "NAME_UNKNOWN" in during["listing"], during
    # Once read-write again, a push lands whole, and the refused one left no tag.
    assert after["rc"] == 0 and after["tags"] == ["after-readonly"], after


def test_deleted_image_pushed_again_serves_from_every_replica(story):
    _, _, files = story
    assert files["repush"]["rc"] == 0, files["repush"]["stderr"]
    assert files["repush"]["digest"] == files["seed"]["app"]["build-2"]["digest"]
    expected = {"manifests/build-2": 200} | {f"blobs/{blob}": 200 for blob in files["seed"]["app"]["build-2"]["blobs"]}
    for replica, answers in files["replicas"].items():
        assert answers == expected, replica
