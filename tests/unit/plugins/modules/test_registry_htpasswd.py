import os
import stat

import bcrypt
import pytest

from ansible_collections.dockyard.registry.plugins.modules import registry_htpasswd as mod


@pytest.fixture
def htpasswd(tmp_path):
    return tmp_path / "htpasswd"


def call(run_module, path, users, check_mode=False, diff=False, **args):
    args = dict(args, path=str(path), users=users, cost=4)
    return run_module(mod.main, args, check_mode=check_mode, diff=diff)


def entries(path):
    return dict(line.split(":", 1) for line in path.read_text().splitlines())


def test_creates_file_with_bcrypt_hashes_not_world_readable(run_module, htpasswd):
    result = call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}])
    assert result["changed"] and result["added"] == ["ci"]
    hashed = entries(htpasswd)["ci"]
    assert hashed.startswith("$2b$") and bcrypt.checkpw(b"s3cret", hashed.encode())
    assert stat.S_IMODE(htpasswd.stat().st_mode) == 0o640


def test_unchanged_password_is_not_rehashed(run_module, htpasswd):
    call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}])
    before = htpasswd.read_text()
    result = call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}])
    assert not result["changed"]
    assert htpasswd.read_text() == before


def test_changed_password_is_rehashed(run_module, htpasswd):
    call(run_module, htpasswd, [{"name": "ci", "password": "old"}])
    result = call(run_module, htpasswd, [{"name": "ci", "password": "new"}])
    assert result["changed"] and result["updated"] == ["ci"]
    assert bcrypt.checkpw(b"new", entries(htpasswd)["ci"].encode())


def test_non_bcrypt_hash_is_replaced(run_module, htpasswd):
    htpasswd.write_text("ci:$apr1$abcdefgh$0123456789abcdefghijkl\n")
    result = call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}])
    assert result["updated"] == ["ci"]
    assert entries(htpasswd)["ci"].startswith("$2b$")


def test_exclusive_removes_unlisted_users_and_keeps_others_otherwise(run_module, htpasswd):
    call(run_module, htpasswd, [{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}])
    kept = call(run_module, htpasswd, [{"name": "a", "password": "pa"}])
    assert not kept["changed"] and set(entries(htpasswd)) == {"a", "b"}
    result = call(run_module, htpasswd, [{"name": "a", "password": "pa"}], exclusive=True)
    assert result["changed"] and result["removed"] == ["b"]
    assert set(entries(htpasswd)) == {"a"}


def test_absent_user_is_removed(run_module, htpasswd):
    call(run_module, htpasswd, [{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}])
    result = call(run_module, htpasswd, [{"name": "b", "state": "absent"}])
    assert result["removed"] == ["b"] and set(entries(htpasswd)) == {"a"}
    assert not call(run_module, htpasswd, [{"name": "b", "state": "absent"}])["changed"]


def test_check_mode_reports_and_writes_nothing(run_module, htpasswd):
    result = call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}], check_mode=True)
    assert result["changed"] and result["added"] == ["ci"]
    assert not htpasswd.exists()


def test_check_mode_without_the_library_reports_a_fresh_host_as_all_to_add(run_module, htpasswd, monkeypatch):
    monkeypatch.setattr(mod, "bcrypt", None)
    users = [{"name": "ci", "password": "s3cret"}, {"name": "old", "state": "absent"}]
    result = call(run_module, htpasswd, users, check_mode=True)
    assert result["changed"] and result["added"] == ["ci"] and not htpasswd.exists()
    refused = call(run_module, htpasswd, users + [{"name": "ci", "password": "again"}], check_mode=True)
    assert refused["failed"] and refused["msg"] == "user ci is listed twice"
    htpasswd.write_text("")
    kept = call(run_module, htpasswd, users, check_mode=True)
    assert kept["failed"] and "bcrypt (Debian: python3-bcrypt)" in kept["msg"]


def test_diff_and_result_never_show_hashes_or_passwords(run_module, htpasswd):
    call(run_module, htpasswd, [{"name": "a", "password": "pa"}])
    result = call(run_module, htpasswd, [{"name": "a", "password": "changed-pw"}], diff=True)
    assert result["diff"]["before"] == "a\n" and result["diff"]["after"] == "a\n"
    assert "changed-pw" not in str(result) and "$2b$" not in str(result)


