"""The audit trail: nginx's JSON line for each request names who pushed, pulled, was denied and deleted what;
and registry-v2 posts its events, with its token, to the collector on the client (prepare.yml).

On registry-v2:443 the registry checks the password, on registry-v3:5443 nginx
does (molecule.yml); alice is team-a, bob team-b, builder the CI user.
"""

import json
import os
import re
import time
from pathlib import Path

import pytest

testinfra_hosts = ["ansible://docker_clients"]

REGISTRIES = {"registry-v2:443": "registry-v2", "registry-v3:5443": "registry-v3"}
LOG = "/var/log/dockyard/registry-audit.log"
# A repository of this run's own: blobs a repository holds already are not uploaded again.
REPOSITORY = f"team-a/audited-{int(time.time())}"
FIELDS = {"time", "client", "port", "user", "method", "path", "repository", "action", "reference", "digest", "status",
          "bytes_sent", "request_length", "request_id"}


def docker(host, user, command):
    return host.run(f"DOCKER_CONFIG=/root/audit/{user} docker {command}")


def server(host, registry):
    return host.get_host(f"ansible://{REGISTRIES[registry]}", ansible_inventory=host.backend.ansible_inventory)


@pytest.fixture(scope="module")
def story(host):
    """On each registry: alice pushes REPOSITORY:1, builder pulls it, bob's push to it is denied, and alice
    deletes it by digest. {registry: (the pushed digest, the lines its audit trail got meanwhile)}."""
    passwords = host.ansible.get_variables()["test_teams"]
    host.check_output("docker load -i /root/busybox.tar")
    stories = {}
    for registry in REGISTRIES:
        start = int(server(host, registry).check_output(f"stat --format %s {LOG}"))
        for user in ("alice", "bob", "builder"):
            host.check_output(f"echo '{passwords[user]}' | DOCKER_CONFIG=/root/audit/{user} docker login "
                              f"--username {user} --password-stdin {registry}")
        host.check_output(f"docker tag dockyard-test/busybox {registry}/{REPOSITORY}:1")
        pushed = docker(host, "alice", f"push {registry}/{REPOSITORY}:1")
        assert pushed.rc == 0, pushed.stderr
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed.stdout).group(1)
        host.check_output(f"docker rmi {registry}/{REPOSITORY}:1")
        pulled = docker(host, "builder", f"pull {registry}/{REPOSITORY}:1")
        assert pulled.rc == 0, pulled.stderr
        host.check_output(f"docker tag dockyard-test/busybox {registry}/{REPOSITORY}:2")
        denied = docker(host, "bob", f"push {registry}/{REPOSITORY}:2")
        assert "denied: requested access to the resource is denied" in denied.stderr
        deleted = json.loads(host.check_output(
            f"probe 'https://{registry}/v2/{REPOSITORY}/manifests/{digest}' --method DELETE "
            f"--user alice:{passwords['alice']} --cafile /etc/docker/certs.d/{registry}/ca.crt"))
        assert deleted["status"] == 202, deleted
        lines = server(host, registry).check_output(f"tail --bytes +{start + 1} {LOG}")
        stories[registry] = (digest, [json.loads(line) for line in lines.splitlines()])
    return stories


def lines_of(story, registry, **fields):
    return [line for line in story[registry][1] if all(line[key] == value for key, value in fields.items())]


@pytest.mark.parametrize("registry", REGISTRIES)
def test_each_line_holds_every_field(story, registry):
    assert story[registry][1]
    assert all(set(line) == FIELDS for line in story[registry][1])


@pytest.mark.parametrize("registry", REGISTRIES)
def test_the_push_names_its_user_tag_and_digest(story, registry):
    digest = story[registry][0]
    assert lines_of(story, registry, user="alice", method="PUT", path=f"/v2/{REPOSITORY}/manifests/1",
                    repository=REPOSITORY, action="push", reference="1", digest=digest, status=201)
    # Its blobs too, each uploaded or mounted from another repository: the registry's answer names its digest.
    blobs = [line for line in lines_of(story, registry, user="alice", action="push", status=201)
             if line["path"].startswith(f"/v2/{REPOSITORY}/blobs/uploads/")]
    assert blobs and all(re.fullmatch("sha256:[0-9a-f]{64}", line["digest"]) for line in blobs), blobs


