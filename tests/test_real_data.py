"""Checks on public interaction graphs from ../shared/data (skipped where absent)."""

import gzip

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from influence import analyze, config_from_dict


def nmi(a, b):
    from math import log
    table = pd.crosstab(np.asarray(a), np.asarray(b)).to_numpy() / len(a)
    pa, pb = table.sum(1), table.sum(0)
    nz = table > 0
    mi = (table[nz] * np.log(table[nz] / np.outer(pa, pb)[nz])).sum()
    h = lambda p: -sum(x * log(x) for x in p if x > 0)  # noqa: E731
    return 2 * mi / (h(pa) + h(pb))


def test_email_eu_core_departments(shared_data):
    folder = shared_data / "email-eu-core"
    with gzip.open(folder / "email-Eu-core.txt.gz", "rt") as handle:
        pairs = [line.split() for line in handle if line.strip()]
    events = pd.DataFrame(pairs, columns=["source", "target"]).assign(type="message")
    labels = pd.read_csv(folder / "email-Eu-core-department-labels.txt", sep=r"\s+",
                         header=None, names=["customer_id", "department"], dtype=str)
    config = config_from_dict({"types": {"message": {"flow": "forward", "weight": 1.0}}})
    result = analyze(events, customers=labels, config=config, seed=0)
    m = result.manifest
    assert m["rows_read"] == 25_571 and m["dropped"]["self_loop"] == 642
    assert m["customers"] == 1_005 and len(result.customers) == 1_005
    customers = result.customers
    score = nmi(customers["community"], customers["department"])
    # Leiden (modularity) finds coarser groups (25-27) than the 42 departments. Measured
    # (issue 16, docs/validity.md section 5): 0.524 at seed 0; seeds 0-4 0.524, 0.590,
    # 0.591, 0.561, 0.586 (mean 0.570). The best-modularity partition of 10 seeds gives
    # ~0.59; no default change found reaches 0.60 without hurting another labelled graph.
    assert score > 0.5, score
    assert m["communities"]["modularity"] > 0.3


def test_karate_pagerank_and_factions(shared_data):
    graph = nx.read_gml(shared_data / "community-benchmarks-gt" / "karate.gml")
    rows = [(u, v, "share") for u, v in graph.edges()] + [(v, u, "share")
                                                          for u, v in graph.edges()]
    events = pd.DataFrame(rows, columns=["source", "target", "type"])
    result = analyze(events, seed=0)
    customers = result.customers.set_index("customer_id")
    # the instructor ("0") and the administrator ("33"), the two leaders of the split,
    # rank first and second
    assert set(customers.index[:2]) == {"0", "33"}
    gt = [graph.nodes[i]["gt"] for i in customers.index]
    assert nmi(customers["community"], gt) > 0.45


def test_mathoverflow_typed_events_and_self_loops(shared_data):
    folder = shared_data / "sx-mathoverflow"
    parts = []
    for kind in ("a2q", "c2q", "c2a"):
        part = pd.read_csv(folder / f"sx-mathoverflow-{kind}.txt.gz", sep=" ", header=None,
                           names=["source", "target", "timestamp"], dtype=str)
        parts.append(part.assign(type=kind))
    events = pd.concat(parts, ignore_index=True)
    # u answered / commented on v's post: v's content moved u, so influence flows v -> u
    config = config_from_dict({"types": {
        "a2q": {"flow": "reverse", "weight": 2.0},
        "c2q": {"flow": "reverse", "weight": 1.0},
        "c2a": {"flow": "reverse", "weight": 1.0}}})
    result = analyze(events, config=config, since="2015-01-01")
    m = result.manifest
    assert m["rows_read"] == 506_550
    assert m["rows_read"] == m["rows_used"] + sum(m["dropped"].values())
    assert m["dropped"]["self_loop"] > 0 and m["dropped"]["outside_window"] > 0
    assert m["customers"] == 24_818 == len(result.customers)
    assert set(result.customers["segment"]) >= {"champions", "dormant_advocates"}


@pytest.mark.parametrize("name, floor", [("karate", 0.6), ("football", 0.85),
                                         ("eu-core", 0.5)])
def test_ground_truth_benchmarks(shared_data, name, floor):
    """Measured (docs/validity.md section 5): NMI 0.69 / 0.89 / 0.56 with seed 0."""
    path = shared_data / "community-benchmarks-gt" / f"{name}.gml"
    if not path.exists():
        pytest.skip(f"{path} not found")
    graph = nx.read_gml(path)
    events = pd.DataFrame([(str(u), str(v)) for u, v in graph.edges()],
                          columns=["source", "target"]).assign(type="share")
    result_table = analyze(events, seed=0).customers
    truth = {str(k): str(v) for k, v in nx.get_node_attributes(graph, "gt").items()}
    labels = result_table["customer_id"].map(truth)
    assert nmi(result_table["community"], labels) >= floor


def test_betweenness_error_in_the_manifest_is_what_the_benchmark_measures(shared_data):
    """The manifest quotes the sampled-betweenness error measured on real graphs; rerun
    the benchmark on the two small graphs (seconds) and check the quoted figures."""
    import importlib.util
    from pathlib import Path

    from influence.metrics.centrality import MEASURED_ERROR

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "betweenness_error.py"
    spec = importlib.util.spec_from_file_location("betweenness_error", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    quoted = {row["graph"]: row for row in MEASURED_ERROR["graphs"]}
    checked = 0
    for name, graph in bench.cases(shared_data):
        if name not in ("email-eu-core", "collegemsg"):
            break  # the mathoverflow layers take minutes: benchmarks only
        got = bench.measure(graph, seeds=5)
        row = quoted[name]
        assert (got["customers"], got["edges"], got["pivots"]) == (
            row["customers"], row["edges"], row["pivots"])
        for key, column in (("median", "median"), ("p90", "p90"), ("top100", "top100_median"),
                            ("top10", "top10_median")):
            assert got[key] == pytest.approx(row[column], abs=0.0006), (name, key)
        checked += 1
    assert checked == 2
