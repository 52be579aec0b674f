#!/usr/bin/python
"""Keep a role's directories and small text files, all in one step."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dockyard_files
short_description: Keep several directories and small text files in one step
description:
  - Creates each directory of O(directories) (with its parents) and each file of
    O(files) with the given content, gives each the given mode, and removes
    each file of O(absent). One run of this module replaces a C(file) or
    C(copy) task per path, each of which runs a module or two on the host.
  - Idempotent. A file is rewritten only when its content differs, atomically
    and through a symbolic link to the file it points at (the link stays).
  - A path that is not what it should be (a file where a directory belongs, a
    directory where a file belongs or should go, a file that is not UTF-8
    text) is an error, and nothing is written or removed.
  - The contents are never shown, in any output; there is no diff, since the
    files may hold secrets.
  - Supports check mode.
options:
  directories:
    description: Directories to create, in order, with their modes.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      mode:
        description: Its mode, as an octal string such as C("0750").
        type: str
        required: true
  files:
    description: Files to keep, in order, with their contents and modes.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file; its directory must exist or be in O(directories) (in check mode, it may be
          missing).
        type: path
        required: true
      content:
        description: The whole text of the file.
        type: str
        required: true
      mode:
        description: Its mode, as an octal string such as C("0600").
        type: str
        required: true
      backup:
        description: Keep a copy of the file it replaces, named in RV(backups).
        type: bool
        default: false
  absent:
    description: Files (or symbolic links) to remove, by absolute path.
    type: list
    elements: path
    default: []
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
  - Python 3.8 or later on the host, and nothing else.
author:
  - dockyard maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Keep the registry's directories and files.
  dockyard.registry.dockyard_files:
    directories:
      - {path: /etc/dockyard/registry, mode: "0750"}
    files:
      - path: /etc/dockyard/registry/config.yml
        content: "{{ lookup('ansible.builtin.template', 'config.yml.j2') }}"
        mode: "0600"
"""

RETURN = r"""
written:
  description: Files created or whose content changed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/dockyard/registry/config.yml]
backups:
  description: For each file of O(files) with O(files[].backup) that was replaced, the copy of the old one.
  returned: always
  type: dict
  sample: {/etc/nginx/conf.d/dockyard-registry.conf: /etc/nginx/conf.d/dockyard-registry.conf.1234.2026-12-02@18:00:00~}
removed:
  description: Files removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/apt/sources.list.d/docker.sources]
created:
  description: Directories created (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/var/lib/dockyard/registry]
"""

import os
import re
import stat
from typing import NamedTuple

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._file import (
    FileError,
    make_directory,
    read_text,
    set_mode,
    target,
    write_text,
)

ENTRY = dict(path=dict(type="path", required=True), mode=dict(type="str", required=True))
ARGUMENT_SPEC = dict(
    directories=dict(type="list", elements="dict", default=[], options=ENTRY),
    files=dict(type="list", elements="dict", default=[],
               options=dict(ENTRY, content=dict(type="str", required=True, no_log=True),
                            backup=dict(type="bool", default=False))),
    absent=dict(type="list", elements="path", default=[]),
)


def octal(entry):
    mode = entry["mode"]
    if not re.fullmatch(r"0?[0-7]{3,4}", mode or ""):
        raise FileError(f"the mode of {entry['path']} must be an octal string such as \"0750\", not {mode!r}")
    return int(mode, 8)


def absolute(entry):
    if not os.path.isabs(entry["path"]):
        raise FileError(f"{entry['path']} is not an absolute path")
    return entry["path"]


def current_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Step(NamedTuple):
    """What a directory or a file needs."""
    entry: dict
    path: str
    mode: int
    make: bool  # create the directory, or write the file's content
    fix: bool  # set the mode

    @property
    def changes(self):
        return self.make or self.fix


def plan_directory(entry):
    path, mode = absolute(entry), octal(entry)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise FileError(f"{path} is not a directory")
    if not os.path.isdir(path):
        return Step(entry, path, mode, True, True)
    return Step(entry, path, mode, False, current_mode(path) != mode)


def plan_file(entry, directories, check_mode):
    path, mode = absolute(entry), octal(entry)
    if not (os.path.isdir(os.path.dirname(path)) or os.path.dirname(path) in directories or check_mode):
        raise FileError(f"the directory of {path} does not exist")
    text = read_text(path) if os.path.lexists(path) else None
    if text is None:
        return Step(entry, path, mode, True, True)
    return Step(entry, path, mode, text != entry["content"], current_mode(target(path)) != mode)


def plan_absent(path):
    """Whether the file is there to remove."""
    absolute(dict(path=path))
    if os.path.isdir(path) and not os.path.islink(path):
        raise FileError(f"{path} is a directory, not a file")
    return os.path.lexists(path)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise FileError(f"cannot remove {path}: {exc.strerror}") from exc


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    backups = {}
    try:
        # Every path is looked at before any is touched: a refusal writes nothing.
        directories = [plan_directory(entry) for entry in module.params["directories"]]
        created = [directory.path for directory in directories if directory.make]
        made = {path.rstrip("/") for path in created}
        files = [plan_file(entry, made, module.check_mode) for entry in module.params["files"]]
        removed = [path for path in module.params["absent"] if plan_absent(path)]
        if not module.check_mode:
            for directory in directories:
                if directory.make:
                    make_directory(directory.path, directory.mode)
                elif directory.fix:
                    set_mode(directory.path, directory.mode)
            for file in files:
                if file.make and file.entry["backup"] and os.path.exists(file.path):
                    backups[file.path] = module.backup_local(target(file.path))
                if file.make:
                    write_text(module, file.path, file.entry["content"], file.mode)
                if file.fix:
                    set_mode(target(file.path), file.mode)
            for path in removed:
                remove(path)
    except FileError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=any(step.changes for step in directories + files) or bool(removed),
        created=created, removed=removed, backups=backups, written=[file.path for file in files if file.make])


if __name__ == "__main__":
    main()
