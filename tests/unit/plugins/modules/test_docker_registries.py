import base64
import json
import os
import stat

import pytest

from ansible_collections.dockyard.registry.plugins.modules import docker_registries as mod

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def call(run_module, path, registries, check_mode=False, diff=False):
    return run_module(mod.main, {"path": str(path), "registries": registries}, check_mode=check_mode, diff=diff)


def test_writes_each_ca_in_its_folder_and_a_second_run_changes_nothing(run_module, tmp_path):
    registries = [{"address": "registry.example.test:443", "ca": CA}, {"address": "mirror.example.test", "ca": CA}]
    result = call(run_module, tmp_path, registries)
    assert result["changed"] and result["written"] == ["registry.example.test:443", "mirror.example.test"]
    certificate = tmp_path / "registry.example.test:443/ca.crt"
    assert certificate.read_text() == CA and stat.S_IMODE(certificate.stat().st_mode) == 0o644
    assert stat.S_IMODE(certificate.parent.stat().st_mode) == 0o755
    again = call(run_module, tmp_path, registries)
    assert not again["changed"] and again["written"] == [] and again["removed"] == []


def test_replaces_a_changed_ca_and_keeps_the_file_mode(run_module, tmp_path):
    certificate = tmp_path / "registry.example.test/ca.crt"
    certificate.parent.mkdir()
    certificate.write_text("old\n")
    certificate.chmod(0o640)
    result = call(run_module, tmp_path, [{"address": "registry.example.test", "ca": CA.rstrip("\n")}], diff=True)
    assert result["written"] == ["registry.example.test"] and certificate.read_text() == CA
    assert stat.S_IMODE(certificate.stat().st_mode) == 0o640
    assert "old" in result["diff"]["before"] and "MIIB" in result["diff"]["after"]


def test_removes_the_folder_of_a_registry_in_state_absent(run_module, tmp_path):
    (tmp_path / "old.example.test").mkdir()
    (tmp_path / "old.example.test/ca.crt").write_text(CA)
    (tmp_path / "old.example.test/client.cert").write_text("x")
    result = call(run_module, tmp_path, [{"address": "old.example.test", "state": "absent"},
                                         {"address": "never.example.test", "state": "absent"}])
    assert result["changed"] and result["removed"] == ["old.example.test"]
    assert not (tmp_path / "old.example.test").exists()
    assert not call(run_module, tmp_path, [{"address": "old.example.test", "state": "absent"}])["changed"]


def test_check_mode_reports_and_changes_nothing(run_module, tmp_path):
    (tmp_path / "old.example.test").mkdir()
    result = call(run_module, tmp_path, [{"address": "new.example.test", "ca": CA},
                                         {"address": "old.example.test", "state": "absent"}], check_mode=True)
    assert result["changed"] and result["written"] == ["new.example.test"] and result["removed"] == ["old.example.test"]
    assert sorted(os.listdir(tmp_path)) == ["old.example.test"]


def test_takes_world_write_away_from_a_ca_it_keeps(run_module, tmp_path):
    certificate = tmp_path / "registry.example.test/ca.crt"
    certificate.parent.mkdir()
    certificate.write_text(CA)
    certificate.chmod(0o666)
    result = call(run_module, tmp_path, [{"address": "registry.example.test", "ca": CA}])
    assert result["changed"] and result["written"] == []
    assert any("writable by every user" in warning["event"]["msg"] for warning in result["warnings"])
    assert stat.S_IMODE(certificate.stat().st_mode) == 0o664


def test_refuses_an_address_that_is_not_one_folder_and_writes_nothing(run_module, tmp_path):
    for address in ["../etc", "a/b", ".hidden", ""]:
        result = call(run_module, tmp_path, [{"address": "ok.example.test", "ca": CA}, {"address": address, "ca": CA}])
        assert result["failed"] and f"registry address {address!r} is not one folder name" in result["msg"]
    assert os.listdir(tmp_path) == []


def test_a_username_needs_its_password(run_module, tmp_path):
    result = call(run_module, tmp_path, [{"address": "registry.example.test", "username": "ci"}])
    assert result["failed"] and "parameters are required together: username, password" in result["msg"]


# A Docker CLI that logs in as dockerd would: the password must be the
# registry's (ACCOUNTS), read from stdin; the login lands in config.json.
FAKE_DOCKER = """#!/usr/bin/env python3
import base64, json, os, sys
config_path = os.path.join(os.environ["DOCKER_CONFIG"], "config.json")
config = json.load(open(config_path)) if os.path.exists(config_path) else {}
with open(os.environ["DOCKER_CALLS"], "a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] == "login":
    user, password, address = sys.argv[3], sys.stdin.read(), sys.argv[5]
    if json.load(open(os.environ["ACCOUNTS"])).get(address) != [user, password]:
        sys.exit(f'Error response from daemon: Get "https://{address}/v2/": unauthorized: authentication required')
    config.setdefault("auths", {})[address] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
else:
    config.get("auths", {}).pop(sys.argv[2], None)
json.dump(config, open(config_path, "w"))
"""
PASSWORD = "registry-Pw-1"


