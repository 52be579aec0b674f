#!/usr/bin/python
"""Make containerd's CRI plugin read registry hosts from a directory, and restart containerd for it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: containerd_hosts_dir
short_description: Make containerd's CRI plugin read each registry's hosts.toml from a directory
description:
  - containerd reads C(<dir>/<registry>/hosts.toml) for the pulls of its CRI plugin (kubelet's, crictl's)
    only when its configuration gives that directory as the CRI registry C(config_path). Without it, those
    pulls ignore every C(hosts.toml), silently.
  - Reads the installed containerd's version and its configuration file, and reports whether the CRI
    plugin is enabled, which C(config_path) it reads (RV(config_path)), the socket containerd answers on
    and whether C(crictl) is installed, in check mode too.
  - The CRI registry table depends on the configuration's C(version), C(plugins.cri.registry) in version 1,
    C(plugins."io.containerd.grpc.v1.cri".registry) in version 2 and C(plugins."io.containerd.cri.v1.images".registry)
    in version 3 (containerd 2.x). A missing or empty file is written as version 2 for containerd 1.x and
    version 3 for 2.x.
  - Refused, in RV(refusal) and with nothing written (an error with O(set)), as containerd would fail to
    load its CRI plugin or read another directory, are a configuration that is not TOML, a C(config_path)
    that names another directory, C(mirrors) or C(configs.<host>.tls) in that table, which containerd
    does not take beside C(config_path), and a file that C(config_path) cannot be added to without changing
    anything else it says (one that defines the table inline, for one).
  - With O(set), a C(config_path) that is missing is added, the file's other settings, comments and layout
    kept (the new file must read as the old one plus that key, or nothing is written), with a backup of the
    old file, and containerd is restarted (C(systemctl restart containerd), which stops no running
    container, as their shims keep running) and waited for, and RV(undo) says how to put the old file back.
  - With O(restore), the file is put back as RV(undo) of an earlier run describes it, and containerd is
    restarted.
  - A host without containerd, or whose CRI plugin is disabled, needs nothing.
  - Supports check mode.
options:
  hosts_dir:
    description: Directory of the C(hosts.toml) files the CRI plugin is to read.
    type: path
    default: /etc/containerd/certs.d
  config:
    description: containerd's configuration file.
    type: path
    default: /etc/containerd/config.toml
  set:
    description: Add O(hosts_dir) as C(config_path) where it is missing, and restart containerd.
    type: bool
    default: false
  restore:
    description:
      - RV(undo) of an earlier run with O(set); puts that file back (or removes a file that run created)
        and restarts containerd. O(set) is then ignored.
    type: dict
author:
  - dockyard maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
requirements:
  - Python 3.11 or later on the host (its C(tomllib)).
  - systemd's C(systemctl) managing C(containerd.service), and containerd's C(ctr), for O(set) and O(restore).
"""

EXAMPLES = r"""
- name: Find what containerd reads, and refuse what would break its CRI plugin.
  dockyard.registry.containerd_hosts_dir:
  register: containerd_cri
  failed_when: containerd_cri.refusal | length > 0

- name: Make the CRI plugin read /etc/containerd/certs.d, restarting containerd only if it did not.
  dockyard.registry.containerd_hosts_dir:
    set: true
  register: containerd_cri

- name: Put the previous configuration back.
  dockyard.registry.containerd_hosts_dir:
    restore: "{{ containerd_cri.undo }}"
  when: containerd_cri.undo is defined
"""

RETURN = r"""
installed:
  description: Whether containerd is installed.
  returned: always
  type: bool
version:
  description: The installed containerd's version, as C(containerd --version) gives it.
  returned: when containerd is installed
  type: str
  sample: 1.6.20
cri:
  description: Whether the configuration leaves the CRI plugin enabled.
  returned: when containerd is installed
  type: bool
config_path:
  description: The CRI registry C(config_path) of the configuration (after the run), or an empty string.
  returned: when containerd is installed
  type: str
  sample: /etc/containerd/certs.d
address:
  description: The Unix socket containerd answers on (C(grpc.address) of the configuration, or its default).
  returned: when containerd is installed
  type: str
  sample: /run/containerd/containerd.sock
crictl:
  description: Path of C(crictl), which pulls through the CRI plugin as kubelet does, or an empty string.
  returned: when containerd is installed
  type: str
  sample: /usr/local/bin/crictl
action:
  description: C(set) when C(config_path) is (or, without O(set) or in check mode, would be) added, else C(none).
  returned: when containerd is installed
  type: str
refusal:
  description: Why the configuration cannot be made to read O(hosts_dir), as a sentence, or an empty string.
  returned: always
  type: str
restarted:
  description: Whether containerd was restarted.
  returned: always
  type: bool
undo:
  description: What O(restore) needs to put the previous file back, after a run that changed it.
  returned: when the file was written
  type: dict
  sample: {backup: /etc/containerd/config.toml.1234.2026-12-04@22:00:00~}
"""

