"""The replicas' upgrade from distribution 2.x to 3.x in place (upgrade.yml):
refused while a schema 1 manifest is stored, then done one replica after the
other while a client pulls through the front end, every image kept; a
downgrade refused."""

import datetime
import json
import os
from pathlib import Path

import pytest

testinfra_hosts = ["ansible://docker_clients"]


def read(host, name):
    return json.loads(host.file(f"/root/upgrade/{name}.json").content_string)


def site_run(name):
    return json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "site-runs" / f"{name}.json").read_text())


def recorded(host, name):
    return json.loads(host.file(f"/root/gc/registry.ha.test/{name}.json").content_string)


def test_schema1_manifest_stops_the_upgrade_before_any_change(host):
    digest = host.file("/root/upgrade/schema1-digest").content_string.strip()
    run = site_run("refused-schema1")
    said = " ".join(run["refusals"])
    assert "registry_image dockyard-test/registry:3 upgrades registry to 3.x, which cannot serve the 1 schema 1 " \
           f"manifest it stores: legacy/app@{digest} (tags 2016)" in said
    assert "skopeo copy --format v2s2" in said and "registry_upgrade_accept_schema1: true" in said
    # Both replicas refused; no host went past the checks.
    assert {line.split()[1] for line in run["refusals"] if "schema 1" in line} == {"[registry-a]:", "[registry-b]:"}
    assert run["recap"] and all(" changed=0 " in line for line in run["recap"])


def test_every_tag_keeps_its_digest_and_every_blob_answers(host):
    before, after = recorded(host, "before-upgrade"), recorded(host, "after-upgrade")
    assert before["tags"]["gc/multi"] and before["tags"]["gc/app"] and before["tags"]["keep/base"]
    assert after["tags"] == before["tags"]
    assert set(before["blobs"].values()) == {True}
    assert after["blobs"] == before["blobs"]


def test_pulls_through_the_front_end_never_failed_during_the_upgrade(host):
    pulls = read(host, "pulls")
    upgrade = site_run("upgraded")
    print(f"upgrade: {upgrade['seconds']} s; pulls: {pulls}")
    assert pulls["tries"] >= 10, pulls
    assert pulls["failed"] == 0, pulls["errors"]


@pytest.mark.parametrize("replica", ["registry-a", "registry-b"])
def test_each_replica_runs_3x_with_its_config_on_3x_path(host, replica):
    node = host.get_host(f"ansible://{replica}", ansible_inventory=host.backend.ansible_inventory)
    inspected = json.loads(node.check_output("docker inspect registry"))[0]
    assert inspected["Config"]["Image"] == "dockyard-test/registry:3"
    mounts = {mount["Destination"]: mount["Source"] for mount in inspected["Mounts"]}
    assert mounts["/etc/distribution/config.yml"] == "/etc/dockyard/registry/config.yml"
    assert "/etc/docker/registry/config.yml" not in mounts
    config = node.file("/etc/dockyard/registry/config.yml").content_string
    assert "addrs:" in config and "forcepathstyle: true" in config
    # A replaced replica finishes the requests it has begun (registry_drain_seconds),
    # and Docker waits for that before killing it.
    assert "draintimeout: 30s" in config
    assert inspected["Config"]["StopTimeout"] == 35


def created(node):
    stamp = json.loads(node.check_output("docker inspect registry"))[0]["Created"]
    return datetime.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()


def test_the_replicas_were_replaced_one_after_the_other_each_briefly(host):
    nodes = [host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)
             for name in ("registry-a", "registry-b")]
    watched = json.loads(nodes[0].file("/root/upgrade/registry.json").content_string)
    first, second = (created(node) for node in nodes)
    print(f"registry-a's own registry during the upgrade: {watched}; registry-b replaced {second - first:.1f} s later")
    # registry-a's container was replaced while its port was watched, and its
    # registry answered again within the role's wait (a single host's
    # unavailability: longest_gap).
    assert watched["began"] < first < watched["ended"]
    assert watched["longest_gap"] < 30, watched
    # registry-b went down only after registry-a answered and rested.
    assert second - first >= 10


def test_downgrade_is_refused_with_a_sentence(host):
    run = site_run("refused-downgrade")
    said = " ".join(run["refusals"])
    assert "registry runs distribution 3.x on registry-a, and registry_image dockyard-test/registry:2 is 2.x: " \
           "a downgrade is refused" in said
    assert all(" changed=0 " in line for line in run["recap"])
