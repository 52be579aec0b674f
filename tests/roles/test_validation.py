"""Hostile and contradictory input stops the whole run before any host changes.

Each case is a host of an inventory for this machine, which stands in one
inventory for a registry host, a mirror host and a Docker client at once (a
Docker client alone in a case of the client settings; in check mode, even a
gap in the checks could not change anything here). A case passes when its
host is refused in the checks with the case's sentence, nothing was (or would
have been) changed, and none of the secrets planted in the inventory appears
in the output, which is -vvv.

The checks of every case run at once, one host each, through the tasks
playbooks/validate.yml runs (tests/roles/checks.yml, where one host's refusal
stops that host only). The real site.yml runs, with ansible-playbook --check,
the first case of each kind of setting and the cases that need this machine
by its own name, or another playbook: the run stops in the validation play,
and no later play starts. The cases of what the rollout reads also run
through playbooks/clients.yml on its own.
"""

import copy
import datetime
import fcntl
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
# The front-end role on its own: the inputs a registry instance sets for it.
FRONTEND = "tests/roles/frontend.yml"

# Every secret the inventory holds; none may appear in any output.
SECRETS = {
    "user": "PlantedUserPw7f3a",
    "client": "PlantedClientPw91c2",
    "upstream": "PlantedUpstreamPw44d0",
    "http": "PlantedHttpSecret0e8b5d",
    "eab": "PlantedEabHmacKey_b7c1e9d2",
    "s3": "PlantedS3SecretKey_5d2e8a",
    "redis": "PlantedRedisPassword_c41f",
    "notify": "PlantedNotifyToken_9a7e",
    "robot": "PlantedRobotPw_3e5a",
}

def users(*entries):
    return [{"name": name, "password": password} for name, password in entries]


# A valid estate: this machine is a registry host, a mirror host and a client.
BASE = {
    "registry_users": [{"name": "ci", "password": SECRETS["user"]}],
    "registry_http_secret": SECRETS["http"],
    "registry_certs_names": ["registry.example.com", "127.0.0.1"],
    "registry_client_registries": [{"address": "registry.example.com:443", "username": "ci",
                                    "password": SECRETS["client"]}],
    "registry_mirror_upstreams": [{"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 8443,
                                   "username": "bot", "password": SECRETS["upstream"]}],
}


def issue(name, key, issuer_name, issuer_key, ca, sans=(), days=1, ago=0):
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=ago)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


CA_KEY, INTERMEDIATE_KEY, LEAF_KEY, OTHER_KEY = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
CA = issue("Root", CA_KEY, "Root", CA_KEY, True)
INTERMEDIATE = issue("Intermediate", INTERMEDIATE_KEY, "Root", CA_KEY, True)
LEAF = issue("registry.example.com", LEAF_KEY, "Intermediate", INTERMEDIATE_KEY, False, ["registry.example.com"])
EXPIRED = issue("registry.example.com", LEAF_KEY, "Intermediate", INTERMEDIATE_KEY, False,
                ["registry.example.com"], days=1, ago=3)
KEY_PEM = pem(LEAF_KEY)
# The body of the private key, the part that must never be printed.
KEY_SECRET = "".join(KEY_PEM.splitlines()[1:-1])[20:60]
PROVIDED = {"registry_certs_mode": "provided", "registry_certs_names": ["registry.example.com"],
            "registry_certs_certificate": pem(LEAF), "registry_certs_chain": pem(INTERMEDIATE),
            "registry_certs_private_key": KEY_PEM}
ACME = {"registry_certs_mode": "acme", "registry_certs_names": ["registry.example.com"],
        "registry_certs_acme_email": "ops@example.com"}
ANONYMOUS_PULL = {"registry_auth": "none", "registry_frontend_auth": "anonymous_pull",
                  "registry_frontend_push_port": 5443, "registry_frontend_users": BASE["registry_users"]}
# Two replicas of one registry on S3 with a redis: this machine and replica-b.
S3 = {"registry_storage": "s3", "registry_s3_bucket": "images", "registry_s3_endpoint": "https://s3.example.com:7070",
      "registry_s3_access_key": "dockyard", "registry_s3_secret_key": SECRETS["s3"]}
REDIS = {"registry_redis_address": "10.0.0.9:6379", "registry_redis_password": SECRETS["redis"]}
SENTINELS = {"registry_image": "registry:3", "registry_redis_password": SECRETS["redis"],
             "registry_redis_sentinels": ["10.0.0.9:26379", "10.0.0.10:26379", "10.0.0.11:26379"]}
REPLICAS = dict(S3, **REDIS, registry_replicas=["localhost", "replica-b"], registry_bind_address="10.0.0.5")
DELETES = {"registry_config": {"storage": {"delete": {"enabled": True}}}}
RETENTION = dict(DELETES, registry_gc_schedule="Sun *-*-* 03:00", registry_retention_apply=True,
                 registry_retention_rules=[{"repositories": "ci/*", "keep_last": 10, "keep_tags": ["latest", "v[0-9].*"],
                                            "older_than": "30d"}, {"repositories": "*", "older_than": "52w"}])
REPLICA_B = dict(REPLICAS, registry_bind_address="10.0.0.6")
# Two teams and a CI user on one registry (docs/guides/teams.md).
TEAMS = {"registry_users": users(("ci", SECRETS["user"]), ("alice", SECRETS["user"]), ("bob", SECRETS["user"])),
         "registry_frontend_access_groups": {"team-a": ["alice"], "team-b": ["bob"]},
         "registry_frontend_access_catalog": ["ci"],
         "registry_frontend_access_rules": [{"repository": "team-a/*", "pull": ["ci"], "push": ["team-a"]},
                                            {"repository": "team-b/*", "pull": ["ci"], "push": ["team-b"]},
                                            {"repository": "base/*", "pull": ["team-a", "team-b"], "push": ["ci"]}],
         "registry_frontend_immutable_tags": [{"repository": "base/*", "tags": ["v*"], "except": ["*-rc*"],
                                               "users": ["team-a"]}]}
TEAMS_ANONYMOUS = dict(TEAMS, **dict(ANONYMOUS_PULL, registry_frontend_users=TEAMS["registry_users"]),
                       registry_frontend_access_rules=TEAMS["registry_frontend_access_rules"][:2]
                       + [{"repository": "base/*", "push": ["ci"], "anonymous": True}])
# The teams with token auth and a robot (docs/guides/teams.md); its date as
# YAML reads one unquoted.
ROBOT = {"name": "ci-bot", "password": SECRETS["robot"], "expires": datetime.date(2099, 12, 31), "pull": ["base/*"],
         "push": ["ci/*"]}
TOKEN = dict(TEAMS, registry_auth="token", registry_token_robots=[ROBOT],
             registry_frontend_immutable_tags=[{"repository": "base/*", "tags": ["v*"]}])
OBSERVED = {"registry_image": "registry:3", "registry_metrics_port": 5001, "registry_metrics_bind_address": "10.0.0.5",
            "registry_otlp_endpoint": "https://otel.example.com:4318", "registry_mirror_metrics_port_base": 5200,
            "registry_notifications_url": "https://audit.example.com/events",
            "registry_notifications_token": SECRETS["notify"]}