@pytest.fixture
def docker_cli(tmp_path, monkeypatch):
    """The fake Docker CLI on PATH; (config.json, the log of its calls)."""
    bindir, config = tmp_path / "bin", tmp_path / "docker-config"
    bindir.mkdir()
    config.mkdir()
    (bindir / "docker").write_text(FAKE_DOCKER)
    (bindir / "docker").chmod(0o755)
    (tmp_path / "accounts.json").write_text(json.dumps({"registry.example.test:443": ["ci", PASSWORD]}))
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("DOCKER_CALLS", str(tmp_path / "calls"))
    monkeypatch.setenv("ACCOUNTS", str(tmp_path / "accounts.json"))
    return config / "config.json", tmp_path / "calls"


def test_logs_in_after_writing_the_ca_and_a_second_run_changes_nothing(run_module, tmp_path, docker_cli):
    config, calls = docker_cli
    registries = [{"address": "registry.example.test:443", "ca": CA, "username": "ci", "password": PASSWORD}]
    result = call(run_module, tmp_path / "certs.d", registries, diff=True)
    assert result["changed"] and result["written"] == result["logged_in"] == ["registry.example.test:443"]
    assert json.loads(config.read_text())["auths"]["registry.example.test:443"]["auth"] == base64.b64encode(
        f"ci:{PASSWORD}".encode()).decode()
    assert "login to registry.example.test:443" in result["diff"]["after"]
    assert PASSWORD not in json.dumps(result) and PASSWORD not in calls.read_text()
    again = call(run_module, tmp_path / "certs.d", registries)
    assert not again["changed"] and again["logged_in"] == [] and calls.read_text().count("login") == 1


def test_a_changed_password_logs_in_again(run_module, tmp_path, docker_cli):
    config = docker_cli[0]
    config.write_text(json.dumps({"auths": {"registry.example.test:443": {"auth": base64.b64encode(
        b"ci:old-password").decode()}}, "detachKeys": "ctrl-x"}))
    result = call(run_module, tmp_path, [{"address": "registry.example.test:443", "username": "ci",
                                          "password": PASSWORD}])
    assert result["logged_in"] == ["registry.example.test:443"] and json.loads(config.read_text())["detachKeys"]


def test_a_password_the_registry_refuses_fails_and_names_the_registry(run_module, tmp_path, docker_cli):
    result = call(run_module, tmp_path, [{"address": "registry.example.test:443", "ca": CA, "username": "ci",
                                          "password": "wrong-password"}])
    assert result["failed"] and result["msg"] == (
        'docker login registry.example.test:443 failed: Error response from daemon: Get '
        '"https://registry.example.test:443/v2/": unauthorized: authentication required')
    # The CA was written first, as dockerd needs it to check the password.
    assert result["written"] == ["registry.example.test:443"] and "wrong-password" not in json.dumps(result)


def test_state_absent_logs_out_and_removes_the_folder(run_module, tmp_path, docker_cli):
    config, calls = docker_cli
    present = [{"address": "registry.example.test:443", "ca": CA, "username": "ci", "password": PASSWORD}]
    call(run_module, tmp_path, present)
    checked = call(run_module, tmp_path, [{"address": "registry.example.test:443", "state": "absent"}],
                   check_mode=True)
    assert checked["logged_out"] == ["registry.example.test:443"] and "logout" not in calls.read_text()
    result = call(run_module, tmp_path, [{"address": "registry.example.test:443", "state": "absent"}])
    assert result["logged_out"] == result["removed"] == ["registry.example.test:443"]
    assert json.loads(config.read_text())["auths"] == {} and not (tmp_path / "registry.example.test:443").exists()
    assert not call(run_module, tmp_path, [{"address": "registry.example.test:443", "state": "absent"}])["changed"]


def test_a_login_in_a_credential_helper_is_compared_there(run_module, tmp_path, docker_cli, monkeypatch):
    config, calls = docker_cli
    config.write_text(json.dumps({"credsStore": "vault"}))
    helper = tmp_path / "bin/docker-credential-vault"
    helper.write_text(f'#!/bin/sh\necho \'{{"Username": "ci", "Secret": "{PASSWORD}"}}\'\n')
    helper.chmod(0o755)
    result = call(run_module, tmp_path, [{"address": "registry.example.test:443", "username": "ci",
                                          "password": PASSWORD}])
    assert not result["changed"] and not calls.exists()


def test_an_unreadable_client_configuration_fails_and_stays(run_module, tmp_path, docker_cli):
    config = docker_cli[0]
    config.write_text("{not json")
    result = call(run_module, tmp_path, [{"address": "registry.example.test:443", "username": "ci",
                                          "password": PASSWORD}])
    assert result["failed"] and f"{config} is not valid JSON" in result["msg"] and config.read_text() == "{not json"
