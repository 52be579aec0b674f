#!/usr/bin/python
"""Keep the CA certificates dockerd trusts per registry, in /etc/docker/certs.d."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_registry_ca
short_description: Trust a CA per registry in Docker's certs.d, or take the trust away
description:
  - Writes C(<path>/<address>/ca.crt) for each registry of O(registries) in state C(present), creating its
    folder, and removes the folder C(<path>/<address>) of each registry in state C(absent), all in one run
    on the host. dockerd reads these files on its next connection to the registry; no reload is needed.
  - A file that already holds the certificate is left as it is; an existing file keeps its mode, less
    write permission for other users.
  - An address that is not one folder name (empty, C(.), C(..), starting with a dot, or holding C(/)) is an
    error, and nothing is written.
  - Supports check mode and diff mode.
options:
  path:
    description: The folder of dockerd's per-registry certificates.
    type: path
    default: /etc/docker/certs.d
  registries:
    description: The registries whose trust this run sets or takes away.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The registry as dockerd names it, C(host[:port]).
        type: str
        required: true
      ca:
        description: The CA certificate, PEM text (required unless O(registries[].state) is C(absent)).
        type: str
      state:
        description: C(present) writes C(ca.crt); C(absent) removes the registry's folder.
        type: str
        choices: [present, absent]
        default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
requirements:
  - Docker Engine on the host, which reads the files on its next connection to each registry.
author:
  - dockyard contributors
"""

EXAMPLES = r"""
- name: Trust the registry's CA, and forget the registry that was retired.
  docker_registry_ca:
    registries:
      - address: registry.example.com:443
        ca: "{{ lookup('ansible.builtin.file', 'files/registry-ca.crt') }}"
      - address: old-registry.example.com
        state: absent
"""

RETURN = r"""
written:
  description: Addresses whose C(ca.crt) was written (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["registry.example.com:443"]
removed:
  description: Addresses whose folder was removed (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["old-registry.example.com"]
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.dockyard_file import FileError, drop_world_write, read_text, world_writable, write_text

ARGUMENT_SPEC = dict(
    path=dict(type="path", default="/etc/docker/certs.d"),
    registries=dict(type="list", elements="dict", default=[], options=dict(
        address=dict(type="str", required=True),
        ca=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    ), required_if=[("state", "present", ["ca"])]),
)


def folder_name(address):
    """The address, when it is one folder name under certs.d."""
    if not address or address.startswith(".") or "/" in address or "\0" in address:
        raise FileError(f"registry address {address!r} is not one folder name under certs.d")
    return address


def plan(path, registries):
    """(files to write as (file, text, address), folders to remove as (folder, address), diff)."""
    writes, removals, before, after = [], [], [], []
    for registry in registries:
        folder = os.path.join(path, folder_name(registry["address"]))
        if registry["state"] == "absent":
            if os.path.lexists(folder):
                removals.append((folder, registry["address"]))
                before.append(f"{folder}/\n")
            continue
        certificate = os.path.join(folder, "ca.crt")
        text = registry["ca"] if registry["ca"].endswith("\n") else registry["ca"] + "\n"
        current = read_text(certificate)
        if current != text:
            writes.append((certificate, text, registry["address"]))
            before.append(f"{certificate}:\n{current}" if current is not None else "")
            after.append(f"{certificate}:\n{text}")
        elif world_writable(certificate):
            writes.append((certificate, None, registry["address"]))
    return writes, removals, {"before": "".join(before), "after": "".join(after)}


def remove(folder):
    try:
        if os.path.isdir(folder) and not os.path.islink(folder):
            shutil.rmtree(folder)
        else:
            os.unlink(folder)
    except OSError as exc:
        raise FileError(f"cannot remove {folder}: {exc.strerror}") from exc


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        writes, removals, diff = plan(module.params["path"], module.params["registries"])
    except FileError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(writes or removals), written=[address for _, text, address in writes if text],
                  removed=[address for _, address in removals])
    if module._diff:
        result["diff"] = diff
    try:
        for certificate, text, _ in writes if not module.check_mode else []:
            if text is None:
                module.warn(f"{certificate} was writable by every user; write permission for others is taken away.")
                drop_world_write(certificate)
            else:
                write_text(module, certificate, text, "0644")
        for folder, _ in removals if not module.check_mode else []:
            remove(folder)
    except FileError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
