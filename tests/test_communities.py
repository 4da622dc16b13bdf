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


def test_roles_follow_guimera_amaral_thresholds():
    from influence.communities import community_roles
    events, _ = planted(k=3, size=25, p_in=0.25, p_out=0.02, seed=2)
    # a bridge customer tied evenly to all three communities, and one isolated customer
    bridge = [("bridge", f"v{j:04d}", "share") for j in (0, 1, 2, 25, 26, 27, 50, 51, 52)]
    lonely = [("lonely", "", "share")]
    events = pd.concat([events, pd.DataFrame(bridge + lonely, columns=events.columns)])
    g = graph_of(events)
    membership = detect_communities(g, seed=0)
    roles = community_roles(g, membership)
    roles.index = g.ids
    assert roles.loc["lonely", "community_role"] == "isolated"
    assert roles.loc["bridge", "community_role"] == "connector"
    assert roles.loc["bridge", "participation"] > 0.62
    assert set(roles["community_role"]) <= {"local_leader", "connector", "member",
                                            "peripheral", "isolated"}
    assert (roles["participation"].between(0, 1)).all()
    # every threshold has an effect
    base = roles["community_role"].to_numpy()
    for kwargs in ({"hub_z": 0.5}, {"hub_participation": 0.0, "hub_z": 0.5},
                   {"connector_participation": 0.05}, {"peripheral_z": 0.5}):
        changed = community_roles(g, membership, **kwargs)["community_role"].to_numpy()
        assert not np.array_equal(base, changed), kwargs


def test_roles_zscore_and_participation_by_hand():
    from influence.communities import community_roles
    # star a-b, a-c, a-d inside one community plus d-e to another (e-f)
    rows = [("a", "b", "share"), ("a", "c", "share"), ("a", "d", "share"),
            ("d", "e", "share"), ("e", "f", "share")]
    g = graph_of(pd.DataFrame(rows, columns=["source", "target", "type"]))
    membership = np.array([0, 0, 0, 0, 1, 1])  # a b c d | e f
    roles = community_roles(g, membership)
    # within strengths in community 0: a 6, b 2, c 2, d 2 -> mean 3, std sqrt(3)
    assert roles["within_z"].iloc[0] == pytest.approx(3 / np.sqrt(3))
    # d: strength 4, half inside -> P = 1 - (0.5^2 + 0.5^2) = 0.5
    assert roles["participation"].iloc[3] == pytest.approx(0.5)


def test_confidence_definition_and_runs():
    from influence.communities import community_confidence
    events, _ = planted(k=4, size=20, p_in=0.3, p_out=0.02, seed=3)
    g = graph_of(events)
    membership = detect_communities(g, seed=0)
    conf = community_confidence(g, membership, runs=3, seed=0)
    assert conf.shape == (g.n_customers,) and ((conf >= 0) & (conf <= 1)).all()
    assert conf.mean() > 0.9          # clear planted structure: stable
    # a fuzzy graph is less stable, and the number of runs changes the granularity
    fuzzy, _ = planted(k=4, size=20, p_in=0.1, p_out=0.06, seed=3)
    gf = graph_of(fuzzy)
    mf = detect_communities(gf, seed=0)
    c3 = community_confidence(gf, mf, runs=3, seed=0)
    c4 = community_confidence(gf, mf, runs=4, seed=0)
    assert c3.mean() < 1.0
    assert not np.array_equal(c3, c4)


def test_profiles_dominant_type_and_segment_shares():
    rows = [("a", "b", "referral"), ("b", "a", "referral"), ("a", "c", "share"),
            ("c", "b", "referral"), ("x", "y", "comment"), ("y", "z", "comment"),
            ("z", "x", "comment")]
    g = graph_of(pd.DataFrame(rows, columns=["source", "target", "type"]))
    membership = np.array([0, 0, 0, 1, 1, 1])  # a b c | x y z
    segment = np.array(["champions", "champions", "contributors", "passive_audience",
                        "champions", "contributors"], dtype=object)
    table = community_profiles(g, membership, np.arange(1, 7), segment=segment,
                               segment_names=("champions", "contributors", "isolated"))
    assert table["dominant_type"].tolist() == ["referral", "comment"]
    np.testing.assert_allclose(table["share_champions"], [2 / 3, 1 / 3], atol=1e-6)
    np.testing.assert_allclose(table["share_contributors"], [1 / 3, 1 / 3], atol=1e-6)
    assert (table["share_isolated"] == 0).all()


@pytest.mark.parametrize("backend", ["igraph", "leidenalg"])
def test_synthetic_planted_truth_recovered(backend):
    from influence import analyze
    from influence.synth import generate_events
    events, truth = generate_events(3000, seed=5)
    result = analyze(events, seed=0, config=AnalysisConfig().replace(communities__backend=backend))
    found = result.customers.set_index("customer_id")["community"]
    planted_truth = truth.set_index("customer_id")["community"].reindex(found.index)
    assert nmi(found.to_numpy(), planted_truth.to_numpy()) >= 0.9


def test_iterations_has_effect_and_is_validated():
    from influence.config import config_from_dict
    from influence.errors import ConfigError
    from influence.sources import read_events
    from influence.synth import generate_events

    raw, _ = read_events(generate_events(3000, seed=1)[0])
    config = AnalysisConfig()
    g = build_graph(clean_events(raw, config).events, customer_universe(raw), config)
    one = detect_communities(g, seed=0, iterations=1)
    stable = detect_communities(g, seed=0, iterations=-1)
    assert not np.array_equal(one, stable)
    assert modularity(g, stable) >= modularity(g, one)
    with pytest.raises(ConfigError, match="communities.iterations"):
        config_from_dict({"communities": {"iterations": 0}})


def test_leiden_in_a_forked_worker_gives_the_same_results(monkeypatch):
    """The background process path (used for big graphs) changes no output byte."""
    import influence.local as analysis
    from influence import analyze
    from influence.parallel import can_fork
    from influence.synth import generate_events

    if not can_fork():
        pytest.skip("no fork on this platform: Leiden always runs inline")
    events, _ = generate_events(1500, seed=4)
    config = AnalysisConfig().replace(communities__stability_runs=2)
    inline = analyze(events, config=config.replace(communities__parallel=False))
    monkeypatch.setattr(analysis, "PARALLEL_MIN_EDGES", 0)
    forked = analyze(events, config=config)
    assert forked.manifest["communities"]["process"] == "forked worker"
    assert inline.manifest["communities"]["process"] == "main"
    pd.testing.assert_frame_equal(forked.customers, inline.customers)
    pd.testing.assert_frame_equal(forked.communities, inline.communities)
    assert forked.manifest["propagators"] == inline.manifest["propagators"]  # IMM ran there too
    assert "imm_in_worker" in forked.manifest["timings"]


def test_worker_errors_come_back_to_the_caller():
    from influence.errors import ConfigError
    from influence.parallel import Background, can_fork

    def fail():
        raise ConfigError("config key 'x' must be y")

    job = Background(fail, fork=True) if can_fork() else None
    if job is None:
        pytest.skip("no fork on this platform")
    with pytest.raises(ConfigError, match="config key 'x'"):
        job.result()
    assert Background(lambda a, b: a + b, (2, 3), fork=True).result() == 5
