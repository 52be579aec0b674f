import os
import stat

import docker_registry_ca as mod

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


def test_a_present_registry_needs_its_ca(run_module, tmp_path):
    result = call(run_module, tmp_path, [{"address": "registry.example.test"}])
    assert result["failed"] and "ca" in result["msg"]
