"""The token server (roles/registry_token/files/token_server.py) as a WSGI
application: who gets a token, what it grants from the access rules, the
robots and their expiry, the OAuth2 form with its refresh tokens, and each
token's signature checked here with the certificate's public key alone. The
registry's own checks of the tokens (and of edited or re-signed ones) run in
the default scenario (molecule/default/tests/test_token.py)."""

import base64
import datetime
import importlib.util
import io
import json
import urllib.parse
from pathlib import Path

import bcrypt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.dockyard.registry.plugins.filter.access import dockyard_access_compile

PROGRAM = Path(__file__).resolve().parents[3] / "roles" / "registry_token" / "files" / "token_server.py"
SPEC = importlib.util.spec_from_file_location("token_server", PROGRAM)
token_server = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(token_server)

SERVICE = "registry.example.com"
NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.UTC).timestamp()
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "builder": "builder-password", "ci": "ci-password",
             "carol": "carol-password", "robot-ci": "robot-password", "robot-old": "old-robot-password"}
# The teams of docs/guides/teams.md.
RULES = dockyard_access_compile(
    [{"repository": "team-a/*", "pull": ["builder"], "push": ["team-a"]},
     {"repository": "team-b/*", "pull": ["builder"], "push": ["team-b"]},
     {"repository": "base/*", "pull": ["team-a", "team-b"], "push": ["builder", "admins"]},
     {"repository": "*", "push": ["admins"]}],
    {"team-a": ["alice"], "team-b": ["bob"], "admins": ["ci"]}, ["admins"])


def hashed(name):
    return bcrypt.hashpw(PASSWORDS[name].encode(), bcrypt.gensalt(4)).decode()


@pytest.fixture()
def server(tmp_path, key_pair):
    (tmp_path / "htpasswd").write_text("".join(f"{user}:{hashed(user)}\n"
                                               for user in ("alice", "bob", "builder", "ci", "robot-ci", "robot-old")))
    config = {"service": SERVICE, "issuer": "dockyard-token", "lifetime": 300, "refresh_lifetime": 86400,
              "key": str(tmp_path / "signing.key"), "certificate": (tmp_path / "signing.crt").read_text(),
              "htpasswd": str(tmp_path / "htpasswd"),
              "rules": [{key: rule[key] for key in ("repository", "regex", "pull", "push")} for rule in RULES["rules"]],
              "catalog": RULES["catalog"],
              "robots": [{"name": "robot-ci", "expires": "2026-12-05", "pull": ["base/*"], "push": ["team-a/ci-*"]},
                         {"name": "robot-old", "expires": "2026-12-04", "pull": ["*"], "push": []}]}
    return token_server.TokenServer(config, now=lambda: NOW)


def call(server, method="GET", query=None, user=None, password=None, form=None):
    body = urllib.parse.urlencode(form or {}).encode()
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/token",
               "QUERY_STRING": urllib.parse.urlencode(query or {}, doseq=True),
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "HTTP_X_REAL_IP": "192.0.2.7"}
    if user:
        secret = PASSWORDS[user] if password is None else password
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    answer = {}

    def start_response(status, headers):
        answer.update(status=int(status.split()[0]), headers=dict(headers))

    answer["body"] = json.loads(b"".join(server(environ, start_response)))
    return answer


def get(server, user, *scopes, password=None):
    return call(server, query={"service": SERVICE, "scope": list(scopes)}, user=user, password=password)


def test_a_team_gets_its_own_repository_and_the_token_checks_with_the_certificate(server, key_pair, token_claims):
    answer = get(server, "alice", "repository:team-a/app:pull,push")
    assert answer["status"] == 200, answer
    assert answer["body"]["token"] == answer["body"]["access_token"]
    assert answer["body"]["expires_in"] == 300 and answer["body"]["issued_at"] == "2026-12-05T12:00:00Z"
    granted = token_claims(answer["body"]["token"], key_pair[1])
    assert granted["access"] == [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}]
    assert (granted["iss"], granted["sub"], granted["aud"]) == ("dockyard-token", "alice", SERVICE)
    assert granted["exp"] - granted["iat"] == 300 and granted["nbf"] <= granted["iat"]
    assert "X-Dockyard-Refused" not in answer["headers"]


