"""Benchmark: IMM key propagators (K=50) on synthetic data, against the top-K by
out-degree and by PageRank, all measured by the same Monte Carlo simulator.

Run from the repository root::

    python benchmarks/propagators.py --customers 100000 --repeat 3

Prints one line per repeat and the medians. Not a test: timings depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from influence.config import AnalysisConfig
from influence.graph import build_graph, encode_events
from influence.metrics import pagerank
from influence.reach.propagators import edge_probabilities, run_propagators
from influence.sources import read_events
from influence.synth import generate_events
from influence.validation import clean_events, customer_universe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("-k", type=int, default=50)
    parser.add_argument("--p0", type=float, default=0.02)
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--simulations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    events, _ = generate_events(args.customers, seed=1)
    config = AnalysisConfig().replace(propagators__p0=args.p0,
                                      propagators__epsilon=args.epsilon,
                                      propagators__simulations=args.simulations)
    raw, _ = read_events(events)
    clean = clean_events(raw, config)
    ids = customer_universe(raw)
    codes = encode_events(clean.events, ids)
    graph = build_graph(clean.events, ids, config, codes)
    print(f"{graph.n_customers} customers, {graph.n_edges} edges, {len(events)} events; "
          f"k={args.k} p0={args.p0} epsilon={args.epsilon} simulations={args.simulations}")
    prob, _ = edge_probabilities(graph, config)
    baselines = {"degree": np.asarray(graph.graph.outdegree(), dtype=float),
                 "pagerank": pagerank(graph)}
    imm_s, total_s = [], []
    for r in range(args.repeat):
        cfg = config.propagators.__class__(**{**config.propagators.__dict__, "seed": r})
        began = time.perf_counter()
        result = run_propagators(graph, prob, cfg, args.k, baselines)
        total_s.append(time.perf_counter() - began)
        imm_s.append(result.info["imm_seconds"])
        c = result.comparison.set_index("method")
        print(f"seed {r}: IMM {result.info['imm_seconds']:.2f} s (theta "
              f"{result.info['theta']}, {result.info['rr_sets']} RR sets), simulation "
              f"{result.info['simulation_seconds']:.2f} s; spread imm "
              f"{c.loc['imm', 'spread']:.1f} +- {c.loc['imm', 'spread_se']:.1f}, degree "
              f"{c.loc['degree', 'spread']:.1f} +- {c.loc['degree', 'spread_se']:.1f}, pagerank "
              f"{c.loc['pagerank', 'spread']:.1f} +- {c.loc['pagerank', 'spread_se']:.1f}; "
              f"RR estimate {result.seeds['cumulative_spread'].iloc[-1]:.1f}", flush=True)
    print(f"median IMM seconds {statistics.median(imm_s):.2f}; median IMM + 3 x "
          f"{args.simulations} simulations {statistics.median(total_s):.2f}")


if __name__ == "__main__":
    main()
