"""Measure the error of sampled betweenness against exact betweenness on real graphs.

    PYTHONPATH=. python benchmarks/betweenness_error.py [--data DIR] [--seeds 5]

For each graph (email-eu-core, CollegeMsg, and sx-mathoverflow: each of its three
layers and their union) it builds the influence graph as ``influence analyze``
does, computes exact betweenness (Brandes from every source, igraph) and the
estimate :func:`influence.metrics.betweenness` gives at the default
``[centrality] betweenness_budget`` (1e7 edge visits) with pivot seeds
``0 .. seeds-1``, and prints one table row per graph:

* ``pivots``: sources sampled (``max(min_pivots, budget // edges)``); ``exact``
  when the budget covers every source;
* ``1/sqrt(k)``: the error the docs used to quote for the top customers;
* ``median``, ``p90``: of the relative error ``|estimate - exact| / exact`` over
  the customers with nonzero exact betweenness, pooled over the seeds;
* ``top-100 median``, ``top-10 median``: the same over the 100 (10) customers
  with the highest exact betweenness (the brokers a report would show).

The numbers quoted in the manifest (``betweenness.measured_error``) and in
docs/concepts.md come from this script. Exact betweenness on the mathoverflow
union takes minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from influence import AnalysisConfig, config_from_dict
from influence.graph import build_graph, encode_events
from influence.metrics import betweenness
from influence.sources import read_events
from influence.validation import clean_events, customer_universe


def _graph(events: pd.DataFrame, config: AnalysisConfig):
    raw, _ = read_events(events, columns=config.columns)
    clean = clean_events(raw, config)
    ids = customer_universe(raw)
    return build_graph(clean.events, ids, config, encode_events(clean.events, ids))


def _snap(path: Path, kind: str) -> pd.DataFrame:
    """``SRC DST [TIME]`` lines (spaces or tabs, any line ends) as events of one type."""
    table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    return pd.DataFrame({"source": table[0], "target": table[1], "type": kind})


def cases(data: Path):
    message = config_from_dict({"types": {"message": {"flow": "forward", "weight": 1.0}}})
    email = data / "email-eu-core" / "email-Eu-core.txt.gz"
    if email.exists():
        yield "email-eu-core", _graph(_snap(email, "message"), message)
    college = data / "collegemsg" / "CollegeMsg.txt.gz"
    if college.exists():
        yield "collegemsg", _graph(_snap(college, "message"), message)
    folder = data / "sx-mathoverflow"
    if folder.exists():
        layers = {kind: _snap(folder / f"sx-mathoverflow-{kind}.txt.gz", kind)
                  for kind in ("a2q", "c2q", "c2a")}
        # the post's author influenced the one who answered or commented (reverse flow)
        config = config_from_dict({"types": {kind: {"flow": "reverse", "weight": 1.0}
                                             for kind in layers}})
        for kind, events in layers.items():
            yield f"mathoverflow-{kind}", _graph(events, config)
        yield "mathoverflow-all", _graph(pd.concat(layers.values(), ignore_index=True), config)


def measure(graph, seeds: int) -> dict:
    c = AnalysisConfig().centrality
    n = graph.n_customers
    began = time.perf_counter()
    exact = np.asarray(graph.graph.betweenness(directed=True, weights=None), dtype=np.float64)
    exact = np.round(exact / ((n - 1.0) * (n - 2.0)), 12)
    exact_seconds = time.perf_counter() - began
    positive = exact > 0
    order = np.argsort(-exact, kind="stable")
    best = {top: order[:top][exact[order[:top]] > 0] for top in (100, 10)}
    errors, top_errors, pivots, method = [], {100: [], 10: []}, 0, ""
    for seed in range(seeds):
        estimate = betweenness(graph, budget=c.betweenness_budget,
                               min_pivots=c.betweenness_min_pivots, seed=seed)
        pivots, method = estimate.pivots, estimate.method
        relative = np.abs(estimate.scores - exact) / np.where(positive, exact, 1.0)
        errors.append(relative[positive])
        for top, rows in best.items():
            top_errors[top].append(relative[rows])
        if method == "exact":
            break
    pooled = np.concatenate(errors)
    return {"customers": n, "edges": graph.n_edges, "nonzero": int(positive.sum()),
            "pivots": pivots if method == "sampled" else "exact",
            "expected": 1 / np.sqrt(pivots) if method == "sampled" else 0.0,
            "median": float(np.median(pooled)), "p90": float(np.quantile(pooled, 0.9)),
            "top100": float(np.median(np.concatenate(top_errors[100]))),
            "top10": float(np.median(np.concatenate(top_errors[10]))),
            "exact_seconds": exact_seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "data"))
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"relative error |sampled - exact| / exact at the default budget "
          f"({AnalysisConfig().centrality.betweenness_budget:.0e} edge visits), pivot seeds "
          f"0..{args.seeds - 1} pooled")
    print("| graph | customers | edges | nonzero | pivots | 1/sqrt(k) | median | p90 "
          "| top-100 median | top-10 median | exact s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name, graph in cases(Path(args.data)):
        row = measure(graph, args.seeds)
        rows.append(row)
        print(f"| {name} | {row['customers']:,} | {row['edges']:,} | {row['nonzero']:,} | "
              f"{row['pivots']} | {row['expected']:.1%} | {row['median']:.1%} | "
              f"{row['p90']:.1%} | {row['top100']:.1%} | {row['top10']:.1%} | "
              f"{row['exact_seconds']:.0f} |",
              flush=True)
    if not rows:
        print(f"no data found under {args.data}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
