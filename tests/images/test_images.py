"""The offline test images agree with the roles they stand in for."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_rollout_client_image_installs_what_docker_engine_installs_from_debian():
    variables = yaml.safe_load((ROOT / "roles/docker_engine/vars/main.yml").read_text())
    dockerfile = (ROOT / "tests/images/dockerd/Dockerfile").read_text()
    installed = re.search(r"apt-get install -y --no-install-recommends ([^\\&\n]+)", dockerfile).group(1).split()
    assert installed == variables["docker_engine_packages"]["distribution"] + variables["docker_engine_module_packages"]
