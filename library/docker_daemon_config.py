#!/usr/bin/python
"""Merge owned keys into Docker's daemon.json, and say how to apply them or reload dockerd."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_daemon_config
short_description: Merge keys into Docker's daemon.json without clobbering the rest
description:
  - Sets the keys given in O(config) in C(daemon.json) and removes the keys in
    O(remove), leaving every other key of the file as it was, so that settings
    made by hand or by other tools survive.
  - Reports in RV(apply) whether C(systemctl reload docker) (SIGHUP, no container
    stops) is enough for dockerd to take the change, or whether a restart is needed.
  - A key that dockerd keeps in memory when it merely disappears from the file
    (C(registry-mirrors), C(insecure-registries), C(labels),
    C(allow-nondistributable-artifacts)) is removed by writing its empty value,
    so that a reload really drops it. Any other removed key needs a restart.
  - An existing file that is not UTF-8 JSON holding an object is an error, and nothing is written.
  - Where the installed dockerd can check a configuration file (C(dockerd --validate), Docker 23.0 and
    later), the new file is checked before it is written; a file dockerd rejects is an error, and
    nothing is written.
  - A C(daemon.json) that is a symbolic link is written through (the link stays). A file that every
    user may write to is reported with a warning and loses that permission.
  - Warns on every run while the resulting file lists C(insecure-registries), as
    dockerd talks to those over plain HTTP or unverified TLS.
  - With O(reload), the same run reloads dockerd, waits until it has reloaded, and returns the
    registry settings it then runs with.
  - With O(restart), the same run applies the whole change as that policy allows, the keys a
    reload applies first, with a reload, then the keys that need a restart, with a restart, or not
    at all (RV(held)).
  - Supports check mode and diff mode.
options:
  path:
    description: Path of daemon.json.
    type: path
    default: /etc/docker/daemon.json
  config:
    description: Keys to set, each replacing the whole current value of that key.
    type: dict
    default: {}
  remove:
    description:
      - Keys to remove (keys this play used to own). A key both set and removed is an error.
    type: list
    elements: str
    default: []
  backup:
    description: Keep a time-stamped copy of the previous file when it changes.
    type: bool
    default: false
  mode:
    description: File mode of a file the module creates; an existing file keeps its mode.
    type: raw
    default: "0644"
  reload:
    description:
      - When the file changes, reload dockerd with C(systemctl reload docker) (SIGHUP, no container
        stops), wait until dockerd reports the reload done (its C(reload) event), and return the
        registry settings it then runs with in RV(registry_config).
      - A change that needs a restart (RV(apply) C(restart)) is an error, and nothing is written.
      - A reload dockerd does not report within 30 seconds (it refused the file, see its log) is an
        error. The file stays written, for the caller to put the previous values back.
      - dockerd is reached on the Unix socket of E(DOCKER_HOST), else the first C(unix://) entry of
        C(hosts) in the file, else C(/var/run/docker.sock).
    type: bool
    default: false
  restart:
    description:
      - Apply the change to a running dockerd, restarting it only as this policy allows. The keys
        a reload applies are written and reloaded first (as with O(reload)); then the keys that
        need a restart are written and dockerd restarted, or, where the policy does not allow it,
        they are left out of the file, reported in RV(held) and in a warning, and a later run
        applies them.
      - V(safe) restarts only a dockerd that runs no container, or that keeps its containers
        running through a restart (C(live-restore), including when this change turns it on).
        V(always) restarts whatever runs; V(never) never restarts.
      - A dockerd that does not answer (stopped, not yet installed) gets the whole file, which it
        reads when it starts.
      - Mutually exclusive with O(reload).
    type: str
    choices: [safe, always, never]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: posix
requirements:
  - Docker Engine's C(dockerd) on the host, for the optional check of the new file.
  - systemd's C(systemctl) managing C(docker.service), for O(reload).
author:
  - dockyard maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Point dockerd at the mirror and keep containers running across restarts.
  dockyard.registry.docker_daemon_config:
    config:
      registry-mirrors: ["https://mirror.example.com"]
      live-restore: true
  register: daemon_json

- name: Stop using a mirror; the key is emptied so that a reload drops it.
  dockyard.registry.docker_daemon_config:
    remove: [registry-mirrors]

- name: Set keys that need a restart, restarting dockerd only where no container would stop.
  dockyard.registry.docker_daemon_config:
    config:
      live-restore: true
      log-driver: local
    restart: safe
  register: daemon_json

- name: Point dockerd at the mirror, reload it, and check what it now uses.
  dockyard.registry.docker_daemon_config:
    config:
      registry-mirrors: ["https://mirror.example.com"]
    reload: true
  register: daemon_json
  failed_when: daemon_json.registry_config.Mirrors | default([]) != ["https://mirror.example.com/"]
"""

