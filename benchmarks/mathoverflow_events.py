"""Convert SNAP's sx-mathoverflow files into one typed events CSV for ``influence``.

The three files (a2q, c2q, c2a) hold ``SRC TGT UNIXTS`` lines: SRC answered or
commented on a post of TGT at UNIXTS. Influence flows from the post's author
to the one who answered or commented, so the types are declared with flow
"reverse" in ``benchmarks/mathoverflow.toml``.

Usage::

    python benchmarks/mathoverflow_events.py /work/shared/data/sx-mathoverflow mo.csv
    influence backtest mo.csv --config benchmarks/mathoverflow.toml --split 2012-12-31
"""

import sys
from pathlib import Path

import pandas as pd


def main(folder: str, out: str) -> None:
    parts = []
    for kind in ("a2q", "c2q", "c2a"):
        part = pd.read_csv(Path(folder) / f"sx-mathoverflow-{kind}.txt.gz", sep=" ",
                           header=None, names=["source", "target", "timestamp"], dtype=str)
        parts.append(part.assign(type=kind))
    events = pd.concat(parts, ignore_index=True)[["source", "target", "type", "timestamp"]]
    events.to_csv(out, index=False)
    print(f"wrote {len(events)} events to {out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python benchmarks/mathoverflow_events.py DATA_FOLDER OUT.csv")
    main(sys.argv[1], sys.argv[2])
