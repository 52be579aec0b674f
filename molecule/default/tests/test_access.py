"""Several teams on one registry: the access rules of molecule.yml, enforced by nginx.

On registry-v2:443 the registry checks the password and nginx the rule; on
registry-v3:5443 nginx checks both; registry-v3:443 lets anyone pull where a
rule says anonymous (base/* and everything the admins keep, not the teams').
alice is team-a, bob team-b, builder the CI user, ci the admin. base/*'s
v* tags are immutable (release candidates aside) but to the admins.
"""

import json
import time
import urllib.parse

import pytest

testinfra_hosts = ["ansible://docker_clients"]

PUSH = ["registry-v2:443", "registry-v3:5443"]
DENIED = "denied: requested access to the resource is denied"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def docker(host, user, command):
    return host.run(f"DOCKER_CONFIG=/root/access/{user} docker {command}")


def probe(host, registry, path, *args, user=None, passwords=None):
    options = list(args) + [f"--cafile /etc/docker/certs.d/{registry}/ca.crt"]
    if user:
        options.append(f"--user {user}:{passwords[user]}")
    return json.loads(host.check_output(f"probe 'https://{registry}{path}' {' '.join(options)}"))


def assert_denied(response, repository, action):
    assert response["status"] == 403, response
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
    assert json.loads(response["body"])["errors"] == [
        {"code": "DENIED", "message": "requested access to the resource is denied",
         "detail": {"repository": repository, "action": action}}]


@pytest.fixture(scope="module")
def passwords(host):
    """Each user logged in to both registries in a Docker configuration of their own; the admin has pushed
    base/busybox:1 and alice team-a/secret:1, an image with a layer no other repository has."""
    variables = host.ansible.get_variables()
    users = dict(variables["test_teams"], **{variables["test_user"]: variables["test_password"]})
    for user, password in users.items():
        for registry in PUSH:
            host.check_output(f"echo '{password}' | DOCKER_CONFIG=/root/access/{user} docker login "
                              f"--username {user} --password-stdin {registry}")
    host.run("docker rm --force access-secret")
    host.check_output("docker load -i /root/busybox.tar")
    host.check_output("docker run --name access-secret dockyard-test/busybox sh -c 'date +%s%N > /secret'")
    for registry in PUSH:
        tag(host, f"{registry}/base/busybox:1")
        assert docker(host, "ci", f"push {registry}/base/busybox:1").rc == 0
        host.check_output(f"docker commit access-secret {registry}/team-a/secret:1")
        assert docker(host, "alice", f"push {registry}/team-a/secret:1").rc == 0
    return users


def tag(host, ref):
    """ref for the test image, loaded again (forget may have removed it with an image it shares)."""
    host.check_output(f"docker load -i /root/busybox.tar && docker tag dockyard-test/busybox {ref}")


def forget(host, registry, *repositories):
    for repository in repositories:
        host.run(f"docker image ls --quiet {registry}/{repository} | sort -u | xargs --no-run-if-empty docker rmi --force")


def layers(host, registry, repository, user, passwords):
    response = probe(host, registry, f"/v2/{repository}/manifests/1", f"--header 'Accept: {MANIFEST}'",
                     user=user, passwords=passwords)
    assert response["status"] == 200, response
    return [layer["digest"] for layer in json.loads(response["body"])["layers"]]


@pytest.mark.parametrize("registry", PUSH)
def test_each_team_pushes_and_pulls_its_own_repositories(host, registry, passwords):
    for user, repository in [("alice", "team-a/app"), ("bob", "team-b/app")]:
        tag(host, f"{registry}/{repository}:1")
        push = docker(host, user, f"push {registry}/{repository}:1")
        assert push.rc == 0, push.stderr
        forget(host, registry, repository)
        pull = docker(host, user, f"pull {registry}/{repository}:1")
        assert pull.rc == 0, pull.stderr


@pytest.mark.parametrize("registry", PUSH)
def test_a_team_gets_403_on_the_other_teams_repositories(host, registry, passwords):
    tag(host, f"{registry}/team-b/app:from-alice")
    push = docker(host, "alice", f"push {registry}/team-b/app:from-alice")
    assert push.rc != 0 and DENIED in push.stderr, push.stderr
    pull = docker(host, "bob", f"pull {registry}/team-a/secret:1")
    assert pull.rc != 0 and DENIED in pull.stderr, pull.stderr
    assert_denied(probe(host, registry, "/v2/team-a/secret/tags/list", user="bob", passwords=passwords),
                  "team-a/secret", "pull")
    tags = probe(host, registry, "/v2/team-b/app/tags/list", user="builder", passwords=passwords)
    assert json.loads(tags["body"])["tags"] == ["1"]


