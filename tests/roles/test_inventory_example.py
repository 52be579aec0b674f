"""inventory.example works as its hosts.yml says: copied, its host names and its
vault filled in, it passes every check; as shipped, it is refused before any
host is reached.

Each case copies the example as an operator does (cp -r inventory.example
inventory) and runs the real ansible-inventory or ansible-playbook on it, the
hosts pointed at this machine (a local connection) in host_vars of the copy.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOSTS = {"registry.replace-me.invalid": "registry.internal", "mirror.replace-me.invalid": "mirror.internal",
         "client.replace-me.invalid": "client.internal"}
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
           ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_FORMAT_PRETTY="0")


def copy(tmp_path, fill=True):
    """The example copied; with fill, its host names replaced and its vault filled in, as hosts.yml says."""
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory.example", inventory)
    if fill:
        hosts = (inventory / "hosts.yml").read_text()
        for placeholder, name in HOSTS.items():
            hosts = hosts.replace(placeholder, name)
        (inventory / "hosts.yml").write_text(hosts)
        vault = inventory / "group_vars" / "all" / "vault.yml"
        vault.write_text(vault.read_text().replace('vault_ci_password: ""', 'vault_ci_password: "Filled-in-7c1e"'))
        # What a first run leaves beside hosts.yml: the CA certificates it exported.
        (inventory / "files").mkdir()
        for name in ("registry-ca.crt", "mirror-ca.crt"):
            (inventory / "files" / name).write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        (inventory / "host_vars").mkdir()
        for name in HOSTS.values():
            (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(
                {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}))
    return inventory


def run(*command):
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.mark.parametrize("host, settings", [
    ("registry.internal", {"registry_users", "registry_certs_ca_export", "docker_engine_daemon_config"}),
    ("mirror.internal", {"registry_mirror_upstreams", "registry_certs_ca_export", "docker_engine_daemon_config"}),
    ("client.internal", {"registry_client_registries", "registry_client_mirrors", "docker_engine_daemon_config"}),
])
def test_each_host_reads_its_groups_settings_and_the_vault(tmp_path, host, settings):
    result = run("ansible-inventory", "-i", str(copy(tmp_path)), "--host", host)
    assert result.returncode == 0, result.stderr
    assert settings | {"vault_ci_password"} <= set(json.loads(result.stdout))
    # files/ is no inventory source (ansible.cfg): no warning on every run
    assert "inventory source" not in result.stderr and "Failed to parse" not in result.stderr, result.stderr


def test_as_shipped_it_is_refused_naming_each_placeholder_before_any_host_is_reached(tmp_path):
    result = run("ansible-playbook", "-i", str(copy(tmp_path, fill=False)), "site.yml")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    for placeholder in HOSTS:
        assert (f"{placeholder} is a placeholder of inventory.example: put the name or address of one of your hosts "
                "in its place in hosts.yml.") in output
    assert "UNREACHABLE" not in output and "unreachable=0" in output


def test_filled_in_it_passes_every_check(tmp_path):
    result = run("ansible-playbook", "--check", "-i", str(copy(tmp_path)), "playbooks/validate.yml")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "failed=0" in result.stdout[result.stdout.rindex("PLAY RECAP"):]