@pytest.mark.parametrize("registry", REGISTRIES)
def test_the_pull_names_its_user_and_the_digest_served(story, registry):
    digest = story[registry][0]
    # Docker resolves the tag (HEAD), then fetches what it does not have yet by digest.
    assert lines_of(story, registry, user="builder", path=f"/v2/{REPOSITORY}/manifests/1",
                    repository=REPOSITORY, action="pull", reference="1", digest=digest, status=200)


@pytest.mark.parametrize("registry", REGISTRIES)
def test_the_denied_push_names_its_user_and_nothing_of_it_passed(story, registry):
    bobs = lines_of(story, registry, user="bob", repository=REPOSITORY)
    assert lines_of(story, registry, user="bob", repository=REPOSITORY, action="push", status=403)
    assert all(line["status"] in (401, 403) for line in bobs), [(line["method"], line["path"], line["status"])
                                                               for line in bobs]


@pytest.mark.parametrize("registry", REGISTRIES)
def test_the_delete_names_its_user_and_digest(story, registry):
    digest = story[registry][0]
    assert lines_of(story, registry, user="alice", method="DELETE", repository=REPOSITORY, action="delete",
                    reference=digest, status=202)


def test_the_trail_is_rotated_and_nginx_writes_the_new_file(host, story):
    registry = server(host, "registry-v2:443")
    before = set(registry.check_output("ls /var/log/dockyard").split())
    registry.check_output("logrotate --force /etc/logrotate.d/dockyard-registry-audit")
    # The file rotated before (if any) is compressed now; this one is not yet.
    rotated = [name for name in set(registry.check_output("ls /var/log/dockyard").split()) - before
               if not name.endswith(".gz")]
    assert len(rotated) == 1 and rotated[0].startswith("registry-audit.log-"), rotated
    rotated_name = rotated[0]
    assert registry.file(LOG).size == 0
    probe = json.loads(host.check_output(
        "probe https://registry-v2:443/v2/ --cafile /etc/docker/certs.d/registry-v2:443/ca.crt"))
    assert probe["status"] == 401
    lines = registry.file(LOG).content_string.splitlines()
    assert lines, registry.check_output("ls -l /var/log/dockyard; tail -n 2 /var/log/dockyard/registry-audit.log-*")
    assert (json.loads(lines[-1])["path"], json.loads(lines[-1])["status"]) == ("/v2/", 401)
    # Each file readable by root and the adm group alone (nginx's workers write it), the rotated one too.
    for path in (LOG, f"/var/log/dockyard/{rotated_name}"):
        assert (registry.file(path).user, registry.file(path).group, registry.file(path).mode) == (
            "www-data", "adm", 0o640)


def test_the_guide_shows_a_line_with_every_field():
    guide = (Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs/guides/metrics.md").read_text()
    sample = re.search(r"```json\n(.*?)```", guide[guide.index("## The audit trail"):], re.DOTALL).group(1)
    assert set(json.loads(sample)) == FIELDS


def test_registry_v2_posts_each_push_pull_and_delete_with_its_user_and_token(host, story):
    digest = story["registry-v2:443"][0]
    token = server(host, "registry-v2:443").ansible.get_variables()["registry_notifications_token"]
    wanted = {("push", "alice", digest), ("pull", "builder", digest), ("delete", "alice", digest)}
    # The registry posts from a queue of its own: a moment after the story.
    for _ in range(30):
        records = [json.loads(line) for line in host.file("/var/lib/collector/events.jsonl").content_string.splitlines()]
        events = [event for record in records for event in record["events"]
                  if event["target"]["repository"] == REPOSITORY]
        seen = {(event["action"], event["actor"].get("name"), event["target"].get("digest")) for event in events}
        if wanted <= seen:
            break
        time.sleep(1)
    assert wanted <= seen, seen
    assert {(record["path"], record["authorization"]) for record in records} == {("/events", f"Bearer {token}")}
    pushed = [event for event in events if event["action"] == "push" and event["target"].get("digest") == digest]
    assert pushed[0]["target"]["tag"] == "1"
