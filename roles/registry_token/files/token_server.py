"""The token server: Docker registry tokens from the project's access rules.

A WSGI application (gunicorn runs it) that answers the Docker token protocol
on one path, /token, for one registry service:

- GET with Basic credentials, service, scope (each once or more) and account,
  as Docker, podman, skopeo and crane ask;
- POST of a form (OAuth2), grant_type password (username, password) or
  refresh_token, scope space-separated, as containerd asks first; with
  access_type offline, the answer also holds a refresh token.

Who is who: the accounts of an htpasswd file (read again when it changes),
the users and the robots; a robot, listed in the configuration, has an
expiry date and its own pull and push patterns instead of the rules, and
is refused (403 DENIED, with the date) after that day. What each user may
do: the access rules as
filter_plugins/access.py compiles them (the rules most specific first, each
with the regular expression of its repositories, who may pull and who may
push; push includes delete, and whoever may push may pull), and the users
who may list the catalog. A token grants what was asked and allowed, nothing
else; what was refused is named in the answer's X-Dockyard-Refused header
and in the log.

Tokens are ES256 JWTs whose x5c header carries the signing certificate,
which distribution 2.8 and 3.x verify against auth.token.rootcertbundle.
The configuration is a JSON file named by DOCKYARD_TOKEN_CONFIG:
{"service", "issuer", "lifetime", "refresh_lifetime" (seconds), "key",
"certificate" (the signer's, in PEM), "htpasswd" (the key's and the htpasswd
file's paths), "rules":
[{"repository", "regex", "pull", "push"}], "catalog": [users], "robots":
[{"name", "expires" (YYYY-MM-DD, the last day it works, UTC), "pull", "push"
(patterns)}]}.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

import bcrypt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

# A scope: type (with an optional class), a repository name as distribution
# takes it (or "catalog"), actions.
SCOPE = re.compile(r"^([a-z0-9]+(?:\([a-z0-9]+\))?):([a-z0-9]+(?:(?:[._]|__|-+|/)[a-z0-9]+)*):([a-z*]+(?:,[a-z*]+)*)$")
# A bcrypt hash the bcrypt library checks ($2y$ as htpasswd writes it is the same).
BCRYPT = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
# The leeway for the clocks of the registry and this host, in seconds.
LEEWAY = 10
# A dummy hash checked for unknown users, so that they take as long as known ones.
DUMMY = bcrypt.hashpw(b"dockyard", bcrypt.gensalt(10))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def glob_regex(pattern: str) -> re.Pattern:
    """A robot's repository pattern ('*' for any characters, '/' included)."""
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def scope_text(entry: dict) -> str:
    """An access entry of a token as a scope, type:name:actions."""
    return f"{entry['type']}:{entry['name']}:{','.join(entry['actions'])}"