@pytest.mark.parametrize("registry", PUSH)
def test_the_ci_user_pulls_both_teams_and_pushes_neither(host, registry, passwords):
    forget(host, registry, "team-a/secret", "team-b/app")
    for ref in ("team-a/secret:1", "team-b/app:1"):
        pull = docker(host, "builder", f"pull {registry}/{ref}")
        assert pull.rc == 0, pull.stderr
    tag(host, f"{registry}/team-a/app:from-ci")
    push = docker(host, "builder", f"push {registry}/team-a/app:from-ci")
    assert push.rc != 0 and DENIED in push.stderr, push.stderr


@pytest.mark.parametrize("registry", PUSH)
def test_both_teams_pull_the_shared_base_which_only_ci_and_the_admins_push(host, registry, passwords):
    for user in ("alice", "bob"):
        forget(host, registry, "base/busybox")
        pull = docker(host, user, f"pull {registry}/base/busybox:1")
        assert pull.rc == 0, pull.stderr
    tag(host, f"{registry}/base/busybox:from-alice")
    push = docker(host, "alice", f"push {registry}/base/busybox:from-alice")
    assert push.rc != 0 and DENIED in push.stderr, push.stderr
    tag(host, f"{registry}/base/busybox:2")
    push = docker(host, "builder", f"push {registry}/base/busybox:2")
    assert push.rc == 0, push.stderr


@pytest.mark.parametrize("registry", PUSH)
def test_deletes_follow_push_rights(host, registry, passwords):
    tag(host, f"{registry}/team-a/doomed:1")
    assert docker(host, "alice", f"push {registry}/team-a/doomed:1").rc == 0
    head = probe(host, registry, "/v2/team-a/doomed/manifests/1", "--method HEAD", f"--header 'Accept: {MANIFEST}'",
                 user="alice", passwords=passwords)
    digest = head["headers"]["docker-content-digest"][0]
    for user in ("builder", "bob", "ci"):
        assert_denied(probe(host, registry, f"/v2/team-a/doomed/manifests/{digest}", "--method DELETE", user=user,
                            passwords=passwords), "team-a/doomed", "push")
    assert probe(host, registry, f"/v2/team-a/doomed/manifests/{digest}", "--method DELETE", user="alice",
                 passwords=passwords)["status"] == 202
    assert probe(host, registry, f"/v2/team-a/doomed/manifests/{digest}", user="alice",
                 passwords=passwords)["status"] == 404


@pytest.mark.parametrize("registry", PUSH)
def test_a_mount_from_a_repository_the_user_cannot_pull_gives_no_access(host, registry, passwords):
    secret = layers(host, registry, "team-a/secret", "alice", passwords)[-1]
    shared = layers(host, registry, "base/busybox", "bob", passwords)[-1]
    start = "/v2/team-b/app/blobs/uploads/"
    source = urllib.parse.quote("team-a/secret", safe="")
    attempts = [
        probe(host, registry, f"{start}?mount={secret}&from={source}", "--method POST", user="bob", passwords=passwords),
        probe(host, registry, f"{start}?from={source}&mount={urllib.parse.quote(secret)}", "--method POST", user="bob",
              passwords=passwords),
        # a second "from" the registry would read, where nginx reads the first
        probe(host, registry, f"{start}?mount={secret}&fr%6Fm={source}&from=base%2Fbusybox", "--method POST",
              user="bob", passwords=passwords),
        # the source in a form body, which the registry reads before the query
        probe(host, registry, start, "--method POST", "--header 'Content-Type: application/x-www-form-urlencoded'",
              f"--data 'mount={secret}&from=team-a/secret'", user="bob", passwords=passwords),
    ]
    for response in attempts:
        assert_denied(response, "team-b/app", "push")
    assert probe(host, registry, f"/v2/team-b/app/blobs/{secret}", "--method HEAD", user="bob",
                 passwords=passwords)["status"] == 404
    # From a repository bob may pull, the registry mounts (201) as before.
    mounted = probe(host, registry, f"{start}?mount={shared}&from=base%2Fbusybox", "--method POST", user="bob",
                    passwords=passwords)
    assert mounted["status"] == 201, mounted


