#!/usr/bin/python
"""Trust and log in to the registries a Docker host uses: certs.d CAs and logins."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_registries
short_description: Trust a CA per registry in Docker's certs.d and log in to it, or forget the registry
description:
  - For each registry of O(registries) in state C(present), writes C(<path>/<address>/ca.crt) when a CA is
    given, creating its folder, and logs in when a username is given; for each registry in state C(absent),
    removes its folder C(<path>/<address>) and its login. All in one run on the host, so that a fleet rollout
    costs one module run a host for all its registries. dockerd reads the CA files on its next connection to
    the registry; no reload is needed.
  - A file that already holds the certificate is left as it is; an existing file keeps its mode, less
    write permission for other users.
  - Logins go through the Docker CLI (C(docker login --password-stdin), after the CAs are written, so that
    dockerd checks the password against the registry over the trusted TLS, and C(docker logout)), which
    stores them where the host's Docker client keeps them (C(~/.docker/config.json) or its credential
    helper). A login whose stored username and password are already these is not made again, and a
    password the registry refuses is an error that names the registry.
  - An address that is not one folder name (empty, C(.), C(..), starting with a dot, or holding C(/)) is an
    error, and nothing is written.
  - Supports check mode and diff mode; passwords never appear in the result or the diff.
options:
  path:
    description: The folder of dockerd's per-registry certificates.
    type: path
    default: /etc/docker/certs.d
  registries:
    description: The registries whose trust and login this run sets or takes away.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The registry as dockerd names it, C(host[:port]).
        type: str
        required: true
      ca:
        description: The CA certificate, PEM text; without it, the registry's certificate must chain to a CA the host trusts.
        type: str
      username:
        description: The user to log in as (with O(registries[].password)).
        type: str
      password:
        description: The password of O(registries[].username).
        type: str
      state:
        description: C(present) writes C(ca.crt) and logs in; C(absent) removes the registry's folder and logs out.
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
    support: full
    platforms: posix
requirements:
  - Docker Engine on the host, which reads the files on its next connection to each registry, and the
    Docker CLI (C(docker)) for logins.
author:
  - dockyard maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Trust the registry's CA and log in, and forget the registry that was retired.
  dockyard.registry.docker_registries:
    registries:
      - address: registry.example.com:443
        ca: "{{ lookup('ansible.builtin.file', 'files/registry-ca.crt') }}"
        username: ci
        password: "{{ vault_registry_password }}"
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
logged_in:
  description: Addresses logged in to by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["registry.example.com:443"]
logged_out:
  description: Addresses logged out of by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["old-registry.example.com"]
"""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._file import (
    FileError,
    drop_world_write,
    json_object,
    read_text,
    world_writable,
    write_text,
)

