"""Token auth on distribution 2.8 and 3.x (registry_auth token): the teams of molecule.yml log in with Docker, podman,
skopeo and crane, and get what the access rules grant from the token server behind nginx's /token; the
registry enforces it. alice is team-a, bob team-b, ci the admin, robot-ci a robot that pushes ci/* and pulls
base/* until its day.
"""

import base64
import datetime
import json
import time
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

testinfra_hosts = ["ansible://docker_clients"]

# Each registry's public name, its host, and its major version of distribution.
REGISTRIES = {"registry.dockyard.test": ("registry-acme", "2"), "registry3.dockyard.test": ("registry-acme3", "3")}
# The service and issuer of the tokens: the registry's name (registry_name).
SERVICE = "registry"
DENIED = "denied: requested access to the resource is denied"
# registry_frontend_wrong_login_burst in molecule.yml; the rate is the default, 30 a minute.
BURST = 2
SECONDS_A_TURN = 2


class Registry:
    """One registry as the client reaches it by its name, and the host that serves it."""

    def __init__(self, client, name):
        self.client, self.name = client, name
        self.ca = f"--cafile /etc/docker/certs.d/{name}/ca.crt"
        server, self.major = REGISTRIES[name]
        self.server = client.get_host(f"ansible://{server}", ansible_inventory=client.backend.ansible_inventory)

    def docker(self, user, command):
        return self.client.run(f"DOCKER_CONFIG=/root/token/{user} docker {command}")

    def probe(self, path, *args):
        return json.loads(self.client.check_output(f"probe 'https://{self.name}{path}' {self.ca} {' '.join(args)}"))

    def token(self, user, password, *scopes):
        query = urllib.parse.urlencode({"service": SERVICE, "scope": list(scopes)}, doseq=True)
        answer = self.probe(f"/token?{query}", f"--user '{user}:{password}'")
        assert answer["status"] == 200, answer
        return json.loads(answer["body"])["token"]

    def with_token(self, path, bearer):
        return self.probe(path, f"--header 'Authorization: Bearer {bearer}'")

    def challenge_error(self, response):
        """The error of the registry's Bearer challenge, as clients read it."""
        challenge = response["headers"]["www-authenticate"][0]
        assert challenge.startswith(f'Bearer realm="https://{self.name}/token",service="{SERVICE}"'), challenge
        return dict(part.split("=", 1) for part in challenge[len("Bearer "):].split(",")).get("error", "").strip('"')


@pytest.fixture(scope="module", params=sorted(REGISTRIES))
def registry(request, host):
    return Registry(host, request.param)


@pytest.fixture(scope="module")
def passwords(host, registry):
    """Each user logged in with Docker in a configuration of their own; the admin has pushed base/busybox:1,
    alice team-a/app:1 and bob team-b/app:1."""
    variables = host.ansible.get_variables()
    users = dict(variables["test_teams"], **{variables["test_user"]: variables["test_password"],
                                             "robot-ci": variables["test_robot_password"]})
    for user, password in users.items():
        host.check_output(f"echo '{password}' | DOCKER_CONFIG=/root/token/{user} docker login "
                          f"--username {user} --password-stdin {registry.name}")
    host.check_output("docker load -i /root/busybox.tar")
    for user, reference in [("ci", "base/busybox:1"), ("alice", "team-a/app:1"), ("bob", "team-b/app:1")]:
        host.check_output(f"docker tag dockyard-test/busybox:latest {registry.name}/{reference}")
        push = registry.docker(user, f"push {registry.name}/{reference}")
        assert push.rc == 0, push.stderr
    return users


