#!/usr/bin/python
"""Documentation of the assert_all action (action_plugins/assert_all.py), which runs on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: assert_all
short_description: Many checks in one task, each with its own message
description:
  - Evaluates O(checks) in order and fails at the first whose O(checks[].when)
    holds and one of whose O(checks[].that) conditions does not, with that
    check's O(checks[].fail_msg), its O(checks[].name) and the condition that failed.
  - Each condition is evaluated only when the check is reached, and each
    message is rendered only when its check fails, so a later check may rely
    on what an earlier one refused, and a message may use what only a failed
    check makes meaningful.
  - One task instead of one task per check, each of which costs a worker
    process on every host.
  - Runs on the controller; changes nothing.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
requirements:
  - Nothing on the host, where nothing runs (the checks run on the controller).
author:
  - dockyard maintainers (!UNKNOWN)
options:
  checks:
    description: The checks, in the order they are evaluated.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: What the check refuses, as a sentence.
        type: str
        required: true
      that:
        description: The conditions (bare Jinja2 expressions, as in M(ansible.builtin.assert)) that must all hold.
        type: raw
        required: true
      fail_msg:
        description: The message when a condition does not hold; a template rendered only then.
        type: str
        required: true
      when:
        description: Conditions under which the check applies; the check is passed over when one does not hold.
        type: raw
"""

EXAMPLES = r"""
- name: Refuse registry settings that cannot work together.
  dockyard.registry.assert_all:
    checks:
      - name: Refuse a redis database number redis does not have.
        that: registry_redis_db >= 0 and registry_redis_db <= 15
        fail_msg: registry_redis_db {{ registry_redis_db }} is not valid; give a number from 0 to 15.
      - name: Refuse a mirror that asks for passwords.
        when: registry_proxy_remoteurl | length > 0
        that: registry_auth == 'none'
        fail_msg: A mirror takes no passwords; set registry_auth to none.
"""

RETURN = r"""
check:
  description: The name of the check that failed.
  returned: failure
  type: str
assertion:
  description: The condition that did not hold.
  returned: failure
  type: str
msg:
  description: The failed check's message, or how many checks passed.
  returned: always
  type: str
"""