@pytest.mark.parametrize("registry", PUSH)
@pytest.mark.parametrize("source", ["team-a/secret", "team-a%2Fsecret"])
def test_no_mount_goes_through_an_upload_session(host, registry, source, passwords):
    """distribution routes a POST on an upload session to the upload's start, which mounts from "from": bob's own
    session may not carry a mount from a repository he cannot pull, nor take a POST at all."""
    secret = layers(host, registry, "team-a/secret", "alice", passwords)[-1]
    started = probe(host, registry, "/v2/team-b/app/blobs/uploads/", "--method POST", user="bob", passwords=passwords)
    assert started["status"] == 202, started
    session = urllib.parse.urlsplit(started["headers"]["location"][0])
    session = f"{session.path}?{session.query}"
    for query in (f"&mount={secret}&from={source}", f"&from={source}&mount={urllib.parse.quote(secret)}", ""):
        assert_denied(probe(host, registry, session + query, "--method POST", user="bob", passwords=passwords),
                      "team-b/app", "push")
    assert probe(host, registry, f"/v2/team-b/app/blobs/{secret}", "--method HEAD", user="bob",
                 passwords=passwords)["status"] == 404
    # The session itself still serves bob's upload.
    assert probe(host, registry, session, "--method DELETE", user="bob", passwords=passwords)["status"] == 204


@pytest.mark.parametrize("registry", PUSH)
@pytest.mark.parametrize("method, path", [
    ("OPTIONS", "/v2/team-b/app/tags/list"),
    ("POST", "/v2/team-b/app/manifests/1"),
    ("PATCH", "/v2/team-b/app/blobs/uploads/"),
    ("GET", "/v2/team-b/app/manifests/1?x=1"),
    ("GET", f"/v2/team-b/app/blobs/sha256:{'0' * 64}?from=team-a%2Fsecret"),
])
def test_a_request_distribution_does_not_serve_is_refused_before_the_registry(host, registry, method, path,
                                                                              passwords):
    assert_denied(probe(host, registry, path, f"--method {method}", user="bob", passwords=passwords), "team-b/app",
                  "pull" if method == "GET" else "push")


@pytest.mark.parametrize("registry", PUSH + ["registry-v3:443"])
@pytest.mark.parametrize("options", ["--version HTTP/1.0 --no-host", "--version HTTP/2.0"])
def test_a_request_without_a_host_or_of_another_http_version_is_told_400(host, registry, options, passwords):
    """Refused or granted alike: the registry cannot answer a request without a Host, and serves HTTP/1.x only."""
    for path in ("/v2/team-a/secret/tags/list", "/v2/team-b/app/tags/list", "/v2/"):
        response = probe(host, registry, path, options, user="bob", passwords=passwords)
        assert response["status"] == 400 and "<center>nginx/" in response["body"], response


@pytest.mark.parametrize("registry", PUSH)
def test_docker_uploads_what_it_may_not_mount(host, registry, passwords):
    """bob has team-a/secret's image (the client's dockerd knows its layers from alice's push): pushing it to
    team-b, Docker tries to mount them from team-a/secret, is refused, and uploads them instead."""
    host.check_output(f"docker tag {registry}/team-a/secret:1 {registry}/team-b/copy:1")
    push = docker(host, "bob", f"push {registry}/team-b/copy:1")
    assert push.rc == 0, push.stderr
    assert "Pushed" in push.stdout and "Mounted from team-a" not in push.stdout, push.stdout


@pytest.mark.parametrize("registry", PUSH)
def test_the_catalog_is_the_admins(host, registry, passwords):
    listed = probe(host, registry, "/v2/_catalog", user="ci", passwords=passwords)
    assert {"team-a/secret", "team-b/app", "base/busybox"} <= set(json.loads(listed["body"])["repositories"])
    assert_denied(probe(host, registry, "/v2/_catalog", user="alice", passwords=passwords), "", "pull")


@pytest.mark.parametrize("registry", PUSH)
def test_a_missing_or_wrong_password_is_told_401_where_the_rules_refuse(host, registry, passwords):
    wrong = {"bob": "not-bobs-password"}
    for response in (probe(host, registry, "/v2/team-a/secret/tags/list"),
                     probe(host, registry, "/v2/team-a/secret/tags/list", user="bob", passwords=wrong)):
        assert response["status"] == 401, response
        assert response["headers"]["www-authenticate"][0].startswith("Basic realm=")
        assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]


# registry_frontend_wrong_login_burst in molecule.yml; the rate is the default, 30 a minute.
BURST = 4
SECONDS_A_TURN = 2


