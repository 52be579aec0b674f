"""Contradictory role input fails at the start, with a sentence naming what to set.

Each case runs the real role with ansible-playbook against this machine in check
mode, so that even a validation gap could not change anything here.
"""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]



def issue(name, key, issuer_name, issuer_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


CA_KEY, INTERMEDIATE_KEY, LEAF_KEY, OTHER_KEY = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
CA = issue("Root", CA_KEY, "Root", CA_KEY, True)
INTERMEDIATE = issue("Intermediate", INTERMEDIATE_KEY, "Root", CA_KEY, True)
LEAF = issue("registry.example.com", LEAF_KEY, "Intermediate", INTERMEDIATE_KEY, False)
PROVIDED = {"registry_certs_mode": "provided", "registry_certs_certificate": pem(LEAF),
            "registry_certs_private_key": pem(LEAF_KEY)}

CASES = [
    ("registry", {"registry_config": {"http": {"prefix": "/registry/"}}},
     "a registry under a path prefix cannot be pushed to"),
    ("registry", {"registry_image": "registry:latest"},
     'set registry_major_version to "2" or "3"'),
    ("registry", {"registry_config": {"http": {"addr": ":443"}}},
     "Set registry_bind_address and registry_port"),
    ("registry", {"registry_config": {"storage": {"filesystem": {"rootdirectory": "/data"}}}},
     "Set registry_data_dir"),
    ("registry", {"registry_image_archive": "/nonexistent/registry-2.tar"},
     "does not exist on the controller"),
    ("registry", {"registry_auth": "htpasswd", "registry_users": []},
     "registry_users is empty, so nobody could log in"),
    ("registry", {"registry_proxy_remoteurl": "https://registry-1.docker.io/v2/", "registry_auth": "none"},
     "must be the root URL of a registry"),
    ("registry", {"registry_proxy_remoteurl": "https://registry-1.docker.io",
                  "registry_users": [{"name": "ci", "password": "pw"}]},
     "dockerd sends no credentials to a registry mirror"),
    ("registry", {"registry_proxy_remoteurl": "https://registry-1.docker.io", "registry_auth": "none",
                  "registry_proxy_ttl": "24h"},
     "distribution 2.x has no proxy ttl setting"),
    ("registry", {"registry_port": "five thousand"},
     "registry_port"),
    ("docker_engine", {"docker_engine_daemon_config": {"hosts": ["tcp://0.0.0.0:2375"]}},
     "already passes to dockerd on its command line"),
    ("docker_engine", {"docker_engine_daemon_config": {"debug": True},
                       "docker_engine_daemon_config_remove": ["debug"]},
     "is in both docker_engine_daemon_config and docker_engine_daemon_config_remove"),
    ("docker_engine", {"docker_engine_source": "snap"},
     "docker_engine_source"),
    ("registry_certs", {"registry_certs_names": ["registry.example.com:5000"]},
     "give bare host names or IP addresses"),
    ("registry_certs", {"registry_certs_mode": "provided"},
     "set registry_certs_certificate and registry_certs_private_key"),
    ("registry_certs", dict(PROVIDED, registry_certs_private_key=pem(OTHER_KEY)),
     "registry_certs_private_key does not match registry_certs_certificate"),
    ("registry_certs", dict(PROVIDED, registry_certs_chain=pem(CA) + pem(INTERMEDIATE)),
     "registry_certs_chain must start with the issuer of the certificate"),
    ("registry_frontend", {"registry_frontend_server_name": "example.com/registry"},
     "a registry under a path prefix cannot be pushed to"),
    ("registry_frontend", {"registry_frontend_auth": "anonymous_pull", "registry_auth": "none",
                           "registry_frontend_push_port": 5443},
     "registry_frontend_push_port 5443 needs registry_frontend_users"),
    ("registry_frontend", {"registry_frontend_auth": "anonymous_pull", "registry_auth": "htpasswd"},
     "set registry_auth to none"),
    ("registry_frontend", {"registry_frontend_auth": "registry", "registry_auth": "none"},
     "the registry would be open to anyone"),
    ("registry_frontend", {"registry_frontend_allow": ["office"]},
     "give IP addresses or CIDR networks"),
    ("registry_client", {"registry_client_registries": [{"address": "https://registry.example.com"}]},
     "must be host[:port] as in image names"),
    ("registry_client", {"registry_client_registries": [{"address": "registry", "username": "ci",
                                                          "password": "pw"}]},
     "so Docker reads \"registry/image\" as an image on Docker Hub"),
    ("registry_client", {"registry_client_registries": [{"address": "r.example.com", "username": "ci"}]},
     "has a username but no password"),
    ("registry_client", {"registry_client_mirrors": ["mirror.example.com"]},
     "dockerd wants the mirror's root URL with https://"),
    ("registry_client", {"registry_client_insecure_registries": ["http://build.lan:5000"]},
     "dockerd wants host[:port] as in image names (no scheme, no path) or a CIDR"),
    ("registry_client", {"registry_client_containerd_mirrors": [{"upstream": "https://ghcr.io",
                                                                  "mirror": "https://mirror.example.com"}]},
     "upstream must be a registry host such as ghcr.io"),
    ("registry_certs", {"registry_certs_mode": "acme", "registry_certs_acme_email": "ops@example.com"},
     "acme needs the registry's public DNS names in registry_certs_names (now: localhost)"),
    ("registry_certs", {"registry_certs_mode": "acme", "registry_certs_acme_email": "ops@example.com",
                        "registry_certs_names": ["registry.example.com", "192.0.2.10"]},
     "IP addresses and single-label host names cannot be validated"),
    ("registry_certs", {"registry_certs_mode": "acme", "registry_certs_names": ["registry.example.com"]},
     "acme needs registry_certs_acme_email"),
    ("registry_certs", {"registry_certs_mode": "acme", "registry_certs_names": ["registry.example.com"],
                        "registry_certs_acme_email": "ops@example.com", "registry_certs_acme_eab_kid": "kid-1"},
     "registry_certs_acme_eab_kid and registry_certs_acme_eab_hmac_key go together"),
    ("registry_frontend", {"registry_frontend_acme_webroot": "/var/lib/dockyard/acme-challenge",
                           "registry_frontend_http_port": 8080},
     "registry_frontend_http_port must be 80 (now 8080)"),
    ("registry_mirror", {"registry_certs_mode": "acme"}, "registry_certs_mode acme is for the registries group"),
    ("registry_mirror", {"registry_mirror_upstreams": [
        {"name": "hub", "remoteurl": "https://registry-1.docker.io", "port": 443},
        {"name": "ghcr", "remoteurl": "https://ghcr.io", "port": 443}]},
     "needs its own name and its own port"),
]


@pytest.mark.parametrize("role, extra_vars, message", CASES,
                         ids=[f"{c[0]}-{next(iter(c[1]))}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_fails_before_any_change(tmp_path, role, extra_vars, message):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"- hosts: localhost\n  gather_facts: {role == 'docker_engine'}\n  roles: [{role}]\n")
    inventory = tmp_path / "inventory"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "--check", "-i", str(inventory), str(playbook), "-e", json.dumps(extra_vars)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert message in output
    assert "changed=0" in output
