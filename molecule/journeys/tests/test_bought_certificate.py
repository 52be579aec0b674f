"""The journey "one registry with a bought certificate": the registry serves the certificate and chain the
operator brought, the Docker host trusts it through the CA's root alone and pushes and pulls as the CI user,
the secrets stay encrypted in the inventory, and no secret reached the output."""

import json
import os
from pathlib import Path

testinfra_hosts = ["ansible://fleet-mirror"]
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = EPHEMERAL / "journeys" / "bought-certificate" / "inventory"
REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys"
CONVERGE = (Path(__file__).resolve().parents[1] / "converge.yml").read_text()


def test_the_vault_and_the_private_key_stay_encrypted_in_the_inventory():
    for path in ["group_vars/all/vault.yml", "files/registry.key"]:
        assert (INVENTORY / path).read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n"), path


def test_no_secret_reached_the_output():
    key = (EPHEMERAL / "pki" / "registry.fleet.test.key").read_text()
    secrets = ["journey-vault-pw-5e0c1a", "replace-me-ci-password", "".join(key.splitlines()[1:-1])[10:50]]
    assert secrets[0] in CONVERGE  # the vault password the converge types
    outputs = [step["output"] for run in ["", "-again"]
               for step in json.loads((REPORTS / f"bought-certificate{run}.json").read_text())]
    for secret in secrets:
        assert not any(secret in output for output in outputs), secret[:6]


def test_the_registry_serves_the_bought_certificate_and_its_chain_to_a_host_that_trusts_only_the_root(host):
    issuer = host.check_output(
        "python3 -c 'import socket, ssl; "
        'context = ssl.create_default_context(cafile="/etc/docker/certs.d/registry.fleet.test/ca.crt"); '
        'tls = context.wrap_socket(socket.create_connection(("registry.fleet.test", 443)), '
        'server_hostname="registry.fleet.test"); '
        "print(dict(field[0] for field in tls.getpeercert()[\"issuer\"])[\"commonName\"])'")
    assert issuer == "Test intermediate CA"


def test_the_docker_host_pushes_and_pulls_as_the_ci_user(host):
    image = "registry.fleet.test/base/busybox"
    host.check_output(f"docker load -i /root/busybox.tar && docker tag dockyard-test/busybox {image}")
    host.check_output(f"docker push {image} && docker rmi {image}")
    assert image in host.check_output(f"docker pull {image}")


def test_the_registry_refuses_a_wrong_password(host):
    answer = json.loads(host.check_output(
        "probe https://registry.fleet.test/v2/ --user ci:wrong"
        " --cafile /etc/docker/certs.d/registry.fleet.test/ca.crt"))
    assert answer["status"] == 401