@pytest.mark.parametrize("registry", PUSH)
def test_a_burst_of_wrong_passwords_is_slowed_while_right_ones_pass(host, registry, passwords):
    """Ten wrong passwords at once from this address, whoever checks them (registry-v2's registry, or
    registry-v3's nginx), and meanwhile a right one: the brake answers the wrong ones a turn at a time, up to
    BURST waiting, tells the rest 429 at once, and the right one does not wait. Only the order of the answers
    and the least they waited are asserted: a loaded machine makes every answer later, never sooner."""
    ca = f"--cafile /etc/docker/certs.d/{registry}/ca.crt"
    url = f"https://{registry}/v2/base/busybox/tags/list"
    # From an empty queue: the wrong logins of the tests before drain a turn at a time.
    time.sleep(2 * SECONDS_A_TURN)
    output = host.check_output(
        f"probe {url} {ca} --timeout 60 --user bob:not-bobs-password --parallel 10 > /tmp/burst.json & "
        f"sleep 0.5; probe {url} {ca} --user alice:{passwords['alice']}; date +%s.%N; wait")
    right, answered = output.splitlines()
    right, answered = json.loads(right), float(answered)
    wrong = json.loads(host.file("/tmp/burst.json").content_string)
    refused = [response for response in wrong if response["status"] == 429]
    told = sorted((response for response in wrong if response["status"] == 401), key=lambda r: r["answered"])
    assert len(refused) + len(told) == 10, wrong
    # One answered at once, BURST waiting their turns (one fewer if a wrong login before still waits), the rest
    # refused.
    assert BURST <= len(told) <= BURST + 1, wrong
    waited = [response["answered"] - response["sent"] for response in told]
    assert waited[-1] >= (BURST - 1) * SECONDS_A_TURN, waited
    assert max(response["answered"] for response in refused) < told[1]["answered"], wrong
    for response in told:
        assert response["headers"]["www-authenticate"][0].startswith("Basic realm="), response
        assert json.loads(response["body"])["errors"][0]["code"] == "UNAUTHORIZED", response
    assert right["status"] == 200, right
    assert answered < told[-1]["answered"], (answered, told[-1]["answered"])


def test_anonymous_pulls_follow_the_rules_on_the_anonymous_port(host, passwords):
    registry = "registry-v3:443"
    forget(host, registry, "base/busybox")
    anonymous = host.run(f"DOCKER_CONFIG=/tmp/anonymous docker pull {registry}/base/busybox:1")
    assert anonymous.rc == 0, anonymous.stderr
    refused = host.run(f"DOCKER_CONFIG=/tmp/anonymous docker pull {registry}/team-a/secret:1")
    assert refused.rc != 0 and "unauthorized" in refused.stderr, refused.stderr
    challenge = probe(host, registry, "/v2/team-a/secret/tags/list")
    assert challenge["status"] == 401
    assert challenge["headers"]["www-authenticate"] == ['Basic realm="Registry registry"']
    # With a login, the anonymous port serves what the rules grant, and still takes no writes.
    assert probe(host, registry, "/v2/team-a/secret/tags/list", user="builder", passwords=passwords)["status"] == 200
    assert_denied(probe(host, registry, "/v2/team-a/secret/tags/list", user="bob", passwords=passwords),
                  "team-a/secret", "pull")
    assert probe(host, registry, "/v2/team-a/app/blobs/uploads/", "--method POST", user="alice",
                 passwords=passwords)["status"] == 403
    # registry-v2 asks everyone for a password: no anonymous pull of base/*.
    assert probe(host, "registry-v2:443", "/v2/base/busybox/tags/list")["status"] == 401


@pytest.mark.parametrize("registry", PUSH)
def test_skopeo_and_crane_see_the_refusal_in_their_words(host, registry, passwords):
    creds = f"alice:{passwords['alice']}"
    pull = host.run(f"skopeo inspect --creds {creds} docker://{registry}/team-b/app:1")
    assert pull.rc != 0 and DENIED in pull.stderr, pull.stderr
    push = host.run(f"skopeo copy --dest-creds {creds} docker-archive:/root/busybox.tar "
                    f"docker://{registry}/base/busybox:from-skopeo")
    assert push.rc != 0 and DENIED in push.stderr, push.stderr
    crane = f"SSL_CERT_FILE=/etc/docker/certs.d/{registry}/ca.crt DOCKER_CONFIG=/root/access/alice crane"
    pull = host.run(f"{crane} manifest {registry}/team-b/app:1")
    assert pull.rc != 0 and "DENIED: requested access to the resource is denied" in pull.stderr, pull.stderr
    push = host.run(f"{crane} push /root/busybox.tar {registry}/base/busybox:from-crane")
    assert push.rc != 0 and "DENIED: requested access to the resource is denied" in push.stderr, push.stderr
    allowed = host.run(f"{crane} copy {registry}/base/busybox:1 {registry}/team-a/app:from-crane")
    assert allowed.rc == 0, allowed.stderr


