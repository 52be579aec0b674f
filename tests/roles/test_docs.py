"""Each option is described once, in its role's meta/argument_specs.yml; the docs hold.

defaults/main.yml and each role's option table (docs/reference/roles/) are
generated from the specs by `make docs` (tools/docs.py); these tests fail when
either is stale, and when a spec leaves an option without a description or
default. The docs site builds with every link and anchor resolved, and the
README stays a landing page whose links all lead somewhere.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# tools/docs.py: which pages the docs are.
SPEC = importlib.util.spec_from_file_location("docs", ROOT / "tools" / "docs.py")
docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(docs)
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


def test_the_site_builds_with_every_link_and_anchor_resolved(tmp_path):
    result = subprocess.run([str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--quiet",
                             "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, check=False, env={"NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", [docs.README, docs.COLLECTION_README], ids=lambda path: str(path.relative_to(ROOT)))
def test_the_readmes_link_only_to_what_exists(path):
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text())
    assert links or path != docs.README
    missing = [link for link in links if not link.startswith("https://") and not (path.parent / link).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to what does not exist: {missing}"


def test_the_readme_is_a_landing_page():
    assert len(docs.README.read_text().splitlines()) <= 200


CODE = ("roles/", "playbooks/", "library/", "module_utils/", "filter_plugins/", "tools/", "benchmarks/", "demo/")
TREE = ("tests/", "molecule/", "docs/", "inventory.example/", "collections/") + CODE


def test_every_path_make_target_and_option_the_docs_name_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = {target for line in re.findall(r"^([a-z][\w -]*):", makefile, re.M) for target in line.split()}
    code = " ".join(path.read_text() for prefix in CODE for path in (ROOT / prefix).rglob("*") if path.is_file())
    options = {name for spec in ROOT.glob("roles/*/meta/argument_specs.yml")
               for entry in yaml.safe_load(spec.read_text())["argument_specs"].values() for name in entry["options"]}
    missing = []
    for page in docs.pages():
        for text in re.findall(r"`([^`\n]+)`", page.read_text()):
            missing += [f"make {target}" for target in re.findall(r"\bmake ([a-z][\w-]*)", text)
                        if target not in targets and not target.startswith("molecule-")]
            # A path of the tree: a file with its extension, or a folder with its slash.
            if text.startswith(TREE) and re.fullmatch(r"[\w./-]+(\.\w+|/)", text) and not (ROOT / text).exists():
                missing.append(text)
            # An option, or another name of the code (a module, a role, a registered result); metrics are
            # distribution's.
            if (re.fullmatch(r"(registry|docker_engine|redis_server)_\w+", text) and text not in options
                    and not re.search(rf"\b{text}\b", code) and not text.endswith(("_total", "_seconds"))
                    and "in_flight" not in text):
                missing.append(text)
    assert not missing, f"named in the docs, but not in the tree: {sorted(set(missing))}"


def test_every_file_of_a_journey_is_shown_on_a_page():
    shown = {path for page in docs.pages() for path in re.findall(r"<!-- file (\S+): included by make docs -->",
                                                             page.read_text())}
    files = {str(path.relative_to(ROOT)) for path in (ROOT / "docs" / "journeys").rglob("*") if path.is_file()}
    assert files <= shown, f"journey files no page shows: {sorted(files - shown)}"


@pytest.mark.parametrize("guide", sorted(path.name for path in (ROOT / "docs" / "guides").glob("*.md")))
def test_a_guide_reaches_its_first_command_within_60_lines(guide):
    lines = (ROOT / "docs" / "guides" / guide).read_text().splitlines()
    first = next((number for number, line in enumerate(lines, 1)
                  if line.startswith("```") or re.search(r"`(ansible-playbook|ansible-galaxy|make) ", line)), None)
    assert first and first <= 60, f"{guide}: the first command is at line {first}"


# Figures only a measurement gives: a ratio, a throughput, seconds with decimals, what a run took. They come from a
# report (make docs writes them between its markers: the performance page's from benchmarks/latest.json), never
# typed.
MEASURED = re.compile(r"(?<![-\w.])\d+(?:\.\d+)?x\b|\b\d+(?:\.\d+)? ?[KMG]i?B/s\b|\b\d+\.\d+ ?s\b|\btook \d")
GENERATED = re.compile(r"<!-- [^\n]*(?:generated|included) by make docs -->\n.*?<!-- end of [^\n]* -->", re.S)


@pytest.mark.parametrize("page", docs.pages(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_page_types_a_measured_figure_by_hand(page):
    text = re.sub(r"```.*?```", "", GENERATED.sub("", page.read_text()), flags=re.S)
    assert not MEASURED.findall(text), f"{page.relative_to(ROOT)} types measured figures: {MEASURED.findall(text)}"
