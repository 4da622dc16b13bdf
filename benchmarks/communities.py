"""Compare the Leiden backends on quality and speed; score them against ground truth.

    PYTHONPATH=. python benchmarks/communities.py [--data DIR] [--synth 10000,100000]

For each graph it runs ``influence.communities.detect_communities`` with both
backends (igraph's built-in Leiden and leidenalg), seeds 0..2, and prints
modularity, number of communities, seconds (median of the seeds) and, where a
ground truth exists, NMI and ARI against it. Graphs: the labelled benchmark
graphs in ``DIR/community-benchmarks-gt`` (karate, football, eu-core; GML with
a ``gt`` node attribute, read with networkx) and synthetic event sets from
:func:`influence.synth.generate_events` (planted ``truth.community``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from influence import AnalysisConfig
from influence.communities import detect_communities, modularity
from influence.graph import build_graph, encode_events
from influence.sources import read_events
from influence.synth import generate_events
from influence.validation import clean_events, customer_universe


def nmi(a, b) -> float:
    """Normalised mutual information (arithmetic mean of entropies)."""
    table = pd.crosstab(np.asarray(a), np.asarray(b)).to_numpy() / len(a)
    pa, pb = table.sum(1), table.sum(0)
    nz = table > 0
    mi = (table[nz] * np.log(table[nz] / np.outer(pa, pb)[nz])).sum()
    h = lambda p: -(p[p > 0] * np.log(p[p > 0])).sum()  # noqa: E731
    return float(2 * mi / (h(pa) + h(pb)))


def ari(a, b) -> float:
    """Adjusted Rand index (Hubert and Arabie)."""
    table = pd.crosstab(np.asarray(a), np.asarray(b)).to_numpy().astype(np.float64)
    comb = lambda x: x * (x - 1) / 2  # noqa: E731
    index = comb(table).sum()
    rows, cols = comb(table.sum(1)).sum(), comb(table.sum(0)).sum()
    expected = rows * cols / comb(table.sum())
    return float((index - expected) / ((rows + cols) / 2 - expected))


def graph_from_events(events: pd.DataFrame):
    config = AnalysisConfig()
    raw, _ = read_events(events)
    clean = clean_events(raw, config)
    ids = customer_universe(raw)
    return build_graph(clean.events, ids, config, encode_events(clean.events, ids))


def gml_case(path: Path):
    g = nx.read_gml(path)
    rows = [(str(u), str(v)) for u, v in g.edges()]
    events = pd.DataFrame(rows, columns=["source", "target"]).assign(type="share")
    graph = graph_from_events(events)
    truth = {str(k): str(v) for k, v in nx.get_node_attributes(g, "gt").items()}
    return graph, np.array([truth.get(i, "?") for i in graph.ids])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument("--synth", default="10000,100000")
    args = parser.parse_args(argv)
    cases = []
    gt = Path(args.data) / "community-benchmarks-gt"
    for name in ("karate", "football", "eu-core"):
        if (gt / f"{name}.gml").exists():
            cases.append((name, *gml_case(gt / f"{name}.gml")))
    for n in [int(s) for s in args.synth.split(",") if s]:
        events, truth = generate_events(n, seed=1)
        graph = graph_from_events(events)
        t = truth.set_index("customer_id")["community"].reindex(graph.ids).to_numpy()
        cases.append((f"synth-{n}", graph, t))
    print("| graph | customers | edges | backend | modularity | communities | seconds "
          "| NMI | ARI |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for name, graph, truth in cases:
        for backend in ("igraph", "leidenalg"):
            secs, qs, nmis, aris, counts = [], [], [], [], []
            for seed in range(3):
                began = time.perf_counter()
                membership = detect_communities(graph, seed=seed, backend=backend)
                secs.append(time.perf_counter() - began)
                qs.append(modularity(graph, membership))
                counts.append(int(membership.max()) + 1)
                nmis.append(nmi(membership, truth))
                aris.append(ari(membership, truth))
            print(f"| {name} | {graph.n_customers:,} | {graph.n_edges:,} | {backend} | "
                  f"{statistics.mean(qs):.4f} | {statistics.median(counts)} | "
                  f"{statistics.median(secs):.3f} | {statistics.mean(nmis):.3f} | "
                  f"{statistics.mean(aris):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
