"""The journey "day two": on the bought certificate's registry, its metrics on loopback, deletes enabled and
the weekly collection installed by site.yml, the policy reported in check mode with no change, and a collection
run with and without the policy applied, each reporting what it did."""

import json
import os
import re
from pathlib import Path

import yaml

testinfra_hosts = ["ansible://registry.fleet.test"]
JOURNEY = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "docs" / "journeys" / "operations"
REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "journeys"
SETTINGS = {name: value for path in sorted((JOURNEY / "group_vars" / "registries").glob("*.yml"))
            for name, value in yaml.safe_load(path.read_text()).items()}


def steps():
    """{command: its output} of the journey's run."""
    return {step["command"]: step["output"] for step in json.loads((REPORTS / "operations.json").read_text())}


def gc_report(output):
    """The registry_gc_report that playbooks/gc.yml printed."""
    start = output.index('"registry_gc_report": ') + len('"registry_gc_report": ')
    return json.JSONDecoder().raw_decode(output[start:])[0]


def gc_runs():
    return {command: output for command, output in steps().items() if "playbooks/gc.yml" in command}


def test_the_dry_run_reports_the_policy_and_changes_nothing():
    output = next(output for command, output in gc_runs().items() if "--check" in command)
    assert re.search(r"registry\.fleet\.test +: ok=\d+ +changed=0 ", output), output[-2000:]
    assert gc_report(output)["retention"]["applied"] is False


def test_each_collection_reports_the_policy_and_what_the_collector_freed():
    runs = [output for command, output in gc_runs().items() if "--check" not in command]
    reports = [gc_report(output) for output in runs]
    assert [report["retention"]["applied"] for report in reports] == [False, True]
    for report in reports:
        assert report["registry"] == "registry"
        assert report["bytes_freed"] == report["bytes_before"] - report["bytes_after"] >= 0
        assert report["readonly_seconds"] > 0
        assert report["summary"], report  # the collector's line (on this registry, empty until verify pushes)


def test_deletes_are_enabled_in_the_deployed_configuration(host):
    config = yaml.safe_load(host.file("/etc/dockyard/registry/config.yml").content_string)
    assert config["storage"]["delete"] == {"enabled": True}


def test_the_weekly_collection_timer_is_enabled_on_the_journeys_schedule(host):
    timer = host.file("/etc/systemd/system/dockyard-gc-registry.timer").content_string
    assert f"OnCalendar={SETTINGS['registry_gc_schedule']}\n" in timer
    assert host.run("systemctl is-enabled dockyard-gc-registry.timer").stdout.strip() == "enabled"


def test_the_metrics_answer_on_loopback_and_count_requests(host):
    response = json.loads(host.check_output(f"probe http://127.0.0.1:{SETTINGS['registry_metrics_port']}/metrics"))
    assert response["status"] == 200
    assert "# TYPE registry_http_" in response["body"]
