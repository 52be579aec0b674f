"""Run the project's Ansible modules in-process, as Ansible would call them."""

import json

import pytest
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run_module(capsys):
    """Call a module's main() with args; return its JSON result."""

    def run(main, args, check_mode=False, diff=False):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        # Ansible runs each module in a fresh process: no warnings carried over.
        warnings._global_warnings.clear()
        with patch_module_args(args), pytest.raises(SystemExit):
            main()
        return json.loads(capsys.readouterr().out)

    return run