RETURN = r"""
config:
  description: The whole configuration as written (or as it would be, in check mode).
  returned: always
  type: dict
  sample: {"live-restore": true, "registry-mirrors": ["https://mirror.example.com"]}
previous_config:
  description: The whole configuration the file held before (empty if there was no file).
  returned: always
  type: dict
  sample: {"live-restore": true}
changed_keys:
  description: Keys whose value changed, was added or was removed in the file (not the RV(held) ones).
  returned: always
  type: list
  elements: str
  sample: [registry-mirrors]
apply:
  description: >-
    How dockerd takes the change: C(none) (nothing changed), C(reload)
    (SIGHUP is enough) or C(restart).
  returned: always
  type: str
  sample: reload
backup_file:
  description: The copy of the previous file, when O(backup) made one.
  returned: when a backup was made
  type: str
  sample: /etc/docker/daemon.json.12345.2026-11-24@10:15:00~
applied:
  description: >-
    What the run did (or would do, in check mode) to apply the change: C(none), C(reload),
    C(restart), or C(written) (the file only: without O(reload) or O(restart), or for a dockerd
    that does not answer).
  returned: always
  type: str
  sample: restart
held:
  description: Keys that need a restart the O(restart) policy did not allow; the file does not hold them yet.
  returned: always
  type: list
  elements: str
  sample: [log-driver]
registry_config:
  description: >-
    The registry settings dockerd runs with after the reload (C(RegistryConfig) of its
    C(/info), as C(docker info) shows it).
  returned: when O(reload) or O(restart) reloaded dockerd
  type: dict
  sample: {"Mirrors": ["https://mirror.example.com/"], "InsecureRegistryCIDRs": ["127.0.0.0/8"],
           "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": ["https://mirror.example.com/"],
                                          "Secure": true, "Official": true}}}
"""

import http.client
import json
import os
import platform
import socket
import tempfile
import time
import urllib.parse

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._file import (
    FileError,
    drop_world_write,
    json_object,
    read_text,
    world_writable,
    write_text,
)

# Keys that dockerd applies on SIGHUP (daemon/reload.go).
RELOADABLE = frozenset({
    "allow-nondistributable-artifacts",
    "debug",
    "default-runtime",
    "insecure-registries",
    "labels",
    "live-restore",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "registry-mirrors",
    "runtimes",
    "shutdown-timeout",
})

# On reload, dockerd only changes keys present in the file: these are emptied
# rather than deleted, or the daemon silently keeps the old value.
EMPTY_ON_REMOVE = {
    "allow-nondistributable-artifacts": [],
    "insecure-registries": [],
    "labels": [],
    "registry-mirrors": [],
}


MISSING = object()

ARGUMENT_SPEC = dict(
    path=dict(type="path", default="/etc/docker/daemon.json"),
    config=dict(type="dict", default={}),
    remove=dict(type="list", elements="str", default=[]),
    backup=dict(type="bool", default=False),
    mode=dict(type="raw", default="0644"),
    reload=dict(type="bool", default=False),
    restart=dict(type="str", choices=["safe", "always", "never"]),
)

DEFAULT_SOCKET = "/var/run/docker.sock"
# How long dockerd may take to report a reload, or to answer after a restart.
RELOAD_TIMEOUT = 30


class DaemonConfigError(Exception):
    pass