class Refusal(Exception):
    """A request refused: its status and the sentence the client sees."""

    def __init__(self, status: str, message: str, code: str = "UNAUTHORIZED"):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class Signer:
    """Signs and verifies ES256 JWTs with the key of one certificate."""

    def __init__(self, key_pem: bytes, certificate_pem: bytes):
        self.key = serialization.load_pem_private_key(key_pem, None)
        if not isinstance(self.key, ec.EllipticCurvePrivateKey) or self.key.curve.name != "secp256r1":
            raise ValueError("the signing key is not a P-256 key (ES256)")
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        if certificate.public_key().public_numbers() != self.key.public_key().public_numbers():
            raise ValueError("the signing certificate is not the signing key's")
        self.x5c = [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        signed = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        r, s = utils.decode_dss_signature(self.key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
        return signed + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def verify(self, token: str) -> dict:
        """The claims of a token this signer signed; ValueError otherwise."""
        try:
            header, claims, signature = token.split(".")
            raw = unb64url(signature)
            if len(raw) != 64 or json.loads(unb64url(header)).get("alg") != "ES256":
                raise ValueError("not an ES256 token")
            der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self.key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
            return json.loads(unb64url(claims))
        except (InvalidSignature, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError("the token is not one this server signed") from exc


class Users:
    """The htpasswd file's users, read again when the file changes."""

    def __init__(self, path: str):
        self.path, self.stamp, self.hashes = path, None, {}
        self.lock = threading.Lock()

    def get(self, name: str) -> bytes | None:
        stat = os.stat(self.path)
        with self.lock:
            if (stat.st_mtime_ns, stat.st_size, stat.st_ino) != self.stamp:
                hashes = {}
                with open(self.path, encoding="utf-8") as file:
                    for line in file:
                        user, sep, hashed = line.rstrip("\n").partition(":")
                        if sep and BCRYPT.match(hashed):
                            hashes[user] = hashed.encode()
                self.hashes, self.stamp = hashes, (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            return self.hashes.get(name)


class TokenServer:
    def __init__(self, config: dict, now=time.time):
        self.config, self.now = config, now
        with open(config["key"], "rb") as key:
            self.signer = Signer(key.read(), config["certificate"].encode())
        self.users = Users(config["htpasswd"])
        self.rules = [dict(rule, compiled=re.compile(rule["regex"])) for rule in config["rules"]]
        self.robots = {robot["name"]: dict(robot, pull_regexes=[glob_regex(p) for p in robot["pull"] + robot["push"]],
                                           push_regexes=[glob_regex(p) for p in robot["push"]])
                       for robot in config["robots"]}

    # Who is asking.
    def authenticate(self, name: str, password: str) -> str:
        """The account's name once its password is right and, for a robot, its day has not passed; Refusal otherwise."""
        hashed = self.users.get(name)
        if not bcrypt.checkpw(password.encode(), hashed or DUMMY) or hashed is None:
            raise Refusal("401 Unauthorized", "wrong user name or password")
        self.check_robot(name)
        return name

    def check_robot(self, name: str) -> None:
        """A robot past its last day is refused: its password is right, so the answer is 403, not 401."""
        robot = self.robots.get(name)
        if robot is None:
            return
        today = datetime.datetime.fromtimestamp(self.now(), datetime.UTC).date()
        if today > datetime.date.fromisoformat(robot["expires"]):
            raise Refusal("403 Forbidden", f"robot {name} expired on {robot['expires']}: ask for a new one", "DENIED")

    # What it may do.
    def allowed(self, account: str, kind: str, name: str) -> set:
        if kind == "registry" and name == "catalog":
            return {"*"} if account in self.config.get("catalog", []) else set()
        if kind.split("(")[0] != "repository":
            return set()
        robot = self.robots.get(account)
        if robot:
            if any(regex.match(name) for regex in robot["push_regexes"]):
                return {"pull", "push", "delete"}
            return {"pull"} if any(regex.match(name) for regex in robot["pull_regexes"]) else set()
        rule = next((rule for rule in self.rules if rule["compiled"].match(name)), None)
        if rule is None:
            return set()
        if account in rule["push"]:
            return {"pull", "push", "delete"}
        return {"pull"} if account in rule["pull"] else set()

    def grant(self, account: str, scopes: list) -> tuple[list, list]:
        """The access a token holds, and the scopes (or parts of them) refused."""
        access, refused = [], []
        for scope in scopes:
            match = SCOPE.match(scope)
            if not match:
                raise Refusal("400 Bad Request", f"scope {scope!r} is not type:name:actions", "INVALID_REQUEST")
            kind, name, actions = match.group(1), match.group(2), match.group(3).split(",")
            allowed = self.allowed(account, kind, name)
            granted = [action for action in actions if action in allowed]
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
            if len(granted) < len(actions):
                refused.append(f"{kind}:{name}:{','.join(a for a in actions if a not in allowed)}")
        return access, refused

    def token(self, account: str, service: str, scopes: list, offline: bool) -> tuple[dict, list, list]:
        """The answer (its token, and a refresh token when offline), the access granted, the scopes refused."""
        if service != self.config["service"]:
            raise Refusal("400 Bad Request", f"service {service!r} is not this server's, {self.config['service']}",
                          "INVALID_REQUEST")
        access, refused = self.grant(account, scopes)
        now = int(self.now())
        lifetime = int(self.config["lifetime"])
        claims = {"iss": self.config["issuer"], "sub": account, "aud": service, "exp": now + lifetime,
                  "nbf": now - LEEWAY, "iat": now, "jti": secrets.token_hex(16), "access": access}
        token = self.signer.sign(claims)
        answer = {"token": token, "access_token": token, "expires_in": lifetime,
                  "issued_at": datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if offline:
            answer["refresh_token"] = self.signer.sign({
                "iss": self.config["issuer"], "sub": account, "aud": "refresh:" + service, "iat": now,
                "exp": now + int(self.config["refresh_lifetime"]), "jti": secrets.token_hex(16)})
        return answer, access, refused

    def refreshed(self, refresh_token: str, service: str) -> str:
        """The account a refresh token stands for, while it and the account are valid."""
        try:
            claims = self.signer.verify(refresh_token)
        except ValueError as exc:
            raise Refusal("401 Unauthorized", str(exc)) from exc
        if claims.get("aud") != "refresh:" + service or claims.get("exp", 0) < self.now():
            raise Refusal("401 Unauthorized", "the refresh token has expired, or is for another service: log in again")
        account = claims["sub"]
        if self.users.get(account) is None:
            raise Refusal("401 Unauthorized", f"{account} is no longer a user: log in again")
        self.check_robot(account)
        return account

    # The WSGI application.
    def __call__(self, environ, start_response):
        refused = []
        client = environ.get("HTTP_X_REAL_IP") or environ.get("REMOTE_ADDR") or "-"
        try:
            if environ.get("PATH_INFO") != "/token":
                raise Refusal("404 Not Found", "only /token is served here", "NOT_FOUND")
            method = environ["REQUEST_METHOD"]
            if method == "GET":
                answer, account, access, refused = self.get(environ)
            elif method == "POST":
                answer, account, access, refused = self.post(environ)
            else:
                raise Refusal("405 Method Not Allowed", "GET or POST /token", "UNSUPPORTED")
            status = "200 OK"
            # Who got what: the token mode's record of each login.
            print(f"{client} {account}: granted {' '.join(scope_text(entry) for entry in access) or 'nothing'}"
                  + (f", refused {' '.join(refused)}" if refused else ""), file=sys.stderr, flush=True)
        except Refusal as refusal:
            status, answer = refusal.status, {"errors": [{"code": refusal.code, "message": refusal.message}]}
            print(f"{client} refused: {refusal.message}", file=sys.stderr, flush=True)
        body = json.dumps(answer).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("Cache-Control", "no-store")]
        if status.startswith("401"):
            headers.append(("WWW-Authenticate", f'Basic realm="{self.config["service"]}"'))
        if refused:
            headers.append(("X-Dockyard-Refused", " ".join(refused)))
        start_response(status, headers)
        return [body]

    def get(self, environ):
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Basic "):
            raise Refusal("401 Unauthorized", "log in: this registry gives no token without a user name and password")
        try:
            name, sep, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Refusal("400 Bad Request", "the Authorization header is not Basic base64", "INVALID_REQUEST") from exc
        if not sep:
            raise Refusal("400 Bad Request", "the Authorization header is not user:password", "INVALID_REQUEST")
        account = self.authenticate(name, password)
        # Each scope in a parameter of its own (Docker), or several in one, space-separated.
        scopes = [scope for value in query.get("scope", []) for scope in value.split()]
        # No refresh token, though Docker's login asks for one (offline_token): Docker would keep it in
        # the password's place, and a host could pull no more once it expired.
        answer, access, refused = self.token(account, query.get("service", [""])[0], scopes, offline=False)
        return answer, account, access, refused

    def post(self, environ):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError as exc:
            raise Refusal("400 Bad Request", "no Content-Length", "INVALID_REQUEST") from exc
        if length > 65536:
            raise Refusal("413 Content Too Large", "the form is larger than 64 KiB", "INVALID_REQUEST")
        form = urllib.parse.parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"),
                                     keep_blank_values=True)

        def field(key):
            return form.get(key, [""])[0]

        service, scopes = field("service"), field("scope").split()
        if field("grant_type") == "password":
            account = self.authenticate(field("username"), field("password"))
        elif field("grant_type") == "refresh_token":
            account = self.refreshed(field("refresh_token"), service)
        else:
            raise Refusal("400 Bad Request", "grant_type is password or refresh_token", "INVALID_REQUEST")
        # A refresh keeps its refresh token: none is issued in its place.
        offline = field("access_type") == "offline" and field("grant_type") == "password"
        answer, access, refused = self.token(account, service, scopes, offline)
        answer["scope"] = " ".join(scope_text(entry) for entry in access)
        return answer, account, access, refused


def application_from(path: str) -> TokenServer:
    with open(path, encoding="utf-8") as file:
        return TokenServer(json.load(file))


if os.environ.get("DOCKYARD_TOKEN_CONFIG"):
    application = application_from(os.environ["DOCKYARD_TOKEN_CONFIG"])