REDIS_SERVER = {"redis_server_bind_address": "10.0.0.9", "redis_server_password": SECRETS["redis"]}
GRAMMAR = {
    "instance": "is not valid: give 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit "
                "(it names a container, files and an nginx vhost).",
    "dir": "is not valid: give an absolute path of plain components (letters, digits, '.', '_', '+', '@', '-'; "
           "no '..', spaces or shell characters), below a system directory such as /srv, /var/lib or /etc, "
           "never the system directory itself.",
    "path": "is not valid: give an absolute path of plain components (letters, digits, '.', '_', '+', '@', '-'; "
            "no '..', spaces, quotes or shell characters).",
    "host": "is not valid: give a bare host name or IP address (letters, digits, '-' and '.'; no scheme, port, "
            "path or spaces).",
    "host_port": "is not valid: give host[:port] as in image names, e.g. registry.example.com:5000 or "
                 "[2001:db8::1]:443 (no scheme, path or spaces; port 1-65535).",
    "port": "is not valid: give a port number from 1 to 65535.",
    "port_or_zero": "is not valid: give a port number from 1 to 65535, or 0 for none.",
    "seconds": "is not valid: give a whole number of seconds from 0 to 3600.",
    "root_url": "is not valid: give the root URL of a registry, http(s)://host[:port], with no credentials, path, "
                "query or spaces (give an account in the username and password settings).",
    "https_root_url": "is not valid: give an https:// root URL, https://host[:port], with no credentials, path, "
                      "query or spaces.",
    "mirror_url": "is not valid: give an https:// root URL, https://host[:port], or one with the upstream's host as "
                  "its path, https://host[:port]/upstream (a mirror host's route), with no credentials, query or spaces.",
    "user": "is not valid: give 1 to 64 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or "
            "digit (no ':', spaces or line breaks).",
    "password": "is not valid: give 1 to 72 bytes (bcrypt ignores the rest) without line breaks or NUL.",
    "cidr": "is not valid: give an IP address or a CIDR network such as 10.0.0.0/8.",
    "image": "is not valid: give an image reference such as registry:2 or "
             "mirror.example.com/library/registry:3.0.0.",
}


