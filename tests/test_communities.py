import networkx as nx
import numpy as np
import pandas as pd
import pytest

from influence.communities import community_profiles, detect_communities, modularity
from influence.config import AnalysisConfig
from influence.graph import build_graph
from influence.validation import clean_events, customer_universe


def planted(k=4, size=30, p_in=0.3, p_out=0.01, seed=0):
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    n = k * size
    for i in range(n):
        truth[f"v{i:04d}"] = i // size
        for j in range(n):
            if i == j:
                continue
            p = p_in if i // size == j // size else p_out
            if rng.random() < p:
                rows.append((f"v{i:04d}", f"v{j:04d}", "share"))
    return pd.DataFrame(rows, columns=["source", "target", "type"]), truth


def graph_of(events):
    config = AnalysisConfig()
    return build_graph(clean_events(events, config).events, customer_universe(events), config)


def nmi(a, b):
    from math import log
    a, b = np.asarray(a), np.asarray(b)
    n = len(a)
    ca = pd.crosstab(a, b).to_numpy() / n
    pa, pb = ca.sum(1), ca.sum(0)
    mi = sum(ca[i, j] * log(ca[i, j] / (pa[i] * pb[j]))
             for i in range(ca.shape[0]) for j in range(ca.shape[1]) if ca[i, j] > 0)
    ha = -sum(p * log(p) for p in pa if p > 0)
    hb = -sum(p * log(p) for p in pb if p > 0)
    return 2 * mi / (ha + hb)


@pytest.mark.parametrize("backend", ["igraph", "leidenalg"])
def test_recovers_planted_communities(backend):
    events, truth = planted()
    g = graph_of(events)
    membership = detect_communities(g, resolution=1.0, seed=0, backend=backend)
    assert nmi(membership, [truth[i] for i in g.ids]) >= 0.9
    assert modularity(g, membership) > 0.4


def test_seeded_and_numbered_by_size():
    events, _ = planted(k=5, size=20, p_in=0.2, p_out=0.03, seed=1)
    g = graph_of(events)
    a = detect_communities(g, seed=3)
    b = detect_communities(g, seed=3)
    np.testing.assert_array_equal(a, b)
    sizes = np.bincount(a)
    assert np.all(np.diff(sizes) <= 0)


def test_resolution_has_effect():
    events, _ = planted(k=4, size=30)
    g = graph_of(events)
    few = detect_communities(g, resolution=0.05, seed=0)
    many = detect_communities(g, resolution=5.0, seed=0)
    assert few.max() < many.max()


def test_modularity_matches_networkx():
    events, _ = planted()
    g = graph_of(events)
    membership = detect_communities(g, seed=0)
    und = nx.Graph()
    und.add_nodes_from(range(g.n_customers))
    for e in g.undirected().es:
        und.add_edge(e.source, e.target, weight=e["weight"])
    groups = [set(np.flatnonzero(membership == c)) for c in range(membership.max() + 1)]
    assert modularity(g, membership) == pytest.approx(
        nx.community.modularity(und, groups, weight="weight"), abs=1e-9)


def test_profiles_conserve_weight_and_members(small_events):
    g = graph_of(small_events)
    membership = detect_communities(g, seed=0)
    rank = np.arange(1, g.n_customers + 1)
    prof = community_profiles(g, membership, rank)
    assert prof["size"].sum() == g.n_customers
    total = g.edges["weight"].sum()
    # every edge is internal to one community or counted as external by both ends
    assert prof["internal_weight"].sum() + prof["external_weight"].sum() / 2 == \
        pytest.approx(total)
    assert set(prof["leader"]) <= set(g.ids)
    two = prof.set_index("community")
    assert len(prof) == 2 and two["size"].tolist() == [3, 3]
    assert two.loc[0, "leader"] == "a" and two.loc[0, "top_members"] == "a;b;c"
    assert two.loc[0, "density"] == pytest.approx(3 / 6)
