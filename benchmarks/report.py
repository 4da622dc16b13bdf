"""Measure report.html: its size and render time against the number of customers.

One command::

    PYTHONPATH=. python benchmarks/report.py --sizes 10000,100000

For each size N (customers) it generates events with
:func:`influence.synth.generate_events` (cached as Parquet under ``--data``),
analyses and saves them once (cached under ``--data`` as a results folder, no
report), then renders the report from the loaded folder ``--repeat`` times
(:func:`influence.report.render_report`, what ``influence report DIR`` runs)
and prints one Markdown table: the median render seconds (wall, and CPU seconds of
the process, less sensitive to a busy machine), the page's bytes and
what they are made of (vendored scripts and styles, embedded JSON data, inline
pictures, the rest). The caps (rows per list, network nodes) make every part
but the pictures independent of N. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _results(n: int, data: Path, seed: int) -> Path:
    folder = data / f"report-results-{n}-s{seed}"
    if (folder / "manifest.json").is_file():
        return folder
    from influence import analyze
    from influence.synth import generate_events

    _log(f"n={n}: generating and analysing")
    events, _ = generate_events(n, seed=seed)
    analyze(events, seed=seed).save(folder)
    return folder


def _parts(html: str) -> dict[str, int]:
    """Bytes of the page by kind (UTF-8)."""
    size = {"page": len(html.encode("utf-8"))}
    scripts = re.findall(r"<script(?: [^>]*)?>(.*?)</script>", html, flags=re.S)
    data = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, flags=re.S)
    size["json data"] = sum(len(s.encode("utf-8")) for s in data)
    size["scripts (code)"] = sum(len(s.encode("utf-8")) for s in scripts) - size["json data"]
    size["styles"] = sum(len(s.encode("utf-8"))
                         for s in re.findall(r"<style>(.*?)</style>", html, flags=re.S))
    size["pictures"] = sum(len(s) for s in re.findall(r"data:image/[^\"']+", html))
    size["rest"] = size["page"] - sum(v for k, v in size.items() if k != "page")
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--data", default=str(ROOT / "benchmarks" / "data"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write each page here as report-N.html")
    args = parser.parse_args(argv)
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    from influence import Analysis
    from influence.report import render_report

    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        folder = _results(n, data, args.seed)
        analysis = Analysis.load(folder)
        times, cpu, html = [], [], ""
        for _ in range(args.repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            html = render_report(analysis, folder=folder)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            (Path(args.keep) / f"report-{n}.html").write_text(html, encoding="utf-8")
        parts = _parts(html)
        _log(f"n={n}: {statistics.median(times):.2f} s, {parts['page']:,} bytes")
        rows.append((n, statistics.median(times), statistics.median(cpu), parts))
    keys = list(rows[0][3])
    print("| customers | render s | render CPU s | "
          + " | ".join(f"{k} (bytes)" for k in keys) + " |")
    print("|---:|---:|---:|" + "---:|" * len(keys))
    for n, seconds, cpu_seconds, parts in rows:
        print(f"| {n:,} | {seconds:.2f} | {cpu_seconds:.2f} | "
              + " | ".join(f"{parts[k]:,}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
