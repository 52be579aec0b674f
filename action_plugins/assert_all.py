"""Checks in order, in one task: the first whose condition fails fails the task with its message."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

REQUIRED_KEYS = {"name", "that", "fail_msg"}
CHECK_KEYS = REQUIRED_KEYS | {"when"}


def conditions(value):
    """A condition, or a list of them, as a list (a condition may hold commas)."""
    return value if isinstance(value, list) else [value]


class ActionModule(ActionBase):
    """Evaluate each check's when and that only when it is reached, and its message only when it fails."""

    _requires_connection = False

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        # The checks are conditions and message templates, evaluated one by
        # one in run(): templated here, every message would be rendered, even
        # those whose variables only a failed check makes meaningful.
        if name == "checks":
            return value
        return super().finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        checks = self._task.args.get("checks")
        if set(self._task.args) != {"checks"} or not isinstance(checks, list) or not checks:
            raise AnsibleActionFail("assert_all takes one argument, checks: a list of checks.")
        for index, check in enumerate(checks):
            if not isinstance(check, dict) or not REQUIRED_KEYS <= set(check) <= CHECK_KEYS:
                raise AnsibleActionFail(f"checks[{index}] must be a mapping of name, that, fail_msg and, optionally, when.")
            if not all(self._templar.evaluate_conditional(c) for c in conditions(check.get("when", []))):
                continue
            for that in conditions(check["that"]):
                if not self._templar.evaluate_conditional(that):
                    result.update(failed=True, check=check["name"], assertion=that,
                                  msg=self._templar.template(check["fail_msg"]))
                    return result
        result.update(changed=False, msg=f"All {len(checks)} checks passed.")
        return result