def test_what_the_rules_refuse_is_left_out_and_named(server, key_pair, token_claims):
    answer = get(server, "bob", "repository:team-a/app:pull,push", "repository:team-b/app:push",
                 "repository:base/busybox:pull,push")
    assert answer["status"] == 200
    assert token_claims(answer["body"]["token"], key_pair[1])["access"] == [
        {"type": "repository", "name": "team-b/app", "actions": ["push"]},
        {"type": "repository", "name": "base/busybox", "actions": ["pull"]}]
    assert answer["headers"]["X-Dockyard-Refused"] == "repository:team-a/app:pull,push repository:base/busybox:push"


def test_the_most_specific_rule_governs_and_push_includes_delete(server, key_pair, token_claims):
    # base/* is more specific than *: the admins push there, builder too; team-a pulls but no more.
    assert token_claims(get(server, "ci", "repository:base/x:pull,push,delete")["body"]["token"], key_pair[1])["access"] == [
        {"type": "repository", "name": "base/x", "actions": ["pull", "push", "delete"]}]
    assert token_claims(get(server, "alice", "repository:ops/tool:pull")["body"]["token"], key_pair[1])["access"] == []


def test_dockers_login_gets_no_refresh_token_so_that_it_keeps_the_password(server):
    answer = call(server, query={"service": SERVICE, "scope": "repository:team-a/app:pull", "offline_token": "true",
                                 "client_id": "docker", "account": "alice"}, user="alice")
    assert answer["status"] == 200 and "refresh_token" not in answer["body"]


def test_scopes_in_one_parameter_count_each(server, key_pair, token_claims):
    answer = call(server, query={"service": SERVICE, "scope": "repository:team-b/app:pull repository:base/x:pull"},
                  user="bob")
    assert [entry["name"] for entry in token_claims(answer["body"]["token"], key_pair[1])["access"]] == ["team-b/app", "base/x"]


def test_the_catalog_is_its_users(server, key_pair, token_claims):
    assert token_claims(get(server, "ci", "registry:catalog:*")["body"]["token"], key_pair[1])["access"] == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}]
    refused = get(server, "alice", "registry:catalog:*")
    assert token_claims(refused["body"]["token"], key_pair[1])["access"] == []
    assert refused["headers"]["X-Dockyard-Refused"] == "registry:catalog:*"


@pytest.mark.parametrize("user, password", [("alice", "not-alices"), ("mallory", "any")])
def test_a_wrong_password_or_an_unknown_user_is_told_401(server, user, password):
    answer = get(server, user, "repository:team-a/app:pull", password=password)
    assert answer["status"] == 401
    assert answer["body"] == {"errors": [{"code": "UNAUTHORIZED", "message": "wrong user name or password"}]}
    assert answer["headers"]["WWW-Authenticate"] == f'Basic realm="{SERVICE}"'


def test_no_token_without_a_login(server):
    answer = call(server, query={"service": SERVICE, "scope": "repository:base/busybox:pull"})
    assert answer["status"] == 401
    assert "log in" in answer["body"]["errors"][0]["message"]


def test_a_robot_gets_its_patterns_on_its_last_day_and_nothing_after(server, key_pair, token_claims):
    answer = get(server, "robot-ci", "repository:team-a/ci-cache:pull,push", "repository:base/busybox:pull,push",
                 "repository:team-a/secret:pull")
    assert token_claims(answer["body"]["token"], key_pair[1])["access"] == [
        {"type": "repository", "name": "team-a/ci-cache", "actions": ["pull", "push"]},
        {"type": "repository", "name": "base/busybox", "actions": ["pull"]}]
    # Its password is right, its day has passed: 403, which clients show with the sentence.
    expired = get(server, "robot-old", "repository:base/busybox:pull")
    assert expired["status"] == 403
    assert expired["body"]["errors"] == [{"code": "DENIED",
                                          "message": "robot robot-old expired on 2026-12-04: ask for a new one"}]
    # A wrong password says nothing of the date.
    wrong = get(server, "robot-old", "repository:base/busybox:pull", password="wrong")
    assert wrong["status"] == 401 and wrong["body"]["errors"][0]["message"] == "wrong user name or password"