ARGUMENT_SPEC = dict(
    path=dict(type="path", default="/etc/docker/certs.d"),
    registries=dict(type="list", elements="dict", default=[], options=dict(
        address=dict(type="str", required=True),
        ca=dict(type="str"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    ), required_together=[("username", "password")]),
)


class LoginError(Exception):
    pass


class Write(NamedTuple):
    """A CA file to write (text None: only to take write permission for others away)."""
    certificate: str
    text: str | None
    address: str


class Removal(NamedTuple):
    """A registry's folder to remove."""
    folder: str
    address: str


def folder_name(address):
    """The address, when it is one folder name under certs.d."""
    if not address or address.startswith(".") or "/" in address or "\0" in address:
        raise FileError(f"registry address {address!r} is not one folder name under certs.d")
    return address


def plan(path, registries):
    """([Write], [Removal], diff)."""
    writes, removals, before, after = [], [], [], []
    for registry in registries:
        folder = os.path.join(path, folder_name(registry["address"]))
        if registry["state"] == "absent":
            if os.path.lexists(folder):
                removals.append(Removal(folder, registry["address"]))
                before.append(f"{folder}/\n")
            continue
        if registry["ca"] is None:
            continue
        certificate = os.path.join(folder, "ca.crt")
        text = registry["ca"] if registry["ca"].endswith("\n") else registry["ca"] + "\n"
        current = read_text(certificate)
        if current != text:
            writes.append(Write(certificate, text, registry["address"]))
            before.append(f"{certificate}:\n{current}" if current is not None else "")
            after.append(f"{certificate}:\n{text}")
        elif world_writable(certificate):
            writes.append(Write(certificate, None, registry["address"]))
    return writes, removals, {"before": "".join(before), "after": "".join(after)}


def remove(folder):
    try:
        if os.path.isdir(folder) and not os.path.islink(folder):
            shutil.rmtree(folder)
        else:
            os.unlink(folder)
    except OSError as exc:
        raise FileError(f"cannot remove {folder}: {exc.strerror}") from exc


def client_config():
    """The Docker client's configuration (config.json), as the CLI finds it."""
    directory = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    path = os.path.join(directory, "config.json")
    return json_object(read_text(path), path)


def stored_login(config, address):
    """(username, password) the client has stored for address, or None."""
    helper = (config.get("credHelpers") or {}).get(address) or config.get("credsStore")
    if helper:
        try:
            answer = subprocess.run([f"docker-credential-{helper}", "get"], input=address, capture_output=True,
                                    text=True, check=False, timeout=30)
        except OSError as exc:
            raise LoginError(f"the credential helper docker-credential-{helper} does not run: {exc.strerror}") from exc
        if answer.returncode:
            return None
        try:
            found = json.loads(answer.stdout)
        except ValueError as exc:
            raise LoginError(f"the credential helper docker-credential-{helper} answered no JSON") from exc
        return found.get("Username"), found.get("Secret")
    auth = ((config.get("auths") or {}).get(address) or {}).get("auth")
    if not auth:
        return None
    username, _colon, password = base64.b64decode(auth).decode("utf-8", "replace").partition(":")
    return username, password


def docker(module, arguments, data=None):
    """Run the Docker CLI; a failure is a LoginError with its own words."""
    rc, out, err = module.run_command([module.get_bin_path("docker", required=True), *arguments], data=data,
                                      binary_data=True)
    if rc:
        raise LoginError(f"docker {arguments[0]} {arguments[-1]} failed: {(err or out).strip()}")


def logins(module, registries):
    """(addresses to log in to, addresses to log out of), made unless in check mode."""
    config = client_config()
    logged_in, logged_out = [], []
    for registry in registries:
        address, stored = registry["address"], stored_login(config, registry["address"])
        if registry["state"] == "absent":
            if stored:
                logged_out.append(address)
                if not module.check_mode:
                    docker(module, ["logout", address])
        elif registry["username"] is not None and stored != (registry["username"], registry["password"]):
            logged_in.append(address)
            if not module.check_mode:
                docker(module, ["login", "--username", registry["username"], "--password-stdin", address],
                       data=registry["password"])
    return logged_in, logged_out


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        writes, removals, diff = plan(module.params["path"], module.params["registries"])
    except FileError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(writes or removals), written=[write.address for write in writes if write.text],
                  removed=[removal.address for removal in removals], logged_in=[], logged_out=[])
    try:
        for write in writes if not module.check_mode else []:
            if write.text is None:
                module.warn(f"{write.certificate} was writable by every user; write permission for others is taken away.")
                drop_world_write(write.certificate)
            else:
                write_text(module, write.certificate, write.text, "0644")
        for removal in removals if not module.check_mode else []:
            remove(removal.folder)
        # After the CAs: dockerd checks a login over the TLS they let it trust.
        result["logged_in"], result["logged_out"] = logins(module, module.params["registries"])
    except (FileError, LoginError) as exc:
        module.fail_json(msg=str(exc), **result)
    result["changed"] = result["changed"] or bool(result["logged_in"] or result["logged_out"])
    if module._diff:
        diff["before"] += "".join(f"login to {address}\n" for address in result["logged_out"])
        diff["after"] += "".join(f"login to {address}\n" for address in result["logged_in"])
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
