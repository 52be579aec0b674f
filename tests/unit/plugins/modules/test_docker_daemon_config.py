import http.server
import json
import os
import platform
import socketserver
import stat
import threading
import time
import urllib.parse

import pytest

from ansible_collections.dockyard.registry.plugins.modules import docker_daemon_config as mod

MIRROR = "https://mirror.example.test"


@pytest.fixture
def daemon_json(tmp_path):
    return tmp_path / "daemon.json"


def call(run_module, path, check_mode=False, diff=False, **args):
    return run_module(mod.main, dict(args, path=str(path)), check_mode=check_mode, diff=diff)


def test_creates_missing_file_with_owned_keys(run_module, daemon_json):
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR]})
    assert result["changed"] and result["apply"] == "reload"
    assert json.loads(daemon_json.read_text()) == {"registry-mirrors": [MIRROR]}
    assert stat.S_IMODE(daemon_json.stat().st_mode) == 0o644


def test_keeps_keys_it_does_not_own(run_module, daemon_json):
    daemon_json.write_text('{"data-root": "/srv/docker", "log-opts": {"max-size": "10m"}}')
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR]})
    assert result["previous_config"] == {"data-root": "/srv/docker", "log-opts": {"max-size": "10m"}}
    assert json.loads(daemon_json.read_text()) == {
        "data-root": "/srv/docker", "log-opts": {"max-size": "10m"}, "registry-mirrors": [MIRROR]}


def test_second_run_changes_nothing(run_module, daemon_json):
    call(run_module, daemon_json, config={"registry-mirrors": [MIRROR], "log-driver": "local"})
    mtime = daemon_json.stat().st_mtime_ns
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR], "log-driver": "local"})
    assert not result["changed"] and result["apply"] == "none" and result["changed_keys"] == []
    assert daemon_json.stat().st_mtime_ns == mtime


def test_non_reloadable_key_needs_restart(run_module, daemon_json):
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR], "data-root": "/srv"})
    assert result["apply"] == "restart"
    assert result["changed_keys"] == ["data-root", "registry-mirrors"]


def test_removed_mirror_key_is_emptied_so_a_reload_drops_it(run_module, daemon_json):
    daemon_json.write_text(json.dumps({"registry-mirrors": [MIRROR], "debug": True}))
    result = call(run_module, daemon_json, remove=["registry-mirrors"])
    assert result["changed"] and result["apply"] == "reload"
    assert json.loads(daemon_json.read_text()) == {"registry-mirrors": [], "debug": True}
    again = call(run_module, daemon_json, remove=["registry-mirrors"])
    assert not again["changed"]


def test_removing_an_absent_key_changes_nothing(run_module, daemon_json):
    daemon_json.write_text('{"debug": true}')
    result = call(run_module, daemon_json, remove=["registry-mirrors", "log-driver"])
    assert not result["changed"]
    assert json.loads(daemon_json.read_text()) == {"debug": True}


def test_removed_key_that_reload_would_keep_needs_restart(run_module, daemon_json):
    daemon_json.write_text('{"debug": true, "log-driver": "local"}')
    result = call(run_module, daemon_json, remove=["debug"])
    assert result["apply"] == "restart"
    assert json.loads(daemon_json.read_text()) == {"log-driver": "local"}


@pytest.mark.parametrize("content, message", [
    (b'{"registry-mirrors": [', "is not valid JSON"),
    (b'["registry-mirrors"]', "must hold a JSON object"),
    (b'{"labels": ["caf\xe9"]}', "is not UTF-8 text (byte 16 is not); fix or remove it first"),
])
def test_invalid_existing_file_is_an_error_and_stays(run_module, daemon_json, content, message):
    daemon_json.write_bytes(content)
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR]})
    assert result["failed"] and message in result["msg"] and str(daemon_json) in result["msg"]
    assert daemon_json.read_bytes() == content


