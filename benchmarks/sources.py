"""JSON Lines: pandas' reader (what influence used before issue 18) against pyarrow's.

    influence generate --customers 200000 --out /tmp/g.jsonl
    python benchmarks/sources.py /tmp/g.jsonl [--repeat 3]

Prints, per repeat, the seconds to parse the file's bytes (already in memory) with
``pandas.read_json(lines=True, dtype=False)`` and with ``pyarrow.json.read_json``, and the
seconds of ``influence.sources.read_events`` (parse, map, ids as text) end to end, with the
load average: the numbers are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import io
import os
import time

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from influence.sources import read_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = pa.OSFile(args.path, "rb").read_buffer()
    print(f"{args.path}: {data.size / 1e6:.0f} MB; cpus {os.cpu_count()}; "
          f"load {os.getloadavg()[0]:.1f}")
    for _ in range(args.repeat):
        began = time.perf_counter()
        frame = pd.read_json(io.BytesIO(memoryview(data)), lines=True, dtype=False)
        pandas_s = time.perf_counter() - began
        began = time.perf_counter()
        table = pajson.read_json(pa.BufferReader(data),
                                 read_options=pajson.ReadOptions(block_size=1 << 24))
        arrow_s = time.perf_counter() - began
        began = time.perf_counter()
        events, _ = read_events(args.path)
        read_s = time.perf_counter() - began
        assert len(frame) == table.num_rows == len(events)
        print(f"parse: pandas {pandas_s:6.2f} s  pyarrow {arrow_s:6.2f} s  "
              f"({pandas_s / arrow_s:.1f}x);  read_events {read_s:6.2f} s;  "
              f"rows {len(events):,}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
