#!/usr/bin/env python3
"""Run a command over and over until a stop file appears, and say how it went.

repeat.py REPORT STOP [--expect TEXT] [--pause SECONDS] -- COMMAND...

A try succeeds when COMMAND exits 0 (and prints TEXT, with --expect). When
STOP appears, REPORT gets JSON: tries, failed, the longest time between two
successful tries ("longest_gap", seconds; with no failure, about one try),
the seconds from the first to the last try, when it started and ended (Unix
time), and the output of the last failed tries.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    split = sys.argv.index("--")
    command = sys.argv[split + 1:]
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("stop")
    parser.add_argument("--expect", default="")
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args(sys.argv[1:split])
    tries, failures, errors = 0, 0, []
    started = last_success = time.monotonic()
    began = time.time()
    longest_gap = 0.0
    while not os.path.exists(args.stop):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        tries += 1
        now = time.monotonic()
        if result.returncode == 0 and args.expect in result.stdout:
            longest_gap = max(longest_gap, now - last_success)
            last_success = now
        else:
            failures += 1
            errors = (errors + [f"{round(now - started, 1)}s: {(result.stderr or result.stdout).strip()[-300:]}"])[-10:]
        time.sleep(args.pause)
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump({"tries": tries, "failed": failures, "longest_gap": round(longest_gap, 2),
                   "seconds": round(time.monotonic() - started, 1), "began": round(began, 1),
                   "ended": round(time.time(), 1), "errors": errors}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
