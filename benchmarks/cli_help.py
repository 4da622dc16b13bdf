"""Time ``influence --help`` (and each command's ``--help``) as a user starts it.

One command::

    python benchmarks/cli_help.py [--runs 5]

Each run is a fresh ``python -m influence ... --help`` process (the interpreter's
start included, as from the console script); it prints the median and the
slowest of the runs per command, and ``uptime``'s load (timings on a shared
machine are noisy). The budget (issue 19) is 0.4 s for ``influence --help``.
Not part of the test suite: tests/test_cli_main.py checks instead that help
imports no analysis library (pandas, numpy, igraph, matplotlib, pyarrow, rich),
which is what keeps it fast.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

BUDGET_S = 0.4


def timed(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "influence", *argv], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from influence.cli import cli

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
          f"{args.runs} runs each; budget {BUDGET_S} s for --help")
    print("| command | median s | max s |\n|---|---|---|")
    for name in [None, *sorted(cli.commands)]:
        argv = ["--help"] if name is None else [name, "--help"]
        times = [timed(argv) for _ in range(args.runs)]
        print(f"| {' '.join(argv)} | {statistics.median(times):.3f} | {max(times):.3f} |")


if __name__ == "__main__":
    main()