import os
import re
import time

try:
    import tomllib
except ImportError:  # Python before 3.11
    tomllib = None

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._file import FileError, read_text, write_text

# The CRI plugin's registry table in each configuration version, and its header.
TABLES = {
    1: (("plugins", "cri", "registry"), "[plugins.cri.registry]"),
    2: (("plugins", "io.containerd.grpc.v1.cri", "registry"), '[plugins."io.containerd.grpc.v1.cri".registry]'),
    3: (("plugins", "io.containerd.cri.v1.images", "registry"), '[plugins."io.containerd.cri.v1.images".registry]'),
}
CRI_PLUGINS = {"cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images"}
READY_SECONDS = 60


class HostsDirError(Exception):
    pass


def containerd_version(module):
    """The installed containerd's version, or None when there is none."""
    binary = module.get_bin_path("containerd")
    if binary is None:
        return None
    rc, out, err = module.run_command([binary, "--version"])
    match = re.search(r"\sv?(\d+\.\d+\.\d+\S*)", out)
    if rc != 0 or match is None:
        raise HostsDirError(f"containerd --version gave no version: {(err or out).strip()}")
    return match.group(1)


def parse(text, path):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HostsDirError(f"{path} is not valid TOML ({exc}); fix it first") from exc


def lookup(document, keys):
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document if isinstance(document, dict) else {}


def header_pattern(keys):
    """A line that opens this table, however its keys are quoted and spaced."""
    parts = [rf'(?:{re.escape(key)}|"{re.escape(key)}")' for key in keys]
    return re.compile(r"^([ \t]*)\[[ \t]*" + r"[ \t]*\.[ \t]*".join(parts) + r"[ \t]*\][ \t]*(?:#.*)?$", re.M)


def socket_of(document):
    return str(lookup(document, ("grpc",)).get("address") or "/run/containerd/containerd.sock")


def with_config_path(text, version, hosts_dir, new):
    """The text with config_path added to the CRI registry table (and the version line to a new file)."""
    keys, header = TABLES[version]
    line = f'config_path = "{hosts_dir}"'
    match = header_pattern(keys).search(text)
    if match:
        return f"{text[:match.end()]}\n{match.group(1)}  {line}{text[match.end():]}"
    separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    version_line = f"version = {version}\n\n" if new else ""
    return f"{text}{separator}{version_line}{header}\n  {line}\n"


def expected(document, version, hosts_dir, new):
    """The document as it must read once config_path is added."""
    result = dict(document, version=version) if new else dict(document)
    table = result
    for key in TABLES[version][0]:
        table[key] = dict(table.get(key) or {})
        table = table[key]
    table["config_path"] = hosts_dir
    return result


class State:
    """What the configuration file holds, and what it needs."""

    def __init__(self, path, hosts_dir, major):
        self.path = path
        self.text = read_text(path)
        document = parse(self.text or "", path)
        # Nothing but comments: containerd's defaults, in the version of its major.
        self.new = not document
        self.version = (3 if major >= 2 else 2) if self.new else int(document.get("version", 1))
        if self.version not in TABLES:
            raise HostsDirError(f"{path} has version = {self.version}, which no containerd reads (1, 2 or 3)")
        self.document = document
        self.cri = not CRI_PLUGINS.intersection(document.get("disabled_plugins") or [])
        self.registry = lookup(document, TABLES[self.version][0])
        self.config_path = str(self.registry.get("config_path") or "")
        self.address = socket_of(document)
        self.hosts_dir = hosts_dir

    def refusal(self):
        table = TABLES[self.version][1]
        if not self.cri:
            return ""
        if self.config_path and os.path.normpath(self.config_path) != os.path.normpath(self.hosts_dir):
            return (f"containerd's CRI plugin reads registry hosts from {self.config_path} (config_path of {table} "
                    f"in {self.path}), not {self.hosts_dir}.")
        if self.registry.get("mirrors"):
            return (f"{self.path} lists mirrors in {table}, which containerd does not take beside config_path (its "
                    f"CRI plugin would not load): move them to hosts.toml files of {self.hosts_dir}.")
        tls = sorted(host for host, config in (self.registry.get("configs") or {}).items()
                     if isinstance(config, dict) and "tls" in config)
        if tls:
            return (f"{self.path} has TLS settings for {', '.join(tls)} in {table}.configs, which containerd does "
                    f"not take beside config_path (its CRI plugin would not load): move them to hosts.toml "
                    f"files of {self.hosts_dir} (ca, client, skip_verify).")
        return ""

    def new_text(self):
        text = with_config_path(self.text or "", self.version, self.hosts_dir, self.new)
        try:
            same = tomllib.loads(text) == expected(self.document, self.version, self.hosts_dir, self.new)
        except tomllib.TOMLDecodeError:
            same = False
        if not same:
            raise HostsDirError(
                f"config_path cannot be added to {self.path} without changing anything else it says: add "
                f"config_path = \"{self.hosts_dir}\" to its {TABLES[self.version][1]} table yourself.")
        return text


