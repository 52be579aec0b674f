import tomllib

import pytest

from ansible_collections.dockyard.registry.plugins.modules import containerd_hosts_dir as mod

CERTS_D = "/etc/containerd/certs.d"
# Debian 12's containerd package ships this file.
DEBIAN = """version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
"""


@pytest.fixture
def host(monkeypatch, tmp_path):
    """A host whose containerd has the given version; systemctl and ctr calls are recorded."""
    calls = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return None if name == "containerd" and host.version is None else f"/usr/bin/{name}"

    def run_command(self, args, **kwargs):
        calls.append(args)
        if args[1:] == ["--version"]:
            return 0, f"containerd github.com/containerd/containerd {host.version} 1.6.20~ds1-1+deb12u3\n", ""
        return 0, "", ""

    monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", get_bin_path)
    monkeypatch.setattr(mod.AnsibleModule, "run_command", run_command)
    host.version = "1.6.20~ds1"
    host.calls = calls
    host.config = tmp_path / "config.toml"
    return host


def call(run_module, host, check_mode=False, **args):
    return run_module(mod.main, dict(args, config=str(host.config)), check_mode=check_mode)


def restarts(host):
    return [args for args in host.calls if args[1:] == ["restart", "containerd"]]


def test_debian_containerd_reads_no_hosts_dir_and_is_told_so_without_a_change(run_module, host):
    host.config.write_text(DEBIAN)
    result = call(run_module, host)
    assert (result["cri"], result["config_path"], result["action"], result["refusal"]) == (True, "", "set", "")
    assert not result["changed"] and host.config.read_text() == DEBIAN and not restarts(host)


def test_set_adds_config_path_keeps_the_rest_and_restarts_containerd_once(run_module, host):
    host.config.write_text(DEBIAN)
    result = call(run_module, host, set=True)
    assert result["changed"] and result["restarted"] and len(restarts(host)) == 1
    document = tomllib.loads(host.config.read_text())
    assert document["plugins"]["io.containerd.grpc.v1.cri"]["registry"] == {"config_path": CERTS_D}
    assert document["plugins"]["io.containerd.grpc.v1.cri"]["cni"]["bin_dir"] == "/usr/lib/cni"
    assert host.config.read_text().startswith(DEBIAN)
    assert open(result["undo"]["backup"]).read() == DEBIAN
    again = call(run_module, host, set=True)
    assert not again["changed"] and again["config_path"] == CERTS_D and len(restarts(host)) == 1


def test_an_existing_registry_table_gets_the_key_under_its_own_header(run_module, host):
    text = DEBIAN + '  [plugins."io.containerd.grpc.v1.cri".registry]  # the operator\'s\n' \
                    '    [plugins."io.containerd.grpc.v1.cri".registry.configs."r.example".auth]\n' \
                    '      username = "ci"\n'
    host.config.write_text(text)
    call(run_module, host, set=True)
    written = host.config.read_text()
    assert "# the operator's\n    config_path = \"/etc/containerd/certs.d\"\n" in written
    assert tomllib.loads(written)["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"] == {
        "r.example": {"auth": {"username": "ci"}}}


@pytest.mark.parametrize("version, table", [("1.7.27", "io.containerd.grpc.v1.cri"),
                                            ("2.1.4", "io.containerd.cri.v1.images")])
def test_a_missing_file_is_written_in_the_version_of_the_installed_containerd(run_module, host, version, table):
    host.version = version
    result = call(run_module, host, set=True)
    document = tomllib.loads(host.config.read_text())
    assert document == {"version": 3 if version.startswith("2.") else 2,
                        "plugins": {table: {"registry": {"config_path": CERTS_D}}}}
    assert result["undo"] == {"backup": None}
    restored = call(run_module, host, restore=result["undo"])
    assert restored["changed"] and not host.config.exists() and len(restarts(host)) == 2


def test_restore_puts_the_previous_file_back(run_module, host):
    host.config.write_text(DEBIAN)
    result = call(run_module, host, set=True)
    call(run_module, host, restore=result["undo"])
    assert host.config.read_text() == DEBIAN and len(restarts(host)) == 2


def test_a_version_1_file_gets_the_short_plugin_name(run_module, host):
    host.config.write_text('root = "/srv/containerd"\n')
    call(run_module, host, set=True)
    assert tomllib.loads(host.config.read_text()) == {
        "root": "/srv/containerd", "plugins": {"cri": {"registry": {"config_path": CERTS_D}}}}


@pytest.mark.parametrize("text, refusal", [
    (DEBIAN + '  [plugins."io.containerd.grpc.v1.cri".registry]\n    config_path = "/etc/containerd/hosts"\n',
     "containerd's CRI plugin reads registry hosts from /etc/containerd/hosts (config_path of "
     "[plugins.\"io.containerd.grpc.v1.cri\".registry] in CONFIG), not /etc/containerd/certs.d."),
    (DEBIAN + '  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n    endpoint = ["https://m"]\n',
     "CONFIG lists mirrors in [plugins.\"io.containerd.grpc.v1.cri\".registry], which containerd does not take "
     "beside config_path (its CRI plugin would not load): move them to hosts.toml files of /etc/containerd/certs.d."),
    (DEBIAN + '  [plugins."io.containerd.grpc.v1.cri".registry.configs."m.example".tls]\n    insecure_skip_verify = true\n',
     "CONFIG has TLS settings for m.example in [plugins.\"io.containerd.grpc.v1.cri\".registry].configs, which "
     "containerd does not take beside config_path"),
], ids=["elsewhere", "mirrors", "tls"])
def test_what_would_break_the_cri_plugin_is_refused_and_nothing_written(run_module, host, text, refusal):
    host.config.write_text(text)
    refusal = refusal.replace("CONFIG", str(host.config))
    assert call(run_module, host)["refusal"].startswith(refusal)
    result = call(run_module, host, set=True)
    assert result["failed"] and result["msg"].startswith(refusal)
    assert host.config.read_text() == text and not restarts(host)


def test_a_table_it_cannot_extend_cleanly_is_refused(run_module, host):
    text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  registry = { auths = {} }\n'
    host.config.write_text(text)
    assert "config_path cannot be added" in call(run_module, host)["refusal"]
    result = call(run_module, host, set=True)
    assert result["failed"] and "config_path cannot be added" in result["msg"] and "yourself" in result["msg"]
    assert host.config.read_text() == text and not restarts(host)


def test_not_toml_is_refused(run_module, host):
    host.config.write_text("version = 2\n[plugins\n")
    result = call(run_module, host)
    assert result["failed"] and result["msg"].startswith(f"{host.config} is not valid TOML")


@pytest.mark.parametrize("disabled", ['["cri"]', '["io.containerd.grpc.v1.cri"]'])
def test_a_disabled_cri_plugin_needs_nothing(run_module, host, disabled):
    text = f"disabled_plugins = {disabled}\n"
    host.config.write_text(text)
    result = call(run_module, host, set=True)
    assert (result["changed"], result["cri"], result["action"]) == (False, False, "none")
    assert host.config.read_text() == text


def test_no_containerd_needs_nothing(run_module, host):
    host.version = None
    result = call(run_module, host, set=True)
    assert (result["changed"], result["installed"]) == (False, False) and not host.config.exists()


def test_check_mode_says_what_it_would_do_and_writes_nothing(run_module, host):
    host.config.write_text(DEBIAN)
    result = call(run_module, host, check_mode=True, set=True)
    assert result["changed"] and result["action"] == "set" and not result["restarted"]
    assert host.config.read_text() == DEBIAN and not restarts(host)