def test_mode_and_owner_are_corrected_without_rehashing(run_module, htpasswd):
    call(run_module, htpasswd, [{"name": "a", "password": "pa"}])
    os.chmod(htpasswd, 0o644)
    before = htpasswd.read_text()
    result = call(run_module, htpasswd, [{"name": "a", "password": "pa"}], mode="0640")
    assert result["changed"] and htpasswd.read_text() == before
    assert stat.S_IMODE(htpasswd.stat().st_mode) == 0o640


def test_malformed_file_is_an_error_and_stays(run_module, htpasswd):
    htpasswd.write_text("a:$2b$04$hash\nthis line has no colon\n")
    result = call(run_module, htpasswd, [{"name": "a", "password": "pa"}])
    assert result["failed"] and "line 2 is not 'user:hash'" in result["msg"]
    assert htpasswd.read_text() == "a:$2b$04$hash\nthis line has no colon\n"


def test_a_directory_is_an_error(run_module, htpasswd):
    htpasswd.mkdir()
    result = call(run_module, htpasswd, [{"name": "a", "password": "not-in-the-path"}])
    assert result["failed"] and result["msg"] == f"{htpasswd} is a directory, not a file"


def test_undecodable_file_is_an_error_and_stays(run_module, htpasswd):
    htpasswd.write_bytes(b"a:\xff\xfe\n")
    result = call(run_module, htpasswd, [{"name": "a", "password": "not-in-the-path"}])
    assert result["failed"] and result["msg"] == f"{htpasswd} is not UTF-8 text (byte 2 is not); fix or remove it first"
    assert htpasswd.read_bytes() == b"a:\xff\xfe\n"


def test_a_symlinked_file_is_written_through(run_module, htpasswd, tmp_path):
    real = tmp_path / "real-htpasswd"
    real.write_text("")
    htpasswd.symlink_to(real)
    result = call(run_module, htpasswd, [{"name": "a", "password": "pw-a"}])
    assert result["changed"] and htpasswd.is_symlink()
    assert real.read_text().startswith("a:$2b$")


def test_a_world_writable_file_is_warned_about_and_closed(run_module, htpasswd):
    htpasswd.write_text("")
    htpasswd.chmod(0o666)
    result = call(run_module, htpasswd, [{"name": "a", "password": "pw-a"}], mode="0600")
    assert any("was writable by every user" in w["event"]["msg"] for w in result["warnings"])
    assert stat.S_IMODE(htpasswd.stat().st_mode) == 0o600


@pytest.mark.parametrize("users, message", [
    ([{"name": "a:b", "password": "x"}], "has a colon, a space or a line break"),
    ([{"name": "a\nb", "password": "x"}], "has a colon, a space or a line break"),
    ([{"name": "a", "password": "x"}, {"name": "a", "password": "y"}], "listed twice"),
    ([{"name": "a"}], "has no password"),
    ([{"name": "a", "password": "x" * 73}], "longer than 72 bytes"),
])
def test_bad_users_are_refused_before_writing(run_module, htpasswd, users, message):
    result = call(run_module, htpasswd, users)
    assert result["failed"] and message in result["msg"]
    assert not htpasswd.exists()


def test_a_hash_of_another_cost_is_replaced_then_kept(run_module, htpasswd):
    htpasswd.write_text("ci:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(5)).decode() + "\n")
    result = call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}])
    assert result["changed"] and result["updated"] == ["ci"]
    hashed = entries(htpasswd)["ci"]
    assert hashed.startswith("$2b$04$") and bcrypt.checkpw(b"s3cret", hashed.encode())
    assert not call(run_module, htpasswd, [{"name": "ci", "password": "s3cret"}])["changed"]


def test_a_cost_bcrypt_has_not_is_refused(run_module, htpasswd):
    result = run_module(mod.main, dict(path=str(htpasswd), users=[{"name": "ci", "password": "s3cret"}], cost=3))
    assert result["failed"] and result["msg"] == "cost 3 is not a bcrypt cost: give 4 to 31"
    assert not htpasswd.exists()