def restart(module, address):
    """Restart containerd and wait until it answers on its socket."""
    rc, out, err = module.run_command([module.get_bin_path("systemctl", required=True), "restart", "containerd"])
    if rc != 0:
        raise HostsDirError(f"systemctl restart containerd failed: {(err or out).strip()}")
    ctr = module.get_bin_path("ctr", required=True)
    deadline = time.monotonic() + READY_SECONDS
    while True:
        rc, out, err = module.run_command([ctr, "--address", address, "version"])
        if rc == 0:
            return
        if time.monotonic() > deadline:
            raise HostsDirError(f"containerd did not answer within {READY_SECONDS} s of its restart: "
                                f"{(err or out).strip()}")
        time.sleep(0.5)


def put_back(module, config, undo):
    backup = undo.get("backup")
    if backup:
        text = read_text(backup)
        if text is None:
            raise HostsDirError(f"the backup {backup} of {config} is gone")
        write_text(module, config, text, "0644")
    elif os.path.lexists(config):
        try:
            os.unlink(config)
        except OSError as exc:
            raise HostsDirError(f"cannot remove {config}: {exc.strerror}") from exc


def main():
    module = AnsibleModule(
        argument_spec=dict(hosts_dir=dict(type="path", default="/etc/containerd/certs.d"),
                           config=dict(type="path", default="/etc/containerd/config.toml"),
                           set=dict(type="bool", default=False),
                           restore=dict(type="dict")),
        supports_check_mode=True)
    if tomllib is None:
        module.fail_json(msg="containerd_hosts_dir needs Python 3.11 or later on the host (tomllib).")
    config, hosts_dir = module.params["config"], module.params["hosts_dir"]
    try:
        if module.params["restore"] is not None:
            if not module.check_mode:
                put_back(module, config, module.params["restore"])
                restart(module, socket_of(parse(read_text(config) or "", config)))
            module.exit_json(changed=True, restarted=not module.check_mode, refusal="")
        version = containerd_version(module)
        if version is None:
            module.exit_json(changed=False, installed=False, restarted=False, refusal="")
        state = State(config, hosts_dir, int(version.split(".")[0]))
    except (FileError, HostsDirError) as exc:
        module.fail_json(msg=str(exc), restarted=False)
    facts = dict(installed=True, version=version, cri=state.cri, refusal=state.refusal(), restarted=False,
                 address=state.address, crictl=module.get_bin_path("crictl") or "")
    action, text = "none", None
    if state.cri and not facts["refusal"] and not state.config_path:
        # A file config_path cannot be added to is refused before anything changes.
        try:
            action, text = "set", state.new_text()
        except HostsDirError as exc:
            facts["refusal"] = str(exc)
    if facts["refusal"] and module.params["set"]:
        module.fail_json(msg=facts["refusal"], **facts, action=action, config_path=state.config_path)
    if action == "none" or not module.params["set"]:
        module.exit_json(changed=False, **facts, action=action, config_path=state.config_path)
    undo = None
    try:
        if module.check_mode:
            module.exit_json(changed=True, **facts, action=action, config_path=hosts_dir)
        undo = {"backup": module.backup_local(config) if state.text is not None else None}
        write_text(module, config, text, "0644")
        facts["restarted"] = True
        restart(module, state.address)
    except (FileError, HostsDirError) as exc:
        module.fail_json(msg=str(exc), **facts, action=action, config_path=hosts_dir,
                         **({"undo": undo} if undo else {}))
    module.exit_json(changed=True, **facts, action=action, config_path=hosts_dir, undo=undo)


if __name__ == "__main__":
    main()
