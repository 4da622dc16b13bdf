import networkx as nx
import numpy as np
import pandas as pd
import pytest

from influence.config import AnalysisConfig, config_from_dict
from influence.graph import build_graph
from influence.validation import clean_events, customer_universe


def graph_of(events, config=None):
    config = config or AnalysisConfig()
    clean = clean_events(events, config)
    return build_graph(clean.events, customer_universe(events), config)


def test_flow_directions_and_weights(small_events):
    g = graph_of(small_events)
    nxg = g.to_networkx()
    assert nxg["a"]["b"]["weight"] == 2.0          # share: source -> target
    assert nxg["c"]["d"]["weight"] == 3.0          # referral: source -> target
    assert nxg.has_edge("a", "c") and not nxg.has_edge("c", "a")
    # c commented on a (weight 1) and a shared with c (weight 2): both flow a -> c
    assert nxg["a"]["c"]["weight"] == 3.0 and nxg["a"]["c"]["n_events"] == 2
    assert set(nxg.nodes) == set("abcdef")


def test_weights_conserved(small_events):
    g = graph_of(small_events)
    with_target = small_events[small_events["target"].notna()]
    expected = with_target["type"].map({"share": 2.0, "referral": 3.0, "comment": 1.0}).sum()
    assert g.edges["weight"].sum() == pytest.approx(expected)
    assert g.edges["n_events"].sum() == len(with_target)
    und = g.undirected()
    assert sum(und.es["weight"]) == pytest.approx(expected)


def test_row_order_does_not_change_edges(small_events):
    a = graph_of(small_events).edges
    b = graph_of(small_events.sample(frac=1, random_state=3).reset_index(drop=True)).edges
    pd.testing.assert_frame_equal(a, b)


def test_custom_reverse_type():
    events = pd.DataFrame({"source": ["x"], "target": ["y"], "type": ["like"]})
    cfg = config_from_dict({"types": {"like": {"flow": "reverse", "weight": 0.5}}})
    nxg = graph_of(events, cfg).to_networkx()
    assert list(nxg.edges(data="weight")) == [("y", "x", 0.5)]


def test_igraph_and_networkx_agree(small_events):
    g = graph_of(small_events)
    nxg = g.to_networkx()
    ids = g.ids.tolist()
    for edge in g.graph.es:
        u, v = ids[edge.source], ids[edge.target]
        assert nxg[u][v]["weight"] == edge["weight"]
    assert g.graph.ecount() == nxg.number_of_edges()
    assert isinstance(nxg, nx.DiGraph)
    assert np.array_equal(g.ids.to_numpy(), np.sort(g.ids.to_numpy()))


def test_edge_types_sum_to_edge_weight():
    from influence.config import AnalysisConfig
    from influence.graph import build_graph
    events = pd.DataFrame({"source": ["a", "a", "c", "a", "b"],
                           "target": ["b", "b", "a", "c", "c"],
                           "type": ["share", "referral", "comment", "share", "share"],
                           "weight": [2.0, 3.0, 1.0, 2.0, 2.0]})
    g = build_graph(events, pd.Index(["a", "b", "c"]), AnalysisConfig())
    by_edge = g.edge_types.groupby("edge")["weight"].sum()
    np.testing.assert_allclose(by_edge.to_numpy(), g.edges["weight"].to_numpy())
    ab = g.edge_types[g.edge_types["edge"] == 0]
    assert ab["type"].astype(str).tolist() == ["referral", "share"]
    assert ab["weight"].tolist() == [3.0, 2.0]


def test_igraph_build_keeps_every_edge_in_order_and_isolated_vertices():
    from influence.graph import _igraph

    rng = np.random.default_rng(0)
    src = rng.integers(0, 50, 300)
    dst = rng.integers(0, 50, 300)
    weight = rng.random(300)
    g = _igraph(60, src, dst, weight, directed=True)
    assert g.vcount() == 60 and g.is_directed()
    assert g.get_edgelist() == list(zip(src.tolist(), dst.tolist()))
    assert g.es["weight"] == weight.tolist()
    empty = _igraph(3, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), False)
    assert empty.vcount() == 3 and empty.ecount() == 0 and not empty.is_directed()


@pytest.mark.parametrize("row_weights", [False, True])
def test_edge_weights_bit_identical_whatever_the_row_order(row_weights):
    """Float sums depend on order; edges sort events so any row order gives the same bits."""
    from influence.graph import build_edges

    rng = np.random.default_rng(1)
    n = 400
    events = pd.DataFrame({
        "source": [f"c{i}" for i in rng.integers(0, 6, n)],
        "target": [f"c{i}" for i in rng.integers(6, 12, n)],
        "type": rng.choice(["share", "referral", "comment"], n),
    })
    events["weight"] = (rng.random(n) * 1e3 + 1e-9 if row_weights
                        else events["type"].map({"share": 2.0, "referral": 3.0,
                                                 "comment": 1.0}).to_numpy() * 0.1)
    ids = pd.Index(sorted(set(events["source"]) | set(events["target"])), dtype="str")
    config = AnalysisConfig()
    expected, expected_types = build_edges(events, ids, config, by_type=True)
    for seed in range(5):
        shuffled = events.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        edges, edge_types = build_edges(shuffled, ids, config, by_type=True)
        pd.testing.assert_frame_equal(edges, expected, check_exact=True)
        pd.testing.assert_frame_equal(edge_types, expected_types, check_exact=True)
