"""Each option is described once, in its role's meta/argument_specs.yml.

defaults/main.yml and the README's option tables are generated from the specs
by `make docs` (tools/docs.py); these tests fail when either is stale, and
when a spec leaves an option without a description or default.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def test_defaults_and_readme_are_generated_from_the_specs():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "docs.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_a_description_and_a_default(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    for name, option in spec["argument_specs"]["main"]["options"].items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert "default" in option or option.get("required"), f"{role}: {name} has no default"
        assert name.startswith(role + "_"), f"{role}: {name} does not carry the role's prefix"
