#!/usr/bin/python
"""Keep a bcrypt htpasswd file for the distribution registry or nginx."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_htpasswd
short_description: Keep the users of a bcrypt htpasswd file
description:
  - Writes the users given in O(users) to an htpasswd file with bcrypt hashes, the
    only kind the distribution registry accepts (nginx accepts them too).
  - Idempotent. An entry whose password still verifies against its hash of cost O(cost) is
    left as it is; only new users, changed passwords, non-bcrypt hashes and hashes of
    another cost are (re)hashed.
  - With O(exclusive), users not listed are removed.
  - An existing file that cannot be read or has a line that is not C(user:hash) is
    an error, and nothing is written.
  - Supports check mode and diff mode; the diff lists user names, never hashes.
  - Needs the Python C(bcrypt) library on the host (Debian's C(python3-bcrypt)), except in check mode where
    the file does not exist yet, where it reports every user as added.
options:
  path:
    description: Path of the htpasswd file.
    type: path
    required: true
  users:
    description: Users to keep in (or take out of) the file.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name; no colon, space or line break.
        type: str
        required: true
      password:
        description: Password, at most 72 bytes (bcrypt ignores the rest). Required when O(users[].state=present).
        type: str
      state:
        description: Whether the user is in the file.
        type: str
        choices: [present, absent]
        default: present
  exclusive:
    description: Remove users that O(users) does not list.
    type: bool
    default: false
  cost:
    description:
      - bcrypt cost factor of the hashes, 4 to 31; a hash of another cost is replaced (the password verifies, so it is
        hashed again at this cost).
      - Each step doubles the time a check of the password takes, which is paid on every request that logs in.
    type: int
    default: 10
extends_documentation_fragment:
  - ansible.builtin.files
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
  - The Python C(bcrypt) library on the host (Debian's C(python3-bcrypt)).
author:
  - dockyard maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Keep exactly these registry users.
  dockyard.registry.registry_htpasswd:
    path: /etc/dockyard/registry/htpasswd
    users:
      - name: ci
        password: "{{ vault_ci_password }}"
    exclusive: true
    mode: "0640"
"""

RETURN = r"""
added:
  description: Users added to the file.
  returned: always
  type: list
  elements: str
  sample: [ci]
updated:
  description: Users whose hash was replaced (new password, a hash that was not bcrypt, or one of another cost).
  returned: always
  type: list
  elements: str
  sample: [deploy]
removed:
  description: Users taken out of the file.
  returned: always
  type: list
  elements: str
  sample: [former-colleague]
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils._file import FileError, read_text, world_writable, write_text

try:
    import bcrypt
except ImportError:
    bcrypt = None

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
MAX_PASSWORD_BYTES = 72

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    users=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        password=dict(type="str", no_log=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )),
    exclusive=dict(type="bool", default=False),
    cost=dict(type="int", default=10),
)


class HtpasswdError(Exception):
    pass


def parse(text, path):
    """Return the file's entries as an ordered dict user -> hash."""
    entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not name or not hashed:
            raise HtpasswdError(f"{path} line {number} is not 'user:hash'; fix or remove the file first")
        entries[name] = hashed
    return entries


def cost_of(hashed):
    """The cost factor of a bcrypt hash ($2b$10$...), or None."""
    found = re.match(r"\$2[aby]\$([0-9]{2})\$", hashed)
    return int(found.group(1)) if found else None


def verifies(password, hashed):
    if not hashed.startswith(BCRYPT_PREFIXES):
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def plan(entries, users, exclusive, cost):
    """Return (new entries, added, updated, removed)."""
    new = dict(entries)
    added, updated, removed = [], [], []
    wanted = set()
    for user in users:
        name = user["name"]
        if user["state"] == "absent":
            if new.pop(name, None) is not None:
                removed.append(name)
            continue
        wanted.add(name)
        if name in new and cost_of(new[name]) == cost and verifies(user["password"], new[name]):
            continue
        (updated if name in new else added).append(name)
        new[name] = bcrypt.hashpw(user["password"].encode(), bcrypt.gensalt(rounds=cost)).decode()
    if exclusive:
        for name in [n for n in new if n not in wanted]:
            del new[name]
            removed.append(name)
    return new, added, updated, removed


def check_users(users):
    seen = set()
    for user in users:
        name = user["name"]
        if not name or re.search(r"[:\s]", name):
            raise HtpasswdError(f"user name {name!r} is empty or has a colon, a space or a line break")
        if name in seen:
            raise HtpasswdError(f"user {name} is listed twice")
        seen.add(name)
        if user["state"] == "present":
            if not user.get("password"):
                raise HtpasswdError(f"user {name} has no password")
            if len(user["password"].encode()) > MAX_PASSWORD_BYTES:
                raise HtpasswdError(
                    f"the password of {name} is longer than {MAX_PASSWORD_BYTES} bytes, "
                    "and bcrypt would ignore the rest; choose a shorter one")


def render(entries):
    return "".join(f"{name}:{hashed}\n" for name, hashed in entries.items())


def names(entries):
    return "".join(f"{name}\n" for name in entries)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, add_file_common_args=True, supports_check_mode=True)
    path = module.params["path"]
    if bcrypt is None:
        # Check mode on a fresh host, where a real run installs the library first: every user would be added.
        if module.check_mode and not os.path.lexists(path):
            try:
                check_users(module.params["users"])
            except HtpasswdError as exc:
                module.fail_json(msg=str(exc))
            module.exit_json(changed=True, added=[user["name"] for user in module.params["users"]
                                                  if user["state"] == "present"], updated=[], removed=[])
        module.fail_json(msg=missing_required_lib("bcrypt (Debian: python3-bcrypt)"))
    if module.params["mode"] is None:
        module.params["mode"] = "0640"
    if not 4 <= module.params["cost"] <= 31:
        module.fail_json(msg=f"cost {module.params['cost']} is not a bcrypt cost: give 4 to 31")
    try:
        check_users(module.params["users"])
        text = read_text(path)
        entries = parse(text or "", path)
        new, added, updated, removed = plan(
            entries, module.params["users"], module.params["exclusive"], module.params["cost"])
    except (HtpasswdError, FileError) as exc:
        module.fail_json(msg=str(exc))

    if text is not None and world_writable(path):
        module.warn(f"{path} was writable by every user, who could add themselves; it gets mode "
                    f"{module.params['mode']}.")
    changed = bool(added or updated or removed) or text is None
    result = dict(added=added, updated=updated, removed=removed)
    if module._diff:
        result["diff"] = dict(before=names(entries), after=names(new),
                              before_header=f"{path} (users)", after_header=f"{path} (users)")
    try:
        if changed and not module.check_mode:
            write_text(module, path, render(new), module.params["mode"])
    except FileError as exc:
        module.fail_json(msg=str(exc), **result)
    if os.path.exists(path):
        file_args = module.load_file_common_arguments(module.params)
        changed = module.set_fs_attributes_if_different(file_args, changed)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
