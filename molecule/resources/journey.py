#!/usr/bin/env python3
"""Run a documented journey (docs/journeys/<name>/) exactly as the documentation shows it.

The journey's commands.sh holds the commands an operator types, from the
project's directory; every line that is not a comment runs, in order, in
WORKDIR, a copy of that directory (each of its entries linked, but
inventory.example copied, so that inventory/ is the run's own). Once a
command has made inventory/ (cp -r inventory.example inventory), the
journey's other files are written over it, as the operator writes them, with
the files the operator brings (FILES: a path in the inventory, and the test's
file to copy there), and then the test's only change: the placeholder host
names replaced by the test hosts (HOSTS), each reached over CONNECTION
(host_vars/<host>.yml), and the internet's addresses by the test's
(ADDRESSES); in a command (--limit), the placeholder host names are replaced
too. What the operator types at a prompt (a vault password) is
STDIN, each command's standard input; commands run without a terminal, so
that the prompts read it there.

A journey that goes on from another (the operator's next step on the same
estate) runs in that one's WORKDIR: its files are written over the inventory
already there before its first command.

Run again on the same WORKDIR, it is the operator's second run: of the
commands after the one that made inventory/ (all of them, for a journey that
went on from another), those that run a playbook (ansible-playbook) are typed
again, but for the playbooks that act on every run (OPERATIONS: a collection,
a backup, a restore), which a second run would repeat rather than find done,
and those another journey's second run already typed in WORKDIR (the same
command on the same inventory).

The record (JSON) lists each command typed with its return code, seconds and
output; the run stops at the first command that fails, exiting 1.

Usage: journey.py JOURNEY WORKDIR RECORD --hosts JSON --addresses JSON --connection PLUGIN [--files JSON]
                  [--stdin TEXT]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# Playbooks that act on every run, which the operator's second run does not type again.
OPERATIONS = ("playbooks/gc.yml", "playbooks/backup.yml", "playbooks/restore.yml")


def typed_again(command):
    """Whether the operator's second run types the command again: a playbook run that deploys."""
    return command.startswith("ansible-playbook ") and not any(playbook in command.split() for playbook in OPERATIONS)


def commands(journey):
    lines = (journey / "commands.sh").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def mapped(text, names):
    """The text with each placeholder of NAMES replaced by its value."""
    for old, new in names.items():
        text = text.replace(old, new)
    return text


def write_inventory(journey, inventory, files, hosts, addresses, connection):
    """The journey's files and the operator's over the copied example, then the test's hosts and addresses."""
    brought = {path: Path(source) for path, source in files.items()}
    for source in sorted(journey.rglob("*")):
        if source.is_file() and source.name != "commands.sh":
            brought[source.relative_to(journey).as_posix()] = source
    for path, source in brought.items():
        target = inventory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for path in sorted(inventory.rglob("*")):
        if path.is_file():
            path.write_text(mapped(path.read_text(), {**hosts, **addresses}))
    (inventory / "host_vars").mkdir(exist_ok=True)
    for name in hosts.values():
        (inventory / "host_vars" / f"{name}.yml").write_text(f"---\nansible_connection: {connection}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journey", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("record", type=Path)
    parser.add_argument("--hosts", required=True, type=json.loads)
    parser.add_argument("--addresses", required=True, type=json.loads)
    parser.add_argument("--connection", required=True)
    parser.add_argument("--files", default={}, type=json.loads)
    parser.add_argument("--stdin", default="")
    args = parser.parse_args(argv)
    journey = (ROOT / args.journey).resolve()
    workdir = args.workdir
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_CONFIG=str(workdir / "ansible.cfg"))
    typed = commands(journey)
    # For each journey run in WORKDIR: the index of the command that made inventory/ (-1: it was there);
    # and the commands the second runs typed there.
    state_file = workdir / ".journeys"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"made_by": {}, "again": []}
    made_by = state["made_by"]

    def inventory_made(index):
        write_inventory(journey, workdir / "inventory", args.files, args.hosts, args.addresses, args.connection)
        made_by[journey.name] = index
        state_file.write_text(json.dumps(state))

    if journey.name in made_by:
        typed = [command for command in typed[made_by[journey.name] + 1:]
                 if typed_again(command) and command not in state["again"]]
        state["again"] += typed
        state_file.write_text(json.dumps(state))
    elif (workdir / "inventory").is_dir():
        inventory_made(-1)
    else:
        workdir.mkdir(parents=True)
        for entry in ROOT.iterdir():
            if entry.name == "inventory.example":  # copied by the journey: no link to the tree's own
                shutil.copytree(entry, workdir / entry.name)
            elif entry.name not in {"inventory", ".git"}:
                (workdir / entry.name).symlink_to(entry)
    record = []
    for index, command in enumerate(typed):
        start = time.monotonic()
        result = subprocess.run(["bash", "-c", mapped(command, args.hosts)], cwd=workdir, env=env, input=args.stdin,
                                capture_output=True, text=True, check=False, start_new_session=True)
        record.append({"command": command, "rc": result.returncode, "seconds": round(time.monotonic() - start, 1),
                       "output": result.stdout + result.stderr})
        if result.returncode:
            break
        if journey.name not in made_by and (workdir / "inventory").is_dir():
            inventory_made(index)
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(record, indent=1) + "\n")
    failed = [step for step in record if step["rc"]]
    if failed:
        print(f"journey.py: {failed[0]['command']} exited {failed[0]['rc']}:\n{failed[0]['output'][-4000:]}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