@pytest.fixture(scope="module")
def releases(host, passwords):
    """builder has pushed base/busybox:<release> (a tag of its own for each run), and a second image, of another
    digest, is ready under that name in Docker and in /root/access/second.tar; it goes afterwards, so that the test
    image has no child image left."""
    release = f"v{int(time.time())}"
    host.run("docker rm --force access-second")
    host.check_output("docker load -i /root/busybox.tar && docker create --name access-second dockyard-test/busybox")
    host.check_output(f"docker commit --change 'LABEL release={release}' access-second dockyard-test/second:{release}")
    host.check_output(f"docker save --output /root/access/second.tar dockyard-test/second:{release}")
    for registry in PUSH:
        tag(host, f"{registry}/base/busybox:{release}")
        assert docker(host, "builder", f"push {registry}/base/busybox:{release}").rc == 0
    yield release
    host.check_output("docker rm --force access-second && docker rmi --force $(docker image ls --quiet "
                      f"dockyard-test/second:{release})")


def digest(host, registry, reference):
    return host.check_output(f"SSL_CERT_FILE=/etc/docker/certs.d/{registry}/ca.crt DOCKER_CONFIG=/root/access/ci "
                             f"crane digest {registry}/{reference}")


@pytest.mark.parametrize("registry", PUSH)
def test_an_immutable_tag_is_pushed_once_and_docker_skopeo_and_crane_are_told_why(host, registry, passwords, releases):
    reference = f"base/busybox:{releases}"
    first = digest(host, registry, reference)
    refusal = f"tag {releases} of base/busybox is immutable: it is not pushed again"
    host.check_output(f"docker tag dockyard-test/second:{releases} {registry}/{reference}")
    push = docker(host, "builder", f"push {registry}/{reference}")
    assert push.rc != 0 and f"denied: {refusal}" in push.stderr, push.stderr
    skopeo = host.run(f"skopeo copy --dest-creds builder:{passwords['builder']} docker-archive:/root/access/second.tar "
                      f"docker://{registry}/{reference}")
    assert skopeo.rc != 0 and f"denied: {refusal}" in skopeo.stderr, skopeo.stderr
    crane = f"SSL_CERT_FILE=/etc/docker/certs.d/{registry}/ca.crt DOCKER_CONFIG=/root/access/builder crane"
    push = host.run(f"{crane} push /root/access/second.tar {registry}/{reference}")
    assert push.rc != 0 and f"DENIED: {refusal}" in push.stderr, push.stderr
    assert digest(host, registry, reference) == first
    # A wrong password is told 401 before anything about the tag.
    wrong = probe(host, registry, f"/v2/{reference.replace(':', '/manifests/')}", "--method PUT",
                  f"--header 'Content-Type: {MANIFEST}'", "--data '{}'", user="builder",
                  passwords={"builder": "wrong-password"})
    assert wrong["status"] == 401, wrong


@pytest.mark.parametrize("registry", PUSH)
def test_an_immutable_tag_and_its_digest_are_not_deleted(host, registry, passwords, releases):
    path = f"/v2/base/busybox/manifests/{releases}"
    first = digest(host, registry, f"base/busybox:{releases}")
    for reference, message in [(releases, f"base/busybox keeps immutable tags: {releases} is not deleted"),
                               (first, f"base/busybox keeps immutable tags: {first} is not deleted")]:
        response = probe(host, registry, f"/v2/base/busybox/manifests/{reference}", "--method DELETE",
                         user="builder", passwords=passwords)
        assert response["status"] == 403, response
        assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
        assert json.loads(response["body"])["errors"] == [
            {"code": "DENIED", "message": message, "detail": {"repository": "base/busybox", "reference": reference}}]
    assert probe(host, registry, path, "--method HEAD", f"--header 'Accept: {MANIFEST}'", user="builder",
                 passwords=passwords)["status"] == 200


@pytest.mark.parametrize("registry", PUSH)
def test_the_rules_users_and_release_candidates_may_push_again(host, registry, releases):
    second = f"dockyard-test/second:{releases}"
    for user, reference in [("builder", f"base/busybox:{releases}-rc1"), ("ci", f"base/busybox:{releases}")]:
        tag(host, f"{registry}/{reference}")
        if user == "builder":
            assert docker(host, user, f"push {registry}/{reference}").rc == 0
        host.check_output(f"docker tag {second} {registry}/{reference}")
        push = docker(host, user, f"push {registry}/{reference}")
        assert push.rc == 0, push.stderr
        assert f"digest: {digest(host, registry, reference)} " in push.stdout, push.stdout