def test_each_team_pushes_and_pulls_its_own_and_is_denied_the_others(host, registry, passwords):
    assert registry.docker("alice", f"pull {registry.name}/team-a/app:1").rc == 0
    assert registry.docker("alice", f"pull {registry.name}/base/busybox:1").rc == 0
    pull = registry.docker("alice", f"pull {registry.name}/team-b/app:1")
    assert pull.rc != 0 and DENIED in pull.stderr, pull.stderr
    host.check_output(f"docker tag dockyard-test/busybox:latest {registry.name}/team-b/app:from-alice")
    push = registry.docker("alice", f"push {registry.name}/team-b/app:from-alice")
    assert push.rc != 0 and DENIED in push.stderr, push.stderr
    host.check_output(f"docker tag dockyard-test/busybox:latest {registry.name}/base/busybox:from-bob")
    push = registry.docker("bob", f"push {registry.name}/base/busybox:from-bob")
    assert push.rc != 0 and DENIED in push.stderr, push.stderr


def test_podman_skopeo_and_crane_get_the_same_grants(host, registry, passwords):
    creds = f"alice:{passwords['alice']}"
    assert host.run(f"skopeo inspect --creds {creds} docker://{registry.name}/team-a/app:1").rc == 0
    skopeo = host.run(f"skopeo inspect --creds {creds} docker://{registry.name}/team-b/app:1")
    assert skopeo.rc != 0 and "requested access to the resource is denied" in skopeo.stderr, skopeo.stderr
    pushed = host.run(f"skopeo copy --dest-creds {creds} docker-archive:/root/busybox.tar "
                      f"docker://{registry.name}/team-a/app:from-skopeo")
    assert pushed.rc == 0, pushed.stderr
    crane = f"SSL_CERT_FILE=/etc/docker/certs.d/{registry.name}/ca.crt DOCKER_CONFIG=/root/token/alice crane"
    assert host.run(f"{crane} manifest {registry.name}/team-a/app:from-skopeo").rc == 0
    # crane reads the registry's answer, not its challenge: the scope the token lacked.
    refused = host.run(f"{crane} manifest {registry.name}/team-b/app:1")
    assert refused.rc != 0 and ("UNAUTHORIZED: authentication required; "
                                "[map[Action:pull Class: Name:team-b/app Type:repository]]") in refused.stderr, \
        refused.stderr
    podman = host.run(f"podman pull --creds {creds} {registry.name}/team-b/app:1")
    assert podman.rc != 0 and "requested access to the resource is denied" in podman.stderr, podman.stderr
    podman = host.run(f"podman pull --creds {creds} {registry.name}/team-a/app:1")
    assert podman.rc == 0, podman.stderr


def test_a_robot_pushes_what_its_patterns_say_and_nothing_else(host, registry, passwords):
    host.check_output(f"docker tag dockyard-test/busybox:latest {registry.name}/ci/app:1")
    push = registry.docker("robot-ci", f"push {registry.name}/ci/app:1")
    assert push.rc == 0, push.stderr
    assert registry.docker("robot-ci", f"pull {registry.name}/base/busybox:1").rc == 0
    pull = registry.docker("robot-ci", f"pull {registry.name}/team-a/app:1")
    assert pull.rc != 0 and DENIED in pull.stderr, pull.stderr


@pytest.fixture()
def robot_expired(registry):
    """robot-ci's last day set to yesterday on the registry host, as if its day had passed, and back after."""
    server = registry.server
    path = "/etc/dockyard/token-registry/config.json"
    kept = server.file(path).content_string
    config = json.loads(kept)
    yesterday = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    for robot in config["robots"]:
        robot["expires"] = yesterday

    def write(text):
        server.check_output(f"echo {base64.b64encode(text.encode()).decode()} | base64 -d > {path} && "
                              "systemctl restart dockyard-token-registry.service")

    write(json.dumps(config))
    yield yesterday
    write(kept)