def test_a_symlinked_file_is_written_through_and_the_link_stays(run_module, daemon_json, tmp_path):
    real = tmp_path / "managed" / "daemon.json"
    real.parent.mkdir()
    real.write_text('{"debug": true}')
    daemon_json.symlink_to(real)
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR]})
    assert result["changed"] and daemon_json.is_symlink()
    assert json.loads(real.read_text()) == {"debug": True, "registry-mirrors": [MIRROR]}


def test_a_world_writable_file_is_warned_about_and_closed(run_module, daemon_json):
    daemon_json.write_text(f'{{"registry-mirrors": ["{MIRROR}"]}}')
    daemon_json.chmod(0o666)
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR]})
    assert result["changed"] and result["changed_keys"] == []
    assert any("was writable by every user" in w["event"]["msg"] for w in result["warnings"])
    assert stat.S_IMODE(daemon_json.stat().st_mode) == 0o664


@pytest.fixture
def fake_dockerd(tmp_path, monkeypatch):
    """A dockerd that knows --validate and rejects any file with an unknown key in it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "dockerd"
    script.write_text('#!/bin/sh\n'
                      'if [ "$1" = --help ]; then echo "      --validate   Validate daemon configuration and exit"; exit 0; fi\n'
                      'if grep -q bogus "$3"; then echo "the following directives don\'t match any configuration '
                      'option: bogus" >&2; exit 1; fi\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


def test_a_file_dockerd_rejects_is_not_written(run_module, daemon_json, fake_dockerd):
    daemon_json.write_text('{"debug": true}')
    result = call(run_module, daemon_json, config={"bogus": 1})
    assert result["failed"]
    assert result["msg"] == (f"dockerd rejects the new {daemon_json}, which was left as it was: "
                             "the following directives don't match any configuration option: bogus")
    assert daemon_json.read_text() == '{"debug": true}'


def test_a_file_dockerd_accepts_is_written(run_module, daemon_json, fake_dockerd):
    result = call(run_module, daemon_json, config={"registry-mirrors": [MIRROR]})
    assert result["changed"] and json.loads(daemon_json.read_text()) == {"registry-mirrors": [MIRROR]}


def test_check_mode_reports_but_writes_nothing(run_module, daemon_json):
    result = call(run_module, daemon_json, check_mode=True, diff=True,
                  config={"registry-mirrors": [MIRROR]})
    assert result["changed"] and result["apply"] == "reload"
    assert not daemon_json.exists()
    assert MIRROR in result["diff"]["after"] and result["diff"]["before"] == ""


def test_diff_shows_before_and_after(run_module, daemon_json):
    daemon_json.write_text('{"debug": true}')
    result = call(run_module, daemon_json, diff=True, config={"debug": False})
    assert '"debug": true' in result["diff"]["before"]
    assert '"debug": false' in result["diff"]["after"]


def test_existing_file_keeps_its_mode_and_backup_holds_the_old_text(run_module, daemon_json):
    daemon_json.write_text('{"debug": true}')
    os.chmod(daemon_json, 0o600)
    result = call(run_module, daemon_json, backup=True, config={"debug": False})
    assert stat.S_IMODE(daemon_json.stat().st_mode) == 0o600
    with open(result["backup_file"], encoding="utf-8") as handle:
        assert handle.read() == '{"debug": true}'


def test_a_key_both_set_and_removed_is_refused(run_module, daemon_json):
    result = call(run_module, daemon_json, config={"debug": True}, remove=["debug"])
    assert result["failed"] and "both set and removed: debug" in result["msg"]
    assert not daemon_json.exists()


def test_insecure_registries_warn_while_listed(run_module, daemon_json):
    result = call(run_module, daemon_json, config={"insecure-registries": ["build.lan:5000"]})
    assert any("insecure-registries build.lan:5000" in warning["event"]["msg"] for warning in result["warnings"])
    emptied = call(run_module, daemon_json, remove=["insecure-registries"])
    assert not emptied.get("warnings")


class FakeDockerAPI(http.server.BaseHTTPRequestHandler):
    """dockerd's /events and /info: a reload event once systemctl was called (the file it touches),
    unless the server is told that dockerd refuses the file."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (the handler's name)
        if self.path.startswith("/events?"):
            self.server.filters = json.loads(urllib.parse.parse_qs(self.path.split("?", 1)[1])["filters"][0])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            deadline = time.monotonic() + 5
            while not self.server.reloaded.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.server.reports_reload:
                event = json.dumps({"Type": "daemon", "Action": "reload"}).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            else:
                time.sleep(2)
            self.wfile.write(b"0\r\n\r\n")
        else:
            body = json.dumps({"RegistryConfig": {"Mirrors": [MIRROR + "/"]}, "ContainersRunning": self.server.running,
                               "LiveRestoreEnabled": self.server.live_restore}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """A dockerd API on a Unix socket (DOCKER_HOST), running no container and without live-restore, and a
    systemctl that tells it to reload and notes each call."""
    reloaded = tmp_path / "reloaded"
    bindir = tmp_path / "sbin"
    bindir.mkdir()
    (bindir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {reloaded}\n')
    (bindir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    server = socketserver.ThreadingUnixStreamServer(str(tmp_path / "docker.sock"), FakeDockerAPI)
    server.daemon_threads = True
    server.reloaded, server.reports_reload, server.running, server.live_restore = reloaded, True, 0, False
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_reload_applies_the_change_and_returns_what_dockerd_uses(run_module, daemon_json, fake_docker):
    result = call(run_module, daemon_json, reload=True, config={"registry-mirrors": [MIRROR]})
    assert result["changed"] and result["registry_config"] == {"Mirrors": [MIRROR + "/"]}
    assert fake_docker.reloaded.read_text() == "reload docker\n"
    assert fake_docker.filters == {"type": ["daemon"], "event": ["reload"]}
    assert json.loads(daemon_json.read_text()) == {"registry-mirrors": [MIRROR]}


def test_reload_does_nothing_when_nothing_changed_or_in_check_mode(run_module, daemon_json, fake_docker):
    daemon_json.write_text(json.dumps({"registry-mirrors": [MIRROR]}))
    unchanged = call(run_module, daemon_json, reload=True, config={"registry-mirrors": [MIRROR]})
    checked = call(run_module, daemon_json, reload=True, check_mode=True, config={"registry-mirrors": []})
    assert not unchanged["changed"] and checked["changed"]
    assert "registry_config" not in unchanged and "registry_config" not in checked
    assert not fake_docker.reloaded.exists()


def test_a_reload_dockerd_does_not_report_fails_and_says_so(run_module, daemon_json, fake_docker, monkeypatch):
    fake_docker.reports_reload = False
    monkeypatch.setattr(mod, "RELOAD_TIMEOUT", 1)
    daemon_json.write_text('{"debug": true}')
    result = call(run_module, daemon_json, reload=True, config={"registry-mirrors": [MIRROR]})
    assert result["failed"] and fake_docker.reloaded.exists()
    assert result["msg"] == ("dockerd did not report a reload within 1 s; "
                             "it may have refused the new file (see its log)")
    # What the caller needs to put the file back.
    assert result["previous_config"] == {"debug": True}


def test_reload_refuses_a_change_that_needs_a_restart_and_writes_nothing(run_module, daemon_json, fake_docker):
    daemon_json.write_text('{"debug": true}')
    result = call(run_module, daemon_json, reload=True, config={"registry-mirrors": [MIRROR], "data-root": "/srv"})
    assert result["failed"] and result["msg"] == (
        f"a reload cannot apply data-root (dockerd takes it only on a restart); {daemon_json} was left as it was")
    assert daemon_json.read_text() == '{"debug": true}' and not fake_docker.reloaded.exists()


def systemctl_calls(fake_docker):
    return fake_docker.reloaded.read_text().splitlines() if fake_docker.reloaded.exists() else []


def test_restart_safe_holds_a_restart_key_while_containers_run_without_live_restore(
        run_module, daemon_json, fake_docker):
    fake_docker.running = 2
    daemon_json.write_text('{"log-level": "warn"}')
    result = call(run_module, daemon_json, restart="safe", config={"debug": True, "log-driver": "local"})
    assert result["changed"] and result["held"] == ["log-driver"] and result["applied"] == "reload"
    assert json.loads(daemon_json.read_text()) == {"log-level": "warn", "debug": True}
    assert systemctl_calls(fake_docker) == ["reload docker"]
    assert [warning["event"]["msg"] for warning in result["warnings"]] == [
        f"log-driver not applied on {platform.node()}: dockerd takes it only on a restart, and 2 running containers would stop "
        "(live-restore is off); it stays out of the file until a run may restart dockerd."]
    again = call(run_module, daemon_json, restart="safe", config={"debug": True, "log-driver": "local"})
    assert not again["changed"] and again["held"] == ["log-driver"] and again["applied"] == "none"
    assert systemctl_calls(fake_docker) == ["reload docker"]


def test_restart_safe_restarts_once_live_restore_keeps_the_containers(run_module, daemon_json, fake_docker):
    fake_docker.running = 2
    result = call(run_module, daemon_json, restart="safe", config={"live-restore": True, "log-driver": "local"})
    assert result["changed"] and result["held"] == [] and result["applied"] == "restart"
    # The reload turns live-restore on before the restart.
    assert systemctl_calls(fake_docker) == ["reload docker", "restart docker"]
    assert json.loads(daemon_json.read_text()) == {"live-restore": True, "log-driver": "local"}
    assert result["registry_config"] == {"Mirrors": [MIRROR + "/"]}


@pytest.mark.parametrize("policy, running, live_restore, applied", [
    ("safe", 0, False, "restart"),
    ("safe", 1, True, "restart"),
    ("always", 3, False, "restart"),
    ("never", 0, True, "none"),
])
def test_restart_policies(run_module, daemon_json, fake_docker, policy, running, live_restore, applied):
    fake_docker.running, fake_docker.live_restore = running, live_restore
    result = call(run_module, daemon_json, restart=policy, config={"log-driver": "local"})
    assert result["applied"] == applied
    assert systemctl_calls(fake_docker) == (["restart docker"] if applied == "restart" else [])
    assert json.loads(daemon_json.read_text() if daemon_json.exists() else "{}") == (
        {"log-driver": "local"} if applied == "restart" else {})
    assert result["held"] == ([] if applied == "restart" else ["log-driver"])
    if policy == "never":
        assert "and the restart policy is never;" in result["warnings"][0]["event"]["msg"]


def test_restart_check_mode_reports_the_plan_and_calls_nothing(run_module, daemon_json, fake_docker):
    fake_docker.running = 1
    result = call(run_module, daemon_json, restart="safe", check_mode=True,
                  config={"debug": True, "log-driver": "local"})
    assert result["changed"] and result["applied"] == "reload" and result["held"] == ["log-driver"]
    assert not daemon_json.exists() and systemctl_calls(fake_docker) == []


def test_restart_policy_writes_the_whole_file_for_a_dockerd_that_does_not_answer(
        run_module, daemon_json, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'absent.sock'}")
    result = call(run_module, daemon_json, restart="never", config={"log-driver": "local"})
    assert result["changed"] and result["applied"] == "written" and result["held"] == []
    assert json.loads(daemon_json.read_text()) == {"log-driver": "local"}


def test_reload_and_restart_are_exclusive(run_module, daemon_json):
    result = call(run_module, daemon_json, reload=True, restart="safe", config={"debug": True})
    assert result["failed"] and "mutually exclusive: reload|restart" in result["msg"]
