"""Contradictory role input fails at the start, with a sentence naming what to set.

Each case runs the real role with ansible-playbook against this machine in check
mode, so that even a validation gap could not change anything here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

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
    ("registry", {"registry_port": "five thousand"},
     "registry_port"),
    ("docker_engine", {"docker_engine_daemon_config": {"hosts": ["tcp://0.0.0.0:2375"]}},
     "already passes to dockerd on its command line"),
    ("docker_engine", {"docker_engine_daemon_config": {"debug": True},
                       "docker_engine_daemon_config_remove": ["debug"]},
     "is in both docker_engine_daemon_config and docker_engine_daemon_config_remove"),
    ("docker_engine", {"docker_engine_source": "snap"},
     "docker_engine_source"),
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
        ["ansible-playbook", "--check", "-i", str(inventory), str(playbook), "-e", json.dumps(extra_vars)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert message in output
    assert "changed=0" in output