def merge(current, config, remove):
    """Return (new configuration, changed keys, apply) for the requested change."""
    both = sorted(set(config) & set(remove))
    if both:
        raise DaemonConfigError(f"keys both set and removed: {', '.join(both)}")
    new = dict(current)
    new.update(config)
    for key in remove:
        if key in EMPTY_ON_REMOVE:
            if key in new:
                new[key] = EMPTY_ON_REMOVE[key]
        else:
            new.pop(key, None)
    changed, apply = compare(current, new)
    return new, changed, apply


def compare(current, new):
    """The keys that differ between two configurations, and how dockerd takes the change."""
    changed = sorted(k for k in set(current) | set(new) if current.get(k, MISSING) != new.get(k, MISSING))
    if not changed:
        apply = "none"
    elif needs_restart(new, changed):
        apply = "restart"
    else:
        apply = "reload"
    return changed, apply


def needs_restart(new, changed):
    """The changed keys a reload does not apply."""
    return [key for key in changed if key not in RELOADABLE or key not in new]


def render(config):
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def dockerd_rejection(module, text):
    """What the installed dockerd says against text, where it can check a file (23.0 and later)."""
    dockerd = module.get_bin_path("dockerd")
    if not dockerd:
        return None
    rc, out, err = module.run_command([dockerd, "--help"])
    if rc != 0 or "--validate" not in out + err:
        return None
    fd, tmp = tempfile.mkstemp(prefix="daemon.json.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        rc, out, err = module.run_command([dockerd, "--validate", "--config-file", tmp])
    finally:
        os.unlink(tmp)
    return None if rc == 0 else (err or out).strip()


class UnixConnection(http.client.HTTPConnection):
    """HTTP to dockerd's API on its Unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def docker_socket(config):
    """The Unix socket dockerd answers on: DOCKER_HOST's, the file's first unix:// host, or the default."""
    hosts = [os.environ.get("DOCKER_HOST", "")] + [str(host) for host in config.get("hosts") or []]
    return next((host[len("unix://"):] for host in hosts if host.startswith("unix://")), DEFAULT_SOCKET)


def get_info(path):
    """dockerd's /info."""
    info = UnixConnection(path, RELOAD_TIMEOUT)
    try:
        info.request("GET", "/info")
        return json.loads(info.getresponse().read())
    finally:
        info.close()


def running_info(path):
    """dockerd's /info, or None when nothing listens on its socket (dockerd stopped or not installed)."""
    try:
        return get_info(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise DaemonConfigError(f"dockerd could not be reached on {path}: {exc}") from exc


def restart_dockerd(module, path):
    """Restart dockerd and wait until it answers; its /info."""
    rc, out, err = module.run_command([module.get_bin_path("systemctl", required=True), "restart", "docker"])
    if rc:
        raise DaemonConfigError(f"systemctl restart docker failed: {(err or out).strip()}")
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while True:
        info = running_info(path)
        if info is not None:
            return info
        if time.monotonic() > deadline:
            raise DaemonConfigError(f"dockerd did not answer on {path} within {RELOAD_TIMEOUT} s of its restart "
                                    "(see its log)")
        time.sleep(1)


def restart_plan(module, current, new, changed, info):
    """Under the restart policy: the file to write first (current with the changes a reload applies), and the
    keys held back from it."""
    restart_keys = needs_restart(new, changed)
    part = dict(current)
    part.update((key, new[key]) for key in changed if key not in restart_keys)
    if not restart_keys:
        return part, []
    policy = module.params["restart"]
    running = info.get("ContainersRunning") or 0
    # After the reload, dockerd runs with the file's live-restore, or keeps its own.
    live = bool(part.get("live-restore", info.get("LiveRestoreEnabled")))
    if policy == "always" or (policy == "safe" and (not running or live)):
        return part, []
    why = ("the restart policy is never" if policy == "never"
           else f"{running} running container{'s' if running != 1 else ''} would stop (live-restore is off)")
    one = len(restart_keys) == 1
    module.warn(f"{', '.join(restart_keys)} not applied on {platform.node()}: dockerd takes {'it' if one else 'them'} "
                f"only on a restart, and {why}; {'it stays' if one else 'they stay'} out of "
                "the file until a run may restart dockerd.")
    return part, restart_keys


def reload_dockerd(module, path):
    """Reload dockerd and wait for its reload event; its /info then."""
    events = UnixConnection(path, RELOAD_TIMEOUT)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    try:
        # Listening before the signal, so that the reload cannot pass unseen.
        events.request("GET", "/events?" + urllib.parse.urlencode(
            {"filters": json.dumps({"type": ["daemon"], "event": ["reload"]})}))
        stream = events.getresponse()
        if stream.status != 200:
            raise OSError(f"its events answered {stream.status}")
        rc, out, err = module.run_command([module.get_bin_path("systemctl", required=True), "reload", "docker"])
        if rc:
            raise DaemonConfigError(f"systemctl reload docker failed: {(err or out).strip()}")
        while True:
            line = stream.readline()
            if not line:
                raise OSError("its event stream ended")
            if json.loads(line).get("Action") == "reload":
                break
            if time.monotonic() > deadline:
                raise TimeoutError
        return get_info(path)
    except (TimeoutError, socket.timeout) as exc:
        raise DaemonConfigError(f"dockerd did not report a reload within {RELOAD_TIMEOUT} s; "
                                "it may have refused the new file (see its log)") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise DaemonConfigError(f"dockerd could not be reached on {path} to reload it: {exc}") from exc
    finally:
        events.close()


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("reload", "restart")])
    path = module.params["path"]
    try:
        before_text = read_text(path)
        current = json_object(before_text, path)
        new, changed_keys, apply = merge(current, module.params["config"], module.params["remove"])
        # Under a restart policy, a running dockerd takes the reload's part first.
        info = running_info(docker_socket(new)) if module.params["restart"] and changed_keys else None
        part, held = restart_plan(module, current, new, changed_keys, info) if info else (current, [])
    except (FileError, DaemonConfigError) as exc:
        module.fail_json(msg=str(exc))

    if module.params["reload"] and apply == "restart":
        restart_keys = needs_restart(new, changed_keys)
        module.fail_json(msg=f"a reload cannot apply {', '.join(restart_keys)} (dockerd takes "
                             f"{'it' if len(restart_keys) == 1 else 'them'} only on a restart); {path} was left as it was")
    written = part if held else new
    changed_keys, apply = compare(current, written)
    if not changed_keys:
        applied = "none"
    elif info:
        applied = "restart" if written != part else "reload"
    else:
        applied = "reload" if module.params["reload"] else "written"
    if written.get("insecure-registries"):
        module.warn(f"{path} lists insecure-registries {', '.join(map(str, written['insecure-registries']))}: "
                    "dockerd pulls from them over plain HTTP or unverified TLS, where anyone on the "
                    "network path can read or replace images.")
    unsafe = before_text is not None and world_writable(path)
    if unsafe:
        module.warn(f"{path} was writable by every user, who could point dockerd anywhere; "
                    "write permission for others is taken away.")
    result = dict(changed=bool(changed_keys) or unsafe, config=written, previous_config=current,
                  changed_keys=changed_keys, apply=apply, applied=applied, held=held)
    if module._diff:
        result["diff"] = dict(before=render(current) if before_text else "", after=render(written),
                              before_header=path, after_header=path)
    if changed_keys:
        rejection = dockerd_rejection(module, render(written))
        if rejection:
            module.fail_json(msg=f"dockerd rejects the new {path}, which was left as it was: {rejection}", **result)
    try:
        if changed_keys and not module.check_mode:
            if module.params["backup"] and before_text:
                result["backup_file"] = module.backup_local(path)
            socket_path = docker_socket(written)
            if info and part != current:
                write_text(module, path, render(part), module.params["mode"])
                info = reload_dockerd(module, socket_path)
            if applied == "restart":
                write_text(module, path, render(written), module.params["mode"])
                info = restart_dockerd(module, socket_path)
            if not info:
                write_text(module, path, render(written), module.params["mode"])
                if module.params["reload"]:
                    info = reload_dockerd(module, socket_path)
            if info:
                result["registry_config"] = info.get("RegistryConfig", {})
        elif unsafe and not module.check_mode:
            drop_world_write(path)
    except (FileError, DaemonConfigError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
