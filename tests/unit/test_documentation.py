"""Each module's DOCUMENTATION says what its argument spec does, as ansible-test sanity checks.

Options, types, defaults, choices, list elements, required and no_log agree
both ways; EXAMPLES and RETURN parse; attributes and requirements are given.
"""

import importlib
from pathlib import Path

import pytest
import yaml

# Every module of library/.
MODULES = [importlib.import_module(path.stem)
           for path in sorted((Path(__file__).resolve().parents[2] / "library").glob("*.py"))]
KEYS = ("type", "default", "choices", "elements", "required", "no_log")


def compare(documented, spec, where):
    assert set(documented) == set(spec), f"{where}: documented {sorted(documented)}, spec {sorted(spec)}"
    for name, option in spec.items():
        doc = documented[name]
        assert doc.get("description"), f"{where}.{name} has no description"
        for key in KEYS:
            assert doc.get(key, False if key in ("required", "no_log") else None) == option.get(
                key, False if key in ("required", "no_log") else None), f"{where}.{name}: {key} differs"
        if "options" in option:
            compare(doc.get("suboptions", {}), option["options"], f"{where}.{name}")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_documentation_matches_the_argument_spec(module):
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["module"] == module.__name__
    compare(documentation["options"], module.ARGUMENT_SPEC, module.__name__)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_documentation_declares_attributes_requirements_examples_and_return(module):
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert {"check_mode", "diff_mode"} <= set(documentation["attributes"])
    assert documentation["requirements"]
    assert yaml.safe_load(module.EXAMPLES)
    for name, value in yaml.safe_load(module.RETURN).items():
        assert value.get("description") and value.get("returned") and value.get("type") and "sample" in value, name
