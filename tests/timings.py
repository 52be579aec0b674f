#!/usr/bin/env python3
"""Where make test spends its time: each phase, and each scenario's stages.

    timings.py run PHASE -- COMMAND...   run COMMAND, its output passed through
                                         unchanged, and note how long it took
    timings.py stages SCENARIO           a filter: pass molecule's output
                                         through, noting when each stage
                                         (create, converge, verify, ...) began
    timings.py note PHASE KEY=NUMBER...  add figures to a phase's entry (what
                                         make demo took of disk)
    timings.py report [--save FILE]      print the table of this run next to
                                         the record (tests/timings.json), and
                                         with --save write this run there
    timings.py longest-first SCENARIO... the scenarios, those that took longest
                                         in the record first (one without a
                                         record first of all): started in that
                                         order two at a time, they end close
                                         together

Each phase and scenario is written to reports/timings/<name>.json as it ends,
so a run that fails still shows where its time went. Phases that run at once
(the scenarios, two at a time) overlap: the total is make test's own.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "timings"
RECORD = ROOT / "tests" / "timings.json"
# molecule's line when a stage starts, e.g. "INFO     default ➜ converge: Executing"
STAGE = re.compile(r"➜ (\w+): Executing$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def write(name, entry):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(entry, indent=1) + "\n")


def run(phase, command):
    start = time.time()
    code = subprocess.call(command)
    write(phase, {"seconds": round(time.time() - start, 1), "passed": code == 0, "start": start})
    return code


def note(phase, figures):
    path = OUT / f"{phase}.json"
    entry = json.loads(path.read_text())
    entry.update({key: float(value) for key, value in (figure.split("=", 1) for figure in figures)})
    write(phase, entry)
    return 0


def stages(scenario):
    start = time.time()
    marks = []
    for line in sys.stdin.buffer:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
        found = STAGE.search(ANSI.sub("", line.decode(errors="replace")).rstrip())
        if found and not (marks and marks[-1][0] == found.group(1)):
            marks.append((found.group(1), time.time()))
    end = time.time()
    seconds = {}
    for (stage, began), following in zip(marks, [m[1] for m in marks[1:]] + [end], strict=True):
        # destroy runs first and last: keep both apart
        key = stage if stage not in seconds else f"{stage} (again)"
        seconds[key] = round(following - began, 1)
    write(f"scenario-{scenario}", {"seconds": round(end - start, 1), "stages": seconds, "start": start})
    return 0


def collect():
    """{name: entry} of this run, in the order the phases began."""
    entries = {path.stem: json.loads(path.read_text()) for path in OUT.glob("*.json")} if OUT.is_dir() else {}
    return dict(sorted(entries.items(), key=lambda item: item[1].get("start", 0)))


def load_record():
    """The record of a fresh machine's run (tests/timings.json), or nothing."""
    return json.loads(RECORD.read_text()) if RECORD.is_file() else {}


def report(save):
    entries = collect()
    if not entries:
        print("timings.py: no timings in reports/timings/")
        return 0
    record = load_record()
    before = record.get("entries", {})
    total = max(e["start"] + e["seconds"] for e in entries.values()) - min(e["start"] for e in entries.values())
    width = max([len(name) for name in entries] + [len(stage) + 2 for entry in entries.values()
                                                    for stage in entry.get("stages", {})] + [22]) + 2
    print(f"\n{'make test, where the time went':<{width}} {'seconds':>8} {'record':>8}")
    for name, entry in entries.items():
        recorded = before.get(name, {}).get("seconds")
        print(f"{name:<{width}} {entry['seconds']:>8.0f} {'' if recorded is None else f'{recorded:8.0f}':>8}")
        for stage, seconds in entry.get("stages", {}).items():
            recorded = before.get(name, {}).get("stages", {}).get(stage)
            print(f"  {stage:<{width - 2}} {seconds:>8.0f} {'' if recorded is None else f'{recorded:8.0f}':>8}")
    recorded = record.get("total")
    print(f"{'total (phases overlap)':<{width}} {total:>8.0f} {'' if recorded is None else f'{recorded:8.0f}':>8}")
    if save:
        clean = {name: {k: v for k, v in entry.items() if k != "start"} for name, entry in entries.items()}
        Path(save).write_text(json.dumps({"total": round(total), "entries": clean}, indent=1) + "\n")
    return 0


def longest_first(scenarios):
    before = load_record().get("entries", {})
    seconds = {name: before.get(f"scenario-{name}", {}).get("seconds", float("inf")) for name in scenarios}
    print(" ".join(sorted(scenarios, key=lambda name: -seconds[name])))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    run_verb = verbs.add_parser("run")
    run_verb.add_argument("phase")
    run_verb.add_argument("command", nargs=argparse.REMAINDER)
    note_verb = verbs.add_parser("note")
    note_verb.add_argument("phase")
    note_verb.add_argument("figures", nargs="+", metavar="KEY=NUMBER")
    verbs.add_parser("stages").add_argument("scenario")
    verbs.add_parser("report").add_argument("--save", metavar="FILE")
    verbs.add_parser("longest-first").add_argument("scenarios", nargs="+")
    args = parser.parse_args(argv)
    if args.verb == "run":
        return run(args.phase, args.command[1:] if args.command[:1] == ["--"] else args.command)
    if args.verb == "note":
        return note(args.phase, args.figures)
    if args.verb == "stages":
        return stages(args.scenario)
    if args.verb == "longest-first":
        return longest_first(args.scenarios)
    return report(args.save)


if __name__ == "__main__":
    sys.exit(main())