def test_the_oauth2_form_gives_a_refresh_token_that_gives_tokens(server, key_pair, token_claims):
    answer = call(server, "POST", form={"grant_type": "password", "username": "alice",
                                        "password": PASSWORDS["alice"], "service": SERVICE, "client_id": "containerd",
                                        "access_type": "offline", "scope": "repository:team-a/app:pull"})
    assert answer["status"] == 200, answer
    assert answer["body"]["scope"] == "repository:team-a/app:pull"
    refresh = answer["body"]["refresh_token"]
    renewed = call(server, "POST", form={"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE,
                                         "scope": "repository:team-a/app:pull,push repository:team-b/app:pull"})
    assert renewed["status"] == 200, renewed
    assert "refresh_token" not in renewed["body"]
    assert token_claims(renewed["body"]["access_token"], key_pair[1])["access"] == [
        {"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}]
    # A refresh token is no access token, and one edited is refused.
    assert call(server, "POST", form={"grant_type": "refresh_token", "refresh_token": renewed["body"]["access_token"],
                                      "service": SERVICE})["status"] == 401
    header, payload, signature = refresh.split(".")
    edited = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    edited["sub"] = "ci"
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(edited).encode()).rstrip(b"=").decode(), signature])
    refused = call(server, "POST", form={"grant_type": "refresh_token", "refresh_token": forged, "service": SERVICE})
    assert refused["status"] == 401
    assert refused["body"]["errors"][0]["message"] == "the token is not one this server signed"


def test_a_user_removed_from_htpasswd_loses_the_refresh_token_and_a_new_one_logs_in(server, tmp_path):
    assert get(server, "carol", "repository:base/x:pull")["status"] == 401
    answer = call(server, "POST", form={"grant_type": "password", "username": "bob", "password": PASSWORDS["bob"],
                                        "service": SERVICE, "access_type": "offline"})
    (tmp_path / "htpasswd").write_text(f"alice:{hashed('alice')}\ncarol:{hashed('carol')}\n")
    refused = call(server, "POST", form={"grant_type": "refresh_token", "service": SERVICE,
                                         "refresh_token": answer["body"]["refresh_token"]})
    assert refused["status"] == 401 and refused["body"]["errors"][0]["message"] == "bob is no longer a user: log in again"
    assert get(server, "carol", "repository:base/x:pull")["status"] == 200


@pytest.mark.parametrize("query, message", [
    ({"service": "other.example.com", "scope": "repository:base/x:pull"},
     f"service 'other.example.com' is not this server's, {SERVICE}"),
    ({"service": SERVICE, "scope": "repository:base/x"}, "scope 'repository:base/x' is not type:name:actions"),
    ({"service": SERVICE, "scope": "repository:Base/../x:pull"},
     "scope 'repository:Base/../x:pull' is not type:name:actions"),
])
def test_a_malformed_request_is_told_400(server, query, message):
    answer = call(server, query=query, user="alice")
    assert answer["status"] == 400
    assert answer["body"]["errors"][0]["message"] == message


def test_a_key_that_is_not_the_certificates_is_refused_at_start(tmp_path, key_pair):
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="the signing certificate is not the signing key's"):
        token_server.Signer(other, (tmp_path / "signing.crt").read_bytes())


def test_each_answer_is_logged_with_the_client_and_no_secret(server, capsys):
    get(server, "bob", "repository:team-b/app:pull,push", "repository:team-a/app:pull")
    get(server, "bob", "repository:team-b/app:pull", password="bobs-guess")
    log = capsys.readouterr().err.splitlines()
    assert log == ["192.0.2.7 bob: granted repository:team-b/app:pull,push, refused repository:team-a/app:pull",
                   "192.0.2.7 refused: wrong user name or password"]