def test_a_robot_past_its_day_is_told_the_date(host, registry, passwords, robot_expired):
    message = f"robot robot-ci expired on {robot_expired}: ask for a new one"
    login = host.run(f"echo '{passwords['robot-ci']}' | DOCKER_CONFIG=/tmp/expired docker login "
                     f"--username robot-ci --password-stdin {registry.name}")
    assert login.rc != 0 and message in login.stderr, login.stderr
    answer = registry.probe(f"/token?service={SERVICE}&scope=repository:ci/app:pull",
                            f"--user 'robot-ci:{passwords['robot-ci']}'")
    assert answer["status"] == 403, answer
    assert json.loads(answer["body"]) == {"errors": [{"code": "DENIED", "message": message}]}


def test_a_token_for_one_repository_opens_no_other(host, registry, passwords):
    bearer = registry.token("alice", passwords["alice"], "repository:team-a/app:pull")
    assert registry.with_token("/v2/team-a/app/tags/list", bearer)["status"] == 200
    # alice may pull base/*, but this token does not say so; team-b/* she may not pull at all.
    for path in ["/v2/base/busybox/tags/list", "/v2/team-b/app/tags/list"]:
        refused = registry.with_token(path, bearer)
        assert refused["status"] == 401 and registry.challenge_error(refused) == "insufficient_scope", refused
    # What the rules refuse is left out of the token, and named.
    answer = registry.probe(f"/token?service={SERVICE}&scope=repository:team-b/app:pull",
                            f"--user 'alice:{passwords['alice']}'")
    assert answer["status"] == 200 and answer["headers"]["x-dockyard-refused"] == ["repository:team-b/app:pull"]


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_edited_or_resigned_token_is_refused(host, registry, passwords):
    header, payload, signature = registry.token("alice", passwords["alice"], "repository:team-a/app:pull").split(".")
    claims = json.loads(unb64(payload))
    claims["access"] = [{"type": "repository", "name": "team-b/app", "actions": ["pull"]}]
    edited = ".".join([header, b64(json.dumps(claims).encode()), signature])
    refused = registry.with_token("/v2/team-b/app/tags/list", edited)
    # 3.x names no error for a signature that does not match its certificate (go-jose's error is not its
    # ErrInvalidToken); the request is refused all the same, as unauthorized.
    assert refused["status"] == 401, refused
    assert registry.challenge_error(refused) == ("invalid_token" if registry.major == "2" else ""), refused
    assert json.loads(refused["body"])["errors"][0]["code"] == "UNAUTHORIZED", refused
    # Signed by a key of its own, whose certificate the token carries: not one of the token CA's.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVICE)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    head = dict(json.loads(unb64(header)),
                x5c=[base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()])
    signed = b64(json.dumps(head).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = utils.decode_dss_signature(key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
    forged = signed + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    refused = registry.with_token("/v2/team-b/app/tags/list", forged)
    assert refused["status"] == 401 and registry.challenge_error(refused) == "invalid_token", refused


def test_the_catalog_answers_only_its_users(host, registry, passwords):
    listed = registry.with_token("/v2/_catalog", registry.token("ci", passwords["ci"], "registry:catalog:*"))
    assert listed["status"] == 200, listed
    assert {"team-a/app", "team-b/app", "base/busybox"} <= set(json.loads(listed["body"])["repositories"])
    refused = registry.with_token("/v2/_catalog", registry.token("alice", passwords["alice"], "registry:catalog:*"))
    assert refused["status"] == 401 and registry.challenge_error(refused) == "insufficient_scope", refused


def form(**fields):
    return (f"--method POST --header 'Content-Type: application/x-www-form-urlencoded' "
            f"--data '{urllib.parse.urlencode(dict(fields, service=SERVICE))}'")


def test_the_oauth2_form_gives_tokens_and_a_refresh_token_that_gives_more(host, registry, passwords):
    """containerd's way: the password grant with access_type offline, then the refresh-token grant."""
    answer = registry.probe("/token", form(grant_type="password", username="bob", password=passwords["bob"],
                                           access_type="offline", client_id="containerd",
                                           scope="repository:team-b/app:pull"))
    assert answer["status"] == 200, answer
    tokens = json.loads(answer["body"])
    assert registry.with_token("/v2/team-b/app/tags/list", tokens["access_token"])["status"] == 200
    renewed = registry.probe("/token", form(grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                                            scope="repository:team-b/app:pull,push"))
    assert renewed["status"] == 200, renewed
    assert registry.with_token("/v2/team-b/app/tags/list", json.loads(renewed["body"])["access_token"])["status"] == 200


def test_wrong_passwords_at_token_are_braked_while_the_token_server_answers_the_rest(host, registry, passwords):
    """The form's wrong passwords, all at once: one answered, BURST waiting their turns, the rest told 429;
    the 401s keep the token server's challenge."""
    time.sleep(2 * SECONDS_A_TURN)  # from an empty queue
    wrong = json.loads(host.check_output(
        f"probe 'https://{registry.name}/token' {registry.ca} --timeout 60 --parallel 6 "
        + form(grant_type="password", username="alice", password="not-alices-password")))
    told = sorted((answer for answer in wrong if answer["status"] == 401), key=lambda answer: answer["answered"])
    refused = [answer for answer in wrong if answer["status"] == 429]
    assert len(told) + len(refused) == 6, wrong
    assert BURST <= len(told) <= BURST + 1, wrong
    assert told[-1]["answered"] - told[-1]["sent"] >= (BURST - 1) * SECONDS_A_TURN, told
    for answer in told:
        assert answer["headers"]["www-authenticate"] == [f'Basic realm="{SERVICE}"'], answer
        assert json.loads(answer["body"])["errors"][0]["code"] == "UNAUTHORIZED", answer


def test_the_retention_policy_reads_and_deletes_with_tokens_of_its_own(host, registry, passwords):
    """side_effect.yml pushed kept/app:build-1 to 3 and ran playbooks/gc.yml to keep the newest build."""
    report = json.loads(registry.server.file("/root/gc-applied.json").content_string)
    (repository,) = report["retention"]["repositories"]
    assert report["retention"]["applied"] is True, report
    assert repository["name"] == "kept/app" and repository["keep"] == ["build-3"], repository
    assert sorted(entry["tag"] for entry in repository["delete"]) == ["build-1", "build-2"], repository
    bearer = registry.token("ci", passwords["ci"], "repository:kept/app:pull")
    listed = registry.with_token("/v2/kept/app/tags/list", bearer)
    assert json.loads(listed["body"])["tags"] == ["build-3"], listed


def test_the_token_servers_htpasswd_holds_every_login_at_the_cost_asked(registry, passwords):
    """The users and the robots, each a bcrypt hash of registry_password_cost, readable by the server's account."""
    htpasswd = registry.server.file(f"/etc/dockyard/token-{SERVICE}/htpasswd")
    assert (htpasswd.mode, htpasswd.user, htpasswd.group) == (0o640, "root", "dockyard-token")
    entries = dict(line.split(":", 1) for line in htpasswd.content_string.splitlines())
    assert set(passwords) <= set(entries), entries.keys()
    cost = registry.server.ansible.get_variables()["registry_password_cost"]
    assert all(hashed.startswith(f"$2b${cost:02d}$") for hashed in entries.values()), entries


def test_each_token_carries_a_certificate_of_the_p256_token_ca_the_registry_trusts(registry, passwords):
    """The registry checks the CA's signature on that certificate on every request that brings a token."""
    bearer = registry.token("ci", passwords["ci"], "repository:base/busybox:pull")
    header = json.loads(base64.urlsafe_b64decode(bearer.split(".")[0] + "=="))
    carried = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    ca_pem = registry.server.file("/etc/dockyard/registry/token/ca/ca.crt").content_string
    assert ca_pem in registry.server.file("/etc/dockyard/registry/token-ca.crt").content_string
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    assert ca.public_key().curve.name == "secp256r1"
    ca.public_key().verify(carried.signature, carried.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
