import json
import stat

from ansible_collections.dockyard.registry.plugins.modules import dockyard_files as mod

SECRET = "planted-http-secret-0123456789"


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def call(run_module, directories=(), files=(), check_mode=False, absent=()):
    args = dict(directories=list(directories), files=list(files), absent=list(absent))
    return run_module(mod.main, args, check_mode=check_mode)


def layout(tmp_path, secret=SECRET):
    config = tmp_path / "etc" / "registry"
    return config, [{"path": str(config), "mode": "0750"}], [
        {"path": str(config / "http-secret"), "content": secret, "mode": "0600"},
        {"path": str(config / "gc.json"), "content": "{}\n", "mode": "0644"},
    ]


def test_creates_the_directories_and_files_with_their_modes_and_hides_the_contents(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    result = call(run_module, directories, files)
    assert result["changed"]
    assert result["created"] == [str(config)]
    assert result["written"] == [str(config / "http-secret"), str(config / "gc.json")]
    assert mode(config) == 0o750
    assert (config / "http-secret").read_text() == SECRET and mode(config / "http-secret") == 0o600
    assert (config / "gc.json").read_text() == "{}\n" and mode(config / "gc.json") == 0o644
    assert SECRET not in json.dumps(result)


def test_a_second_run_changes_nothing(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    call(run_module, directories, files)
    before = (config / "http-secret").stat().st_mtime_ns
    result = call(run_module, directories, files)
    assert not result["changed"] and result["created"] == [] and result["written"] == []
    assert (config / "http-secret").stat().st_mtime_ns == before


def test_only_the_file_whose_content_differs_is_written(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    call(run_module, directories, files)
    files = layout(tmp_path, secret="another-secret")[2]
    result = call(run_module, directories, files)
    assert result["changed"] and result["written"] == [str(config / "http-secret")]
    assert (config / "http-secret").read_text() == "another-secret"


def test_a_wrong_mode_is_fixed_without_rewriting_the_file(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    call(run_module, directories, files)
    (config / "http-secret").chmod(0o666)
    config.chmod(0o777)
    result = call(run_module, directories, files)
    assert result["changed"] and result["written"] == [] and result["created"] == []
    assert mode(config / "http-secret") == 0o600 and mode(config) == 0o750


def test_writes_through_a_symbolic_link_and_keeps_it(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    config.mkdir(parents=True)
    real = tmp_path / "real-secret"
    real.write_text("old")
    (config / "http-secret").symlink_to(real)
    call(run_module, directories, files)
    assert (config / "http-secret").is_symlink() and real.read_text() == SECRET and mode(real) == 0o600


def test_check_mode_reports_and_changes_nothing(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    result = call(run_module, directories, files, check_mode=True)
    assert result["changed"] and result["created"] == [str(config)] and len(result["written"]) == 2
    assert not config.exists()


def test_a_directory_where_a_file_belongs_is_refused_and_nothing_is_written(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    (config / "gc.json").mkdir(parents=True)
    result = call(run_module, directories, files)
    assert result["failed"] and result["msg"] == f"{config / 'gc.json'} is a directory, not a file"
    assert not (config / "http-secret").exists()


def test_a_file_where_a_directory_belongs_is_refused(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    config.parent.mkdir(parents=True)
    config.write_text("")
    result = call(run_module, directories, files)
    assert result["failed"] and result["msg"] == f"{config} is not a directory"


def test_a_file_in_a_missing_directory_is_refused(run_module, tmp_path):
    config, files = layout(tmp_path)[0::2]
    result = call(run_module, [], files)
    assert result["failed"] and result["msg"] == f"the directory of {config / 'http-secret'} does not exist"


def test_a_mode_that_is_not_octal_is_refused(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    directories[0]["mode"] = "u=rwx"
    result = call(run_module, directories, files)
    assert result["failed"] and "must be an octal string" in result["msg"]
    assert not config.exists()


def test_removes_the_absent_files_once(run_module, tmp_path):
    gone, link = tmp_path / "docker.sources", tmp_path / "docker.asc"
    gone.write_text("deb ...\n")
    link.symlink_to(tmp_path / "nowhere")
    result = call(run_module, absent=[str(gone), str(link)], check_mode=True)
    assert result["changed"] and result["removed"] == [str(gone), str(link)] and gone.exists()
    result = call(run_module, absent=[str(gone), str(link)])
    assert result["changed"] and not gone.exists() and not link.is_symlink()
    result = call(run_module, absent=[str(gone), str(link)])
    assert not result["changed"] and result["removed"] == []


def test_a_directory_given_as_absent_is_refused_and_nothing_is_written(run_module, tmp_path):
    config, directories, files = layout(tmp_path)
    result = call(run_module, directories, files, absent=[str(tmp_path)])
    assert result["failed"] and result["msg"] == f"{tmp_path} is a directory, not a file"
    assert not config.exists()


def test_a_replaced_file_asked_to_is_backed_up(run_module, tmp_path):
    vhost = tmp_path / "dockyard-registry.conf"
    vhost.write_text("server { listen 443; }\n")
    entry = {"path": str(vhost), "content": "server { listen 8443; }\n", "mode": "0644", "backup": True}
    result = call(run_module, files=[entry])
    backup = result["backups"][str(vhost)]
    assert open(backup).read() == "server { listen 443; }\n" and vhost.read_text() == entry["content"]
    assert call(run_module, files=[entry])["backups"] == {}


def test_check_mode_reports_a_file_whose_directory_an_earlier_task_would_make(run_module, tmp_path):
    files = layout(tmp_path)[2]
    result = call(run_module, [], files, check_mode=True)
    assert result["changed"] and len(result["written"]) == 2