CASES = [
    # registry: names and paths that would escape their directory or the container name
    ("name-dotdot", {"registry_name": ".."}, f'registry_name ".." {GRAMMAR["instance"]}'),
    ("name-shell", {"registry_name": "reg;reboot"}, f'registry_name "reg;reboot" {GRAMMAR["instance"]}'),
    ("name-newline", {"registry_name": "reg\nx"}, f'registry_name "reg\\nx" {GRAMMAR["instance"]}'),
    ("name-traversal", {"registry_name": "../../etc"}, f'registry_name "../../etc" {GRAMMAR["instance"]}'),
    ("data-root", {"registry_data_dir": "/"}, f'registry_data_dir "/" {GRAMMAR["dir"]}'),
    ("data-etc", {"registry_data_dir": "/etc"}, f'registry_data_dir "/etc" {GRAMMAR["dir"]}'),
    ("data-relative", {"registry_data_dir": "registry-data"}, f'registry_data_dir "registry-data" {GRAMMAR["dir"]}'),
    ("data-volume-spec", {"registry_data_dir": "/srv/reg:/etc"}, f'registry_data_dir "/srv/reg:/etc" {GRAMMAR["dir"]}'),
    ("data-docker", {"registry_data_dir": "/var/lib/docker/volumes"},
     f'registry_data_dir "/var/lib/docker/volumes" {GRAMMAR["dir"]}'),
    ("config-traversal", {"registry_config_dir": "/etc/dockyard/../../root"},
     f'registry_config_dir "/etc/dockyard/../../root" {GRAMMAR["dir"]}'),
    ("data-in-config", {"registry_data_dir": "/srv/registry/data", "registry_config_dir": "/srv/registry"},
     "registry_data_dir /srv/registry/data and registry_config_dir /srv/registry overlap; give each its own "
     "directory (images in one, config.yml and the HTTP secret in the other)."),
    ("upload-age", {"registry_gc_upload_age": "a week"},
     'registry_gc_upload_age "a week" is not valid: give a Go duration such as 168h or 90m.'),
    ("restore-word", {"registry_restore_archive": "latest"},
     'registry_restore_archive "latest" is not valid: give newest, or an absolute path of plain components'),
    ("restore-traversal", {"registry_restore_archive": "/var/backups/dockyard/../../etc/shadow"},
     'registry_restore_archive "/var/backups/dockyard/../../etc/shadow" is not valid: give newest, or an absolute'),
    ("bind-name", {"registry_bind_address": "localhost"},
     'registry_bind_address "localhost" is not valid: give an IP address such as 127.0.0.1 or 10.0.0.5.'),
    ("port-zero", {"registry_port": 0}, f'registry_port 0 {GRAMMAR["port"]}'),
    ("port-big", {"registry_port": 70000}, f'registry_port 70000 {GRAMMAR["port"]}'),
    ("port-word", {"registry_port": "five thousand"},
     'registry_port is the text "five thousand", but it takes a number: give it unquoted in the inventory, or as '
     'JSON on the command line, -e \'{"registry_port": ...}\''),
    ("image-newline", {"registry_image": "registry:2\nevil"}, f'registry_image "registry:2\\nevil" {GRAMMAR["image"]}'),
    ("image-upper", {"registry_image": "Registry:2"}, f'registry_image "Registry:2" {GRAMMAR["image"]}'),
    ("archive-name", {"registry_image_archive": "/tmp/registry 2.tar"},
     'registry_image_archive "registry 2.tar" is not valid: give a plain file name'),
    ("proxy-credentials", {"registry_proxy_remoteurl": "https://bot:PlantedUrlPw@registry-1.docker.io",
                           "registry_auth": "none"},
     f'registry_proxy_remoteurl "https://***@registry-1.docker.io" {GRAMMAR["root_url"]}'),
    ("proxy-path", {"registry_proxy_remoteurl": "https://registry-1.docker.io/v2/", "registry_auth": "none"},
     f'registry_proxy_remoteurl "https://registry-1.docker.io/v2/" {GRAMMAR["root_url"]}'),
    ("proxy-ttl", {"registry_proxy_ttl": "a week"},
     'registry_proxy_ttl "a week" is not valid: give a Go duration such as 168h or 90m.'),
    ("proxy-half-account", {"registry_proxy_remoteurl": "https://registry-1.docker.io", "registry_auth": "none",
                            "registry_users": [], "registry_proxy_username": "bot"},
     "registry_proxy_username and registry_proxy_password go together; set both or neither."),
    ("user-colon", {"registry_users": users(("ci:admin", SECRETS["user"]))},
     f'registry_users[0].name "ci:admin" {GRAMMAR["user"]}'),
    ("user-newline", {"registry_users": users(("ci\nadmin", SECRETS["user"]))},
     f'registry_users[0].name "ci\\nadmin" {GRAMMAR["user"]}'),
    ("user-twice", {"registry_users": users(("ci", SECRETS["user"]), ("ci", SECRETS["user"]))},
     'registry_users[1] repeats name "ci" of registry_users[0]: each must be listed once.'),
    ("users-as-strings", {"registry_users": ["ci " + SECRETS["user"]]},
     "Elements value for option 'registry_users' is of type str and we were unable to convert to dict"),
    ("password-long", {"registry_users": users(("ci", SECRETS["user"] * 5))},
     f'registry_users[0].password {GRAMMAR["password"]}'),
    ("password-empty", {"registry_users": users(("ci", ""))}, f'registry_users[0].password {GRAMMAR["password"]}'),
    ("password-cost", {"registry_password_cost": 20},
     "registry_password_cost 20 is not valid: give a bcrypt cost from 4 to 14 (each step doubles the time a password's "
     "check takes)."),
    ("http-secret-newline", {"registry_http_secret": SECRETS["http"] + "\nx"},
     "registry_http_secret is not valid: give 1 to 4096 characters without line breaks or other control characters."),
    ("config-auth-null", {"registry_config": {"auth": None}},
     "registry_config.auth must be a mapping, as in distribution's configuration reference (an auth type, a storage "
     "driver, ...). To run the registry without authentication, set registry_auth to none."),
    ("config-http-scalar", {"registry_config": {"http": "yes"}},
     "registry_config.http must be a mapping, as in distribution's configuration reference"),
    ("config-second-auth", {"registry_config": {"auth": {"silly": {"realm": "x", "service": "y"}}}},
     "The registry would get auth htpasswd and silly and storage filesystem, but distribution takes exactly one "
     "storage driver and at most one auth type."),
    ("config-second-storage", {"registry_config": {"storage": {"s3": {"bucket": "images"}}}},
     "The registry would get auth htpasswd and storage filesystem and s3, but distribution takes exactly one storage "
     "driver and at most one auth type."),
    ("config-empty-secret", {"registry_config": {"http": {"secret": ""}}},
     "registry_config.http.secret is set; set registry_http_secret instead (non-empty, in a vault), or leave it "
     "empty and the role generates one once and keeps it."),
    ("anonymous-published", {"registry_auth": "none", "registry_bind_address": "0.0.0.0", "registry_users": [],
                             "registry_frontend_auth": "anonymous_pull"},
     "registry_auth is none and registry_bind_address is 0.0.0.0: anyone who reaches that address could push and "
     "delete, past any front end."),
    ("prefix", {"registry_config": {"http": {"prefix": "/registry/"}}},
     "a registry under a path prefix cannot be pushed to"),
    ("version-unknown", {"registry_image": "registry:latest"},
     'Cannot tell the distribution version of registry_image "registry:latest" from its tag; set '
     'registry_major_version to "2" or "3".'),
    ("http-addr", {"registry_config": {"http": {"addr": ":443"}}},
     "registry_config.http.addr is set; the registry listens on :5000 inside its container. Set "
     "registry_bind_address and registry_port for the host side."),
    ("bool-as-text", {"registry_remove_data": "false"},
     'registry_remove_data is the text "false", but it takes true or false (a template reads any text but an empty '
     'one as true): give it unquoted in the inventory, or as JSON on the command line, -e \'{"registry_remove_data": '
     'false}\' (-e name=value passes text).'),
    ("number-as-text", {"registry_client_max_fail_percentage": "25"},
     'registry_client_max_fail_percentage is the text "25", but it takes a number: give it unquoted in the '
     'inventory, or as JSON on the command line, -e \'{"registry_client_max_fail_percentage": 25}\''),
    ("drain-forever", {"registry_drain_seconds": 86400}, f'registry_drain_seconds 86400 {GRAMMAR["seconds"]}'),
    ("drain-config", {"registry_config": {"http": {"draintimeout": "5m", "secret": "x" * 32}}},
     "registry_config.http.secret is set; set registry_http_secret instead (non-empty, in a vault), or leave it "
     "empty and the role generates one once and keeps it. registry_config.http.draintimeout is set; set "
     "registry_drain_seconds instead, which the container's stop timeout follows."),
    ("rootdirectory", {"registry_config": {"storage": {"filesystem": {"rootdirectory": "/data"}}}},
     "registry_config.storage.filesystem.rootdirectory is set; images would be written inside the container and "
     "lost with it. Set registry_data_dir for the host directory."),
    ("archive-missing", {"registry_image_archive": "/nonexistent/registry-2.tar"},
     'registry_image_archive "/nonexistent/registry-2.tar" does not exist on the controller.'),
    ("no-users", {"registry_users": []},
     "registry_auth is htpasswd but registry_users is empty, so nobody could log in."),
    ("proxy-users", {"registry_proxy_remoteurl": "https://registry-1.docker.io"},
     "dockerd sends no credentials to a registry mirror, so every pull would fail"),
    ("proxy-max-size", {"registry_proxy_max_size": "50 GB"},
     'registry_proxy_max_size "50 GB" is not valid: give a size such as 512m or 10g'),
    # registry_certs
    ("certs-port", {"registry_certs_names": ["registry.example.com:5000"]},
     f'registry_certs_names[0] "registry.example.com:5000" {GRAMMAR["host"]}'),
    ("certs-space", {"registry_certs_names": ["registry example"]},
     f'registry_certs_names[0] "registry example" {GRAMMAR["host"]}'),
    ("certs-none", {"registry_certs_names": []}, "registry_certs_names needs at least one name clients use"),
    ("certs-dir-shell", {"registry_certs_dir": "/etc/dockyard/tls/x;reboot"},
     f'registry_certs_dir "/etc/dockyard/tls/x;reboot" {GRAMMAR["dir"]}'),
    ("certs-renew", {"registry_certs_valid_days": 30, "registry_certs_renew_days": 30},
     "registry_certs_renew_days (30) must be below registry_certs_valid_days (30), or every converge would renew."),
    ("provided-empty", {"registry_certs_mode": "provided"},
     "registry_certs_mode is provided: set registry_certs_certificate (and registry_certs_chain, if any) to PEM text "
     "starting with -----BEGIN CERTIFICATE-----"),
    ("provided-garbage", dict(PROVIDED, registry_certs_certificate="-----BEGIN CERTIFICATE-----\nnot base64\n"
                                                                    "-----END CERTIFICATE-----\n"),
     "registry_certs_certificate is not a readable X.509 certificate: give the PEM text as the CA issued it"),
    ("provided-mismatch", dict(PROVIDED, registry_certs_private_key=pem(OTHER_KEY)),
     "registry_certs_private_key does not match registry_certs_certificate"),
    ("provided-chain-order", dict(PROVIDED, registry_certs_chain=pem(CA) + pem(INTERMEDIATE)),
     "registry_certs_chain must start with the issuer of the certificate"),
    ("provided-expired", dict(PROVIDED, registry_certs_certificate=pem(EXPIRED)),
     "registry_certs_certificate expired on"),
    ("provided-names", dict(PROVIDED, registry_certs_names=["registry.example.com", "registry.internal"]),
     "registry_certs_certificate does not cover registry.internal of registry_certs_names (its names: "
     "DNS:registry.example.com); clients would refuse the TLS handshake."),
    ("acme-localhost", dict(ACME, registry_certs_names=["localhost"]),
     "acme needs the registry's public DNS names in registry_certs_names (now: localhost)"),
    ("acme-ip", dict(ACME, registry_certs_names=["registry.example.com", "192.0.2.10"]),
     "IP addresses and single-label host names cannot be validated"),
    ("acme-no-email", dict(ACME, registry_certs_acme_email=""), "registry_certs_mode acme needs registry_certs_acme_email"),
    ("acme-email-injection", dict(ACME, registry_certs_acme_email="ops@example.com\nserver = https://evil.example"),
     'registry_certs_acme_email "ops@example.com\\nserver = https://evil.example" is not valid: give an e-mail address'),
    ("acme-directory-http", dict(ACME, registry_certs_acme_directory="http://acme.example.com/dir"),
     'registry_certs_acme_directory "http://acme.example.com/dir" is not valid: give an https:// URL'),
    ("acme-half-eab", dict(ACME, registry_certs_acme_eab_kid="kid-1"),
     "registry_certs_acme_eab_kid and registry_certs_acme_eab_hmac_key go together; set both or neither."),
    ("acme-eab-injection", dict(ACME, registry_certs_acme_eab_kid="kid-1",
                                registry_certs_acme_eab_hmac_key=SECRETS["eab"] + "\ndeploy-hook = reboot"),
     "registry_certs_acme_eab_hmac_key is not valid: give the CA's base64url HMAC key"),
    ("acme-webroot", dict(ACME, registry_certs_acme_webroot="acme"),
     f'registry_certs_acme_webroot "acme" {GRAMMAR["dir"]}'),
    ("acme-http-port", dict(ACME, registry_frontend_http_port=8080),
     "registry_frontend_http_port must be 80 (now 8080)"),
    # registry_frontend
    ("server-path", {"registry_frontend_server_name": "example.com/registry"},
     f'registry_frontend_server_name "example.com/registry" {GRAMMAR["host"]}'),
    ("upstream-injection", {"registry_frontend_upstreams": ["127.0.0.1:5000;\n}\nserver {\n listen 8081;"],
                            "playbook": FRONTEND},
     f'registry_frontend_upstreams[0] "127.0.0.1:5000;\\n}}\\nserver {{\\n listen 8081;" {GRAMMAR["host_port"]}'),
    ("certificate-injection", {"registry_frontend_certificate": "/etc/dockyard/tls/registry/fullchain.pem; include /x",
                               "playbook": FRONTEND},
     f'registry_frontend_certificate "/etc/dockyard/tls/registry/fullchain.pem; include /x" {GRAMMAR["path"]}'),
    ("vhost-name", {"registry_frontend_name": "my registry", "playbook": FRONTEND},
     f'registry_frontend_name "my registry" {GRAMMAR["instance"]}'),
    ("frontend-follows-registry", {"registry_frontend_name": "web", "registry_frontend_upstreams": ["127.0.0.1:5000"],
                                   "registry_frontend_registry_users": ["ci", "alice"]},
     "registry_frontend_name, registry_frontend_registry_users, registry_frontend_upstreams are set, but in a registry "
     "instance the front end takes its upstream, certificate, vhost name, ACME webroot and the users it knows from the "
     "registry"),
    ("allow-word", {"registry_frontend_allow": ["office"]}, f'registry_frontend_allow[0] "office" {GRAMMAR["cidr"]}'),
    ("allow-injection", {"registry_frontend_allow": ["10.0.0.0/8; allow all"]},
     f'registry_frontend_allow[0] "10.0.0.0/8; allow all" {GRAMMAR["cidr"]}'),
    ("ports-clash", {"registry_frontend_port": 5000},
     "registry_port (5000) is also a port of the front end (registry_frontend_port, registry_frontend_http_port or "
     "registry_frontend_push_port: 5000, 80): nginx and the registry cannot listen on one port."),
    ("frontend-ports-clash", {"registry_frontend_http_port": 443},
     "registry_frontend_port (443), registry_frontend_http_port (443) and registry_frontend_push_port (0) must all "
     "differ"),
    ("http-port-big", {"registry_frontend_http_port": 70000},
     'registry_frontend_http_port 70000 is not valid: give a port number from 1 to 65535, or 0 for none.'),
    ("audit-days", {"registry_frontend_audit_log_days": -1},
     "registry_frontend_audit_log_days -1 is not valid: give a whole number, 0 or more."),
    ("wrong-login-burst", {"registry_frontend_wrong_login_burst": -1},
     "registry_frontend_wrong_login_burst -1 is not valid: give a whole number, 0 or more."),
    ("push-no-users", dict(ANONYMOUS_PULL, registry_users=[], registry_frontend_users=[]),
     "registry_frontend_push_port 5443 needs registry_frontend_users"),
    ("push-user-name", dict(ANONYMOUS_PULL, registry_users=[], registry_frontend_users=users(("a b", SECRETS["user"]))),
     f'registry_frontend_users[0].name "a b" {GRAMMAR["user"]}'),
    ("two-auths", {"registry_frontend_auth": "anonymous_pull"}, "set registry_auth to none"),
    ("open-registry", {"registry_auth": "none", "registry_users": []}, "the registry would be open to anyone"),
    # registry_client
    ("client-scheme", {"registry_client_registries": [{"address": "https://registry.example.com"}]},
     f'registry_client_registries[0].address "https://registry.example.com" {GRAMMAR["host_port"]}'),
    ("client-traversal", {"registry_client_registries": [{"address": "../../etc"}]},
     f'registry_client_registries[0].address "../../etc" {GRAMMAR["host_port"]}'),
    ("client-hub", {"registry_client_registries": [{"address": "registry", "username": "ci",
                                                    "password": SECRETS["client"]}]},
     'so Docker reads "registry/image" as an image on Docker Hub'),
    ("client-no-password", {"registry_client_registries": [{"address": "r.example.com", "username": "ci"}]},
     "registry_client_registries r.example.com: username and password go together"),
    ("client-no-username", {"registry_client_registries": [{"address": "r.example.com",
                                                            "password": SECRETS["client"]}]},
     "registry_client_registries r.example.com: username and password go together"),
    ("client-password-newline", {"registry_client_registries": [
        {"address": "r.example.com", "username": "ci", "password": SECRETS["client"] + "\n"}]},
     "registry_client_registries[0].password is not valid: give 1 to 4096 characters without line breaks"),
    ("client-twice", {"registry_client_registries": [{"address": "r.example.com"}, {"address": "r.example.com"}]},
     'registry_client_registries[1] repeats address "r.example.com" of registry_client_registries[0]'),
    ("mirror-url", {"registry_client_mirrors": ["mirror.example.com"]},
     f'registry_client_mirrors[0] "mirror.example.com" {GRAMMAR["https_root_url"]}'),
    ("mirror-credentials", {"registry_client_mirrors": ["https://bot:PlantedMirrorPw@mirror.example.com"]},
     f'registry_client_mirrors[0] "https://***@mirror.example.com" {GRAMMAR["https_root_url"]}'),
    ("insecure-url", {"registry_client_insecure_registries": ["http://build.lan:5000"]},
     'registry_client_insecure_registries[0] "http://build.lan:5000" is not valid: give host[:port] as in image '
     "names, or a CIDR network such as 10.1.0.0/16 (no scheme or path)."),
    ("insecure-empty-string", {"registry_client_insecure_registries": ""},
     'registry_client_insecure_registries must be a list, not "".'),
    ("containerd-scheme", {"registry_client_upstream_mirrors": [{"upstream": "https://ghcr.io",
                                                                   "mirror": "https://mirror.example.com"}]},
     f'registry_client_upstream_mirrors[0].upstream "https://ghcr.io" {GRAMMAR["host_port"]}'),
    ("containerd-injection", {"registry_client_upstream_mirrors": [
        {"upstream": "ghcr.io", "mirror": 'https://m.example.com"]\n  skip_verify = true\n[x."a'}]},
     'registry_client_upstream_mirrors[0].mirror "https://m.example.com\\"]\\n  skip_verify = true\\n[x.\\"a" '
     + GRAMMAR["mirror_url"]),
    ("upstream-route-depth", {"registry_client_upstream_mirrors": [
        {"upstream": "ghcr.io", "mirror": "https://mirror.example.com/ghcr.io/extra"}]},
     f'registry_client_upstream_mirrors[0].mirror "https://mirror.example.com/ghcr.io/extra" {GRAMMAR["mirror_url"]}'),
    ("upstream-old-name", {"registry_client_containerd_mirrors": [
        {"upstream": "ghcr.io", "mirror": "https://mirror.example.com"}]},
     "registry_client_containerd_mirrors is now registry_client_upstream_mirrors: the same entries also point podman, "
     "buildah, skopeo and CRI-O at the mirrors. Rename the variable."),
    ("batches", {"registry_client_batches": [1, "0%"]},
     'registry_client_batches[1] "0%" is not valid: give a number of hosts, or a percentage of the group such as 25%.'),
    ("max-fail", {"registry_client_max_fail_percentage": 101},
     "registry_client_max_fail_percentage 101 is not valid: give a whole number from 0 to 100."),
    # the rollout's batches are play keywords, which read -e and the role's defaults only
    ("batches-in-inventory", {"registry_client_batches": [2]},
     'registry_client_batches is [2] for localhost in the inventory, but the rollout\'s play reads it only from the '
     'command line and the role\'s default, so it would run with [1, "25%"]: give it as '
     '-e \'{"registry_client_batches": [2]}\' and take it out of the inventory.'),
    ("max-fail-in-inventory", {"registry_client_max_fail_percentage": 10},
     "registry_client_max_fail_percentage is 10 for localhost in the inventory, but the rollout's play reads it only "
     "from the command line and the role's default, so it would run with 0"),
    ("containerd-no-mirror", {"registry_client_upstream_mirrors": [{"upstream": "ghcr.io"}]},
     "state is present but all of the following are missing: mirror found in registry_client_upstream_mirrors"),
    ("canary", {"registry_client_canary_image": "busybox latest"},
     f'registry_client_canary_image "busybox latest" {GRAMMAR["image"]}'),
    # registry_mirror
    ("mirror-host-url", {"registry_mirror_upstreams": [
        {"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 443, "host": "https://docker.io"}]},
     f'registry_mirror_upstreams[0].host "https://docker.io" {GRAMMAR["host_port"]}'),
    ("mirror-acme", dict(ACME, groups=["mirrors"]), "registry_certs_mode acme is for the registries group"),
    ("mirror-same-port", {"registry_mirror_upstreams": [
        {"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 8443},
        {"name": "ghcr", "remoteurl": "https://ghcr.io", "port": 8443}]},
     "Each of registry_mirror_upstreams needs its own port (now 8443, 8443)"),
    ("mirror-registry-port", {"registry_mirror_upstreams": [
        {"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 5101}]},
     "none may be one of the registries' loopback ports 5101-5101 (registry_mirror_registry_port_base)"),
    ("mirror-same-name", {"registry_mirror_upstreams": [
        {"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 8443},
        {"name": "hub", "remoteurl": "https://ghcr.io", "port": 8444}]},
     'registry_mirror_upstreams[1] repeats name "hub" of registry_mirror_upstreams[0]'),
    ("mirror-blob-cache-injection", {"registry_mirror_upstreams": [
        {"name": "ghcr", "remoteurl": "https://ghcr.io", "port": 8443, "blob_cache_size": "1g; include /etc/passwd"}]},
     'registry_frontend_blob_cache_size "1g; include /etc/passwd" is not valid: give a size such as 512m or 10g'),
    ("blob-cache-with-logins", {"registry_frontend_blob_cache_size": "1g", "playbook": FRONTEND},
     "registry_frontend_blob_cache_size is 1g, but nginx answers from that copy without asking the registry, so it "
     "serves only anonymous pulls: it needs registry_frontend_auth anonymous_pull (now registry)"),
    ("mirror-max-size", {"registry_mirror_upstreams": [
        {"name": "ghcr", "remoteurl": "https://ghcr.io", "port": 8443, "max_size": "-1"}]},
     'registry_mirror_upstreams[0].max_size "-1" is not valid: give a size such as 512m or 10g'),
    ("mirror-gc-schedule", {"registry_mirror_gc_schedule": "every hour"},
     'registry_gc_schedule "every hour" is not a calendar expression systemd takes'),
    ("mirror-name-dotdot", {"registry_mirror_upstreams": [{"name": "..", "remoteurl": "https://ghcr.io", "port": 8443}]},
     f'registry_mirror_upstreams[0].name ".." {GRAMMAR["instance"]}'),
    ("mirror-no-port", {"registry_mirror_upstreams": [{"name": "hub", "remoteurl": "https://registry-1.docker.io"}]},
     "state is present but all of the following are missing: port found in registry_mirror_upstreams"),
    ("mirror-state", {"registry_mirror_upstreams": [{"name": "hub", "state": "gone"}]},
     "value of state must be one of: present, absent, got: gone found in registry_mirror_upstreams"),
    ("mirror-second-url", {"registry_mirror_upstreams": [
        {"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 8443},
        {"name": "ghcr", "remoteurl": "https://bot:PlantedGhcrPw@ghcr.io/v2", "port": 8444}]},
     f'registry_mirror_upstreams[1].remoteurl "https://***@ghcr.io/v2" {GRAMMAR["root_url"]}'),
    # docker_engine
    ("daemon-hosts", {"docker_engine_daemon_config": {"hosts": ["tcp://0.0.0.0:2375"]}},
     'docker_engine_daemon_config sets "hosts", which docker.service already passes to dockerd on its command line'),
    ("daemon-containerd", {"docker_engine_daemon_config": {"containerd": "/run/containerd/containerd.sock"}},
     'docker_engine_daemon_config sets "containerd", which docker.service already passes to dockerd'),
    ("daemon-typo", {"docker_engine_daemon_config": {"live-restor": True}},
     'docker_engine_daemon_config sets "live-restor", which is no daemon.json key dockerd knows: dockerd would '
     "refuse to start (a misspelling?)."),
    ("daemon-type", {"docker_engine_daemon_config": {"live-restore": "yes"}},
     'docker_engine_daemon_config["live-restore"] is "yes", but dockerd wants true or false there and would '
     "refuse to start."),
    ("daemon-mirrors", {"docker_engine_daemon_config": {"registry-mirrors": ["https://m.example.com"]}},
     'docker_engine_daemon_config sets "registry-mirrors", which role registry_client owns'),
    ("daemon-set-and-remove", {"docker_engine_daemon_config": {"debug": True},
                               "docker_engine_daemon_config_remove": ["debug"]},
     "is in both docker_engine_daemon_config and docker_engine_daemon_config_remove"),
    ("engine-source", {"docker_engine_source": "snap"},
     "value of docker_engine_source must be one of: distribution, docker, got: snap"),
    ("engine-restart", {"docker_engine_restart": "sometimes"},
     "value of docker_engine_restart must be one of: safe, always, never, got: sometimes"),
    ("engine-repo", {"docker_engine_repo_url": "https://download.docker.com/ linux"},
     'docker_engine_repo_url "https://download.docker.com/ linux" is not valid: give an http(s):// URL'),
    # registry: S3 storage, replicas and their redis
    ("s3-without-bucket", dict(S3, registry_s3_bucket=""),
     "registry_storage is s3 but registry_s3_bucket is empty: set the bucket and the access key pair"),
    ("s3-without-keys", dict(S3, registry_s3_access_key="", registry_s3_secret_key=""),
     "registry_storage is s3 but registry_s3_access_key and registry_s3_secret_key are empty"),
    ("s3-bucket-name", dict(S3, registry_s3_bucket="Images_2"),
     'registry_s3_bucket "Images_2" is not valid: give an S3 bucket name'),
    ("s3-endpoint-path", dict(S3, registry_s3_endpoint="https://s3.example.com/images\nsecure: false"),
     'registry_s3_endpoint "https://s3.example.com/images\\nsecure: false" is not valid: give an http(s)://host[:port] URL'),
    ("s3-access-key-hidden", dict(S3, registry_s3_access_key=SECRETS["s3"] + "\nregion: x"),
     "registry_s3_access_key is not valid: give an access key id as the S3 service gave it"),
    ("s3-settings-without-s3", {"registry_s3_bucket": "images", "registry_s3_secret_key": SECRETS["s3"]},
     "registry_s3_bucket, registry_s3_secret_key are set but registry_storage is filesystem; set registry_storage to s3"),
    ("s3-and-filesystem", dict(S3, registry_config={"storage": {"filesystem": {"maxthreads": 100}}}),
     "and storage filesystem and s3, but distribution takes exactly one storage driver"),
    ("s3-small-parts", dict(S3, registry_s3_chunk_size=1048576),
     "registry_s3_chunk_size 1048576 is below 5242880 (5 MiB)"),
    ("s3-missing-ca", dict(S3, registry_s3_ca_file="/nonexistent/s3-ca.crt"),
     'registry_s3_ca_file "/nonexistent/s3-ca.crt" does not exist on the controller'),
    ("replicas-on-filesystem", {"registry_replicas": ["localhost", "replica-b"], "registry_bind_address": "10.0.0.5",
                                "registry_http_secret": ""},
     "registry_replicas names 2 hosts but registry_storage is filesystem: each replica would keep its own images."),
    ("replicas-without-this-host", dict(S3, registry_replicas=["replica-b", "replica-c"]),
     "registry_replicas (replica-b, replica-c) lists every host serving this registry, so it must include this one, "
     "localhost."),
    ("replica-on-loopback", dict(REPLICAS, registry_bind_address="127.0.0.1"),
     "registry_bind_address is 127.0.0.1, but the front ends of the other replicas reach this registry there"),
    ("replica-left-out", REPLICAS,
     "registry_replicas names replica-b, which this run did not check (not in the registries group, or left out by "
     "--limit): every replica must be in the run."),
    ("replicas-disagree", dict(REPLICAS, others={"replica-b": dict(REPLICA_B, registry_http_secret=SECRETS["client"])}),
     "serve one registry but differ in registry_replicas, registry_name, the storage"),
    ("replicas-disagree-retention",
     dict(REPLICAS, others={"replica-b": dict(REPLICA_B, registry_retention_rules=[{"repositories": "*",
                                                                                    "older_than": "30d"}])}),
     "registry_http_secret or the retention policy (registry_retention_rules): give every replica the same values."),
    ("redis-password-grammar", dict(REDIS, registry_redis_password="short\npw"),
     "registry_redis_password is not valid: give 16 to 512 letters, digits or punctuation"),
    ("redis-password-alone", {"registry_redis_password": SECRETS["redis"]},
     "registry_redis_password and registry_redis_db need registry_redis_address (host:port of the redis) "
     "or registry_redis_sentinels."),
    ("redis-sentinels-on-2x", dict(SENTINELS, registry_image="registry:2.8.3"),
     "registry_redis_sentinels needs distribution 3.x, but registry_image is registry:2.8.3: 2.x reads one redis "
     "address and would not follow a failover."),
    ("redis-address-and-sentinels", dict(SENTINELS, registry_redis_address="10.0.0.9:6379"),
     "registry_redis_address and registry_redis_sentinels are both set: give the sentinels alone"),
    ("log-formatter", {"registry_log_formatter": "xml"},
     "value of registry_log_formatter must be one of: text, json, logstash, got: xml"),
    # registry: metrics and traces
    ("metrics-everywhere", {"registry_metrics_port": 5001, "registry_metrics_bind_address": "0.0.0.0"},
     "registry_metrics_bind_address is 0.0.0.0, every address of the host, but the debug server asks no password"),
    ("metrics-registry-port", {"registry_metrics_port": 5000},
     "registry_metrics_port and registry_port are both 5000; give the metrics their own port."),
    ("metrics-frontend-port", {"registry_metrics_port": 443},
     "registry_metrics_port (443) is also a port of the front end"),
    ("metrics-debug-config", {"registry_config": {"http": {"debug": {"addr": "0.0.0.0:5001"}}}},
     "registry_config.http.debug is set; the debug server serves metrics, /debug/vars and /debug/pprof to anyone "
     "who reaches it."),
    ("metrics-port-big", {"registry_metrics_port": 65536}, f'registry_metrics_port 65536 {GRAMMAR["port_or_zero"]}'),
    ("removed-in-3x", {"registry_image": "registry:3",
                       "registry_config": {"reporting": {"bugsnag": {"apikey": "x"}}, "redis": {"pool": {"maxidle": 16}},
                                           "storage": {"cache": {"blobdescriptor": "inmemory"}}}},
     "registry_config.reporting, registry_config.redis.pool: distribution 3.x (registry_image registry:3) no longer "
     "reads them, and would ignore them or fail to start. Remove them (docs/guides/upgrading.md)."),
    ("removed-driver-in-3x", {"registry_image": "registry:3", "registry_config": {"storage": {"swift": {}}}},
     "registry_config.storage.swift: distribution 3.x (registry_image registry:3) no longer reads it"),
    ("otlp-2x", {"registry_otlp_endpoint": "http://otel.example.com:4318"},
     "registry_otlp_endpoint is set, but distribution 2.x sends no traces"),
    ("notifications-token-alone", {"registry_notifications_token": SECRETS["http"] + "x"},
     "registry_notifications_token is set, but registry_notifications_url is empty"),
    ("notifications-twice", {"registry_notifications_url": "https://audit.example.com/events",
                             "registry_config": {"notifications": {"endpoints": []}}},
     "registry_notifications_url and registry_config.notifications are both set"),
    ("notifications-url", {"registry_notifications_url": "https://bot:PlantedUrlPw@audit.example.com/events"},
     'registry_notifications_url "https://***@audit.example.com/events" is not valid: give an http(s):// URL'),
    ("notifications-token-newline", {"registry_notifications_url": "https://audit.example.com/events",
                                     "registry_notifications_token": SECRETS["http"] + "\nX-Other: 1"},
     "registry_notifications_token is not valid: give 1 to 4096 characters without line breaks"),
    ("otlp-newline", {"registry_image": "registry:3", "registry_otlp_endpoint": "http://otel:4318\nOTEL_X=1"},
     'registry_otlp_endpoint "http://otel:4318\\nOTEL_X=1" is not valid: give an http(s):// URL'),
    ("mirror-metrics-ports", {"registry_mirror_metrics_port_base": 5100},
     "or of their metrics ports 5101-5101 (registry_mirror_metrics_port_base), which must not overlap either"),
    # access rules
    ("access-unknown-user", dict(TEAMS, registry_frontend_access_rules=[{"repository": "team-a/*", "push": ["carol"]}]),
     'registry_frontend_access_rules[0] (team-a/*).push names "carol", neither a user in registry_users '
     "(registry_frontend_registry_users) nor a group of registry_frontend_access_groups."),
    ("access-unknown-member", dict(TEAMS, registry_frontend_access_groups={"team-a": ["alice", "anna"]}),
     'registry_frontend_access_groups["team-a"] lists "anna", not in registry_users (registry_frontend_registry_users)'),
    ("access-group-is-user", dict(TEAMS, registry_frontend_access_groups={"ci": ["alice"]}),
     'registry_frontend_access_groups names a group "ci", which is also a user name'),
    ("access-pattern-twice", dict(TEAMS, registry_frontend_access_rules=[{"repository": "base/*", "pull": ["ci"]},
                                                                         {"repository": "base/*", "push": ["ci"]}]),
     "registry_frontend_access_rules[1] (base/*) repeats the pattern of registry_frontend_access_rules[0]"),
    ("access-anonymous-registry-auth",
     dict(TEAMS, registry_frontend_access_rules=[{"repository": "base/*", "anonymous": True}]),
     "registry_frontend_access_rules[0] (base/*) lets anonymous requests pull, but with registry_frontend_auth "
     "registry the registry asks every request for a password"),
    ("access-unknown-anonymous-user",
     dict(TEAMS_ANONYMOUS, registry_frontend_users=users(("ci", SECRETS["user"]))),
     'registry_frontend_access_groups["team-a"] lists "alice", not in registry_frontend_users: add the user there'),
    ("access-catalog-unknown", dict(TEAMS, registry_frontend_access_catalog=["admins"]),
     'registry_frontend_access_catalog names "admins", neither a user'),
    ("access-pattern-injection",
     dict(TEAMS, registry_frontend_access_rules=[{"repository": 'base/*" 1;\n}\nmap $x $y {', "pull": ["ci"]}]),
     'registry_frontend_access_rules[0].repository "base/*\\" 1;\\n}\\nmap $x $y {" is not valid: give a repository name'),
    ("access-glob-class", dict(TEAMS, registry_frontend_access_rules=[{"repository": "team-[ab]/*", "pull": ["ci"]}]),
     'registry_frontend_access_rules[0].repository "team-[ab]/*" is not valid: give a repository name, or one with'),
    ("access-user-injection", dict(TEAMS, registry_frontend_access_rules=[{"repository": "base/*", "pull": ['ci" 1; "~']}]),
     'registry_frontend_access_rules[0].pull[0] "ci\\" 1; \\"~" is not valid: give 1 to 64 letters'),
    ("access-unknown-field", dict(TEAMS, registry_frontend_access_rules=[{"repository": "base/*", "pulls": ["ci"]}]),
     "registry_frontend_access_rules.pulls"),
    ("immutable-unknown-user", dict(TEAMS, registry_frontend_immutable_tags=[{"repository": "base/*", "users": ["carol"]}]),
     'registry_frontend_immutable_tags[0] (base/*).users names "carol", neither a user in registry_users '
     "(registry_frontend_registry_users) nor a group of registry_frontend_access_groups."),
    ("immutable-pattern-twice", dict(TEAMS, registry_frontend_immutable_tags=[{"repository": "base/*"},
                                                                             {"repository": "base/*", "tags": ["v*"]}]),
     "registry_frontend_immutable_tags[1] (base/*) repeats the pattern of registry_frontend_immutable_tags[0]"),
    ("immutable-no-tags", dict(TEAMS, registry_frontend_immutable_tags=[{"repository": "base/*", "tags": []}]),
     "registry_frontend_immutable_tags[0] (base/*) has an empty tags list, which guards no tag"),
    ("immutable-tag-injection",
     dict(TEAMS, registry_frontend_immutable_tags=[{"repository": "base/*", "except": ['latest" tag;\n}']}]),
     'registry_frontend_immutable_tags[0].except[0] "latest\\" tag;\\n}" is not valid: give a tag, or one with'),
    ("immutable-unknown-field", dict(TEAMS, registry_frontend_immutable_tags=[{"repository": "base/*", "tag": ["v*"]}]),
     "registry_frontend_immutable_tags.tag"),
    # token auth and its robots
    ("token-robot-expired", dict(TOKEN, registry_token_robots=[dict(ROBOT, expires=datetime.date(2020, 1, 31))]),
     "registry_token_robots: ci-bot expired before today"),
    ("token-robot-expired-text", dict(TOKEN, registry_token_robots=[dict(ROBOT, expires="2020-01-31")]),
     "registry_token_robots: ci-bot expired before today"),
    ("token-robot-date", dict(TOKEN, registry_token_robots=[dict(ROBOT, expires="31/12/2099")]),
     'registry_token_robots[0].expires "31/12/2099" is not valid: give a day such as 2027-06-30 (YYYY-MM-DD).'),
    ("token-robot-user-name", dict(TOKEN, registry_token_robots=[dict(ROBOT, name="alice")]),
     "registry_token_robots names alice, also a user of registry_users: give the robot another name."),
    ("token-robot-idle", dict(TOKEN, registry_token_robots=[{"name": "ci-bot", "password": SECRETS["robot"],
                                                             "expires": "2099-12-31"}]),
     "registry_token_robots: ci-bot may neither pull nor push"),
    ("token-robot-pattern", dict(TOKEN, registry_token_robots=[dict(ROBOT, push=['ci/*"\n'])]),
     'registry_token_robots[0].push[0] "ci/*\\"\\n" is not valid: give a repository name, or one with'),
    ("token-robot-password", dict(TOKEN, registry_token_robots=[dict(ROBOT, password=SECRETS["robot"] + "\n")]),
     "registry_token_robots[0].password is not valid: give 1 to 72 bytes"),
    ("token-lifetime", dict(TOKEN, registry_token_lifetime=30),
     "registry_token_lifetime is 30: a token must last at least 60 seconds"),
    ("token-nobody", dict(TOKEN, registry_users=[], registry_token_robots=[], registry_frontend_access_rules=[],
                          registry_frontend_access_groups={}, registry_frontend_access_catalog=[]),
     "registry_auth is token but registry_users and registry_token_robots are empty, so nobody could get a token."),
    ("token-anonymous-pull", dict(ANONYMOUS_PULL, registry_auth="token"),
     "registry_frontend_auth is anonymous_pull, so nginx lets anyone pull; set registry_auth to none"),
    ("token-immutable-users", dict(TEAMS, registry_auth="token"),
     "registry_frontend_immutable_tags exempts users, but with registry_auth token a request brings a token"),
    ("token-realm-set", dict(TOKEN, registry_token_realm="https://evil.example.com/token"),
     "registry_token_realm is set, but in a registry instance the front end takes its upstream"),
    # retention and garbage collection
    ("retention-unbounded", {"registry_retention_rules": [{"repositories": "ci/*", "keep_tags": ["latest"]}]},
     "registry_retention_rules[0] (ci/*) sets neither keep_last above 0 nor older_than, so every tag keep_tags does "
     "not name would go"),
    ("retention-regex", {"registry_retention_rules": [{"repositories": "ci/*", "keep_last": 3, "keep_tags": ["v[0-9"]}]},
     'registry_retention_rules[0].keep_tags[0] "v[0-9" is not valid: give a (Python) regular expression'),
    ("retention-age", {"registry_retention_rules": [{"repositories": "ci/*", "older_than": "30 days"}]},
     'registry_retention_rules[0].older_than "30 days" is not valid: give a number and a unit, s, m, h, d or w'),
    ("retention-pattern", {"registry_retention_rules": [{"repositories": "ci/*\n- repositories: '*'", "keep_last": 1}]},
     "registry_retention_rules[0].repositories \"ci/*\\n- repositories: '*'\" is not valid: give a shell pattern"),
    ("gc-schedule-injection", dict(DELETES, registry_gc_schedule="daily\nExecStartPre=/bin/sh -c id"),
     'registry_gc_schedule "daily\\nExecStartPre=/bin/sh -c id" is not valid: give a systemd calendar expression'),
    ("gc-schedule-unknown", dict(DELETES, registry_gc_schedule="Sunday noon-ish"),
     'registry_gc_schedule "Sunday noon-ish" is not a calendar expression systemd takes'),
    ("gc-schedule-without-deletes", {"registry_gc_schedule": "daily"},
     "registry_gc_schedule is set, but the registry refuses deletes, so nothing could be collected: set "
     "registry_config: {storage: {delete: {enabled: true}}}."),
    ("gc-schedule-replicas", dict(REPLICAS, registry_config=DELETES["registry_config"], registry_gc_schedule="daily"),
     "registry_gc_schedule is set, but registry_replicas names localhost, replica-b: a timer on one host cannot "
     "make every replica read-only."),
    # redis_server
    ("redis-server-without-password", dict(REDIS_SERVER, redis_server_password="",
                                           groups=["registries", "mirrors", "docker_clients", "redis_servers"]),
     "redis_server_password is empty: redis listens on one private address and asks every client for a password"),
    ("redis-server-everywhere", dict(REDIS_SERVER, redis_server_bind_address="0.0.0.0", groups=["redis_servers"]),
     "redis_server_bind_address is 0.0.0.0: redis would answer on every network."),
    ("redis-group-too-small", dict(REDIS_SERVER, redis_server_group=["redis-group-too-small"] * 3,
                                   groups=["redis_servers"]),
     "list every redis server of the group, redis-group-too-small included, at least three different hosts"),
    ("redis-sentinel-port", dict(REDIS_SERVER, redis_server_sentinel_port=6379, redis_server_group=["a", "b", "c"],
                                 groups=["redis_servers"]),
     "redis_server_sentinel_port and redis_server_port are both 6379."),
    ("redis-server-memory", dict(REDIS_SERVER, redis_server_maxmemory="lots", groups=["redis_servers"]),
     'redis_server_maxmemory "lots" is not valid: give a redis memory size such as 512mb or 2gb'),
    ("redis-server-password-quote", dict(REDIS_SERVER, redis_server_password=SECRETS["redis"] + '" rename-command',
                                         groups=["redis_servers"]),
     "redis_server_password is not valid: give 16 to 512 letters, digits or punctuation (no spaces, quotes or "
     "backslashes)."),
]


def inventory_hosts(name, host_vars):
    """The inventory hosts of one case, this machine as name: {host: (vars, groups)}."""
    # Mirror hosts take no ACME certificates: in acme cases this machine is no
    # mirror, unless the case says which groups it is in.
    host_vars = dict(host_vars)
    groups = host_vars.pop("groups", ["registries", "docker_clients"]
                           + ([] if host_vars.get("registry_certs_mode") == "acme" else ["mirrors"]))
    # Other hosts of the estate (replicas), in the same groups, also this machine.
    hosts = {other: (dict(copy.deepcopy(BASE), **values), groups)
             for other, values in host_vars.pop("others", {}).items()}
    hosts[name] = (host_vars, groups)
    return hosts


def run(tmp_path, hosts, playbook="site.yml", options=()):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    children = {}
    for host, (_, groups) in hosts.items():
        for group in groups:
            children.setdefault(group, {"hosts": {}})["hosts"][host] = {}
    inventory = {"all": {"hosts": {host: dict(values, **local) for host, (values, _) in hosts.items()},
                         "children": children}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_CALLBACK_FORMAT_PRETTY="0")
    result = subprocess.run(
        [ANSIBLE_PLAYBOOK, "--check", "-vvv", "-i", str(tmp_path / "inventory.yml"), *options, playbook],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=900)
    return result, result.stdout + result.stderr


def failure_messages(output):
    """Each refused host's sentence, its spaces folded: {host: message}."""
    messages = {}
    for line in output.splitlines():
        head, sep, payload = line.partition("FAILED! => ")
        if sep and head.startswith("fatal: ["):
            messages[head[len("fatal: ["):head.index("]")]] = " ".join(json.loads(payload).get("msg", "").split())
    return messages


def assert_refused(output, host, message):
    messages = failure_messages(output)
    assert host in messages, f"{host} was not refused: {output[-3000:]}"
    assert " ".join(message.split()) in messages[host], messages[host]
    assert re.search(rf"^{re.escape(host)} +: .* changed=0 ", output[output.rindex("PLAY RECAP"):], re.M)


def assert_no_secret(output, secrets):
    for secret in secrets:
        assert secret not in output, f"a planted secret appears in the output: {secret[:8]}..."


ALL_SECRETS = list(SECRETS.values()) + [KEY_SECRET, "PlantedUrlPw", "PlantedMirrorPw", "PlantedGhcrPw"]


def case_vars(extra):
    host_vars = copy.deepcopy(BASE)
    # A case of the client settings alone: this machine is a Docker host of the fleet, and nothing else.
    if extra and all(key.startswith("registry_client_") for key in extra):
        host_vars["groups"] = ["docker_clients"]
    host_vars.update(copy.deepcopy(extra))
    return host_vars


def alone(case):
    """A case that needs another playbook, other hosts, or this machine by its name (localhost)."""
    name, extra, message = case
    return bool({"playbook", "others", "registry_replicas"} & set(extra)) or "for localhost" in message


# Through site.yml: the first case of each kind of setting (CASES groups
# them), the number given as text, and every case that must run alone.
FIRST_OF_EACH_KIND = ["name-dotdot", "certs-port", "server-path", "client-scheme", "mirror-host-url", "daemon-hosts",
                      "s3-without-bucket", "metrics-everywhere", "access-unknown-user", "retention-unbounded",
                      "redis-server-without-password", "port-word"]
SITE_CASES = [case for case in CASES if case[0] in FIRST_OF_EACH_KIND or alone(case)]


# The cases that share runs of the checks, so many hosts a run (ansible's
# time a host grows with the inventory beyond a few dozen hosts). The first
# test of a run's cases makes it, in whichever pytest-xdist worker, and keeps
# its output where every worker finds it.
SHARED = [case for case in CASES if not alone(case)]
HOSTS_A_RUN = 25


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    # A pytest-xdist worker's base is in the run's, which the workers share.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@functools.cache
def checks_run(shared_dir, first):
    kept = shared_dir / f"checks-{first}.json"
    with open(shared_dir / f"checks-{first}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            hosts = {}
            for name, extra, _ in SHARED[first:first + HOSTS_A_RUN]:
                hosts.update(inventory_hosts(name, case_vars(extra)))
            run_dir = shared_dir / f"checks-{first}"
            run_dir.mkdir()
            result, output = run(run_dir, hosts, playbook="tests/roles/checks.yml")
            kept.write_text(json.dumps([result.returncode, output]))
    return json.loads(kept.read_text())


@pytest.mark.parametrize("index, name, message", [(index, name, message) for index, (name, _, message)
                                                  in enumerate(SHARED)], ids=[case[0] for case in SHARED])
def test_hostile_input_is_refused_by_the_checks(shared_dir, index, name, message):
    returncode, output = checks_run(shared_dir, index - index % HOSTS_A_RUN)
    assert returncode == 2, output[-3000:]
    assert_refused(output, name, message)
    assert_no_secret(output, ALL_SECRETS)


@pytest.mark.parametrize("extra, message", [c[1:] for c in SITE_CASES], ids=[c[0] for c in SITE_CASES])
def test_hostile_input_stops_the_run_before_any_host_changes(tmp_path, extra, message):
    extra = dict(extra)
    playbook = extra.pop("playbook", "site.yml")
    result, output = run(tmp_path, inventory_hosts("localhost", case_vars(extra)), playbook=playbook)
    assert result.returncode == 2, output[-3000:]
    assert_refused(output, "localhost", message)
    assert "changed=0" in output[output.rindex("PLAY RECAP"):]
    assert "PLAY [Install Docker Engine" not in output
    assert_no_secret(output, ALL_SECRETS)


# playbooks/clients.yml on its own checks what the rollout reads: the client
# settings (Docker Engine's among them) and the caches its pre-flight asks.
ROLLOUT_CASES = ["number-as-text", "client-traversal", "client-hub", "client-no-password", "client-password-newline",
                 "mirror-url", "mirror-credentials", "containerd-injection", "batches", "canary", "mirror-same-port",
                 "mirror-second-url", "batches-in-inventory", "daemon-hosts", "engine-source"]


@pytest.mark.parametrize("name", ROLLOUT_CASES)
def test_hostile_input_stops_the_rollout_before_any_host_changes(tmp_path, name):
    extra, message = next(case[1:] for case in CASES if case[0] == name)
    result, output = run(tmp_path, inventory_hosts("localhost", case_vars(extra)), playbook="playbooks/clients.yml")
    assert result.returncode == 2, output[-3000:]
    assert_refused(output, "localhost", message)
    assert "PLAY [Check that every mirror answers" not in output
    assert_no_secret(output, ALL_SECRETS)


# Entries in state absent need nothing but the name that finds what to remove.
REMOVALS = {
    "registry_mirror_upstreams": BASE["registry_mirror_upstreams"] + [{"name": "old", "state": "absent",
                                                                       "remove_data": True}],
    "registry_client_registries": BASE["registry_client_registries"] + [{"address": "old.example.com",
                                                                         "state": "absent"}],
    "registry_client_upstream_mirrors": [{"upstream": "quay.io", "state": "absent"}],
}


@pytest.mark.parametrize("extra", [{}, PROVIDED, dict(ACME, registry_certs_names=["Registry.Example.COM."]),
                                   dict(ANONYMOUS_PULL, registry_users=[]), REMOVALS,
                                   dict(REPLICAS, others={"replica-b": dict(REPLICA_B, **REDIS_SERVER)},
                                        groups=["registries", "docker_clients", "redis_servers"], **REDIS_SERVER),
                                   RETENTION, OBSERVED, TEAMS, dict(TEAMS_ANONYMOUS, registry_users=[]), TOKEN],
                         ids=["selfsigned", "provided", "acme-upper-case-name", "anonymous-pull", "removals",
                              "replicas", "retention", "metrics-and-traces", "access-rules", "access-rules-anonymous",
                              "token"])
def test_valid_input_passes_every_check_without_printing_a_secret(tmp_path, extra):
    result, output = run(tmp_path, inventory_hosts("localhost", case_vars(extra)), playbook="playbooks/validate.yml")
    assert result.returncode == 0, output[-3000:]
    assert "ok=" in output[output.rindex("PLAY RECAP"):]
    assert_no_secret(output, list(SECRETS.values()) + [KEY_SECRET])


def test_rollout_keywords_given_on_the_command_line_pass(tmp_path):
    given = {"registry_client_batches": [2, "50%"], "registry_client_max_fail_percentage": 10}
    result, output = run(tmp_path, inventory_hosts("localhost", case_vars({"registry_client_batches": [3]})),
                         playbook="playbooks/clients.yml",
                         options=["-e", json.dumps(given)])
    # Past every check (the pre-flight then finds no cache answering on this machine).
    assert "PLAY [Check that every mirror answers" in output, output[-3000:]
    assert "in the inventory, but the rollout's play" not in output
