"""Communities (group segmentation): Leiden partition and community profiles.

Communities are found on the undirected view of the influence graph
(``u - v`` weighs ``w(u->v) + w(v->u)``): a group is a group whichever way
influence runs inside it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import contextmanager

import igraph as ig
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .graph import InfluenceGraph

__all__ = ["detect_communities", "modularity", "community_profiles", "community_edge_sums",
           "profiles_from_sums", "profiles_from_counts", "community_roles",
           "roles_from_strengths", "renumber", "community_confidence", "community_links",
           "community_link_weights", "ROLES", "cross_community_influence"]

#: Values of ``community_role``.
ROLES = ("local_leader", "connector", "member", "peripheral", "isolated")


@contextmanager
def _seeded_igraph_rng(seed: int):
    """Give igraph a seeded generator for one call, then put the previous one back."""
    previous = ig.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        ig.set_random_number_generator(previous if previous is not None else random)


def detect_communities(graph: InfluenceGraph, *, resolution: float = 1.0, seed: int = 0,
                       iterations: int = 2, backend: str = "igraph") -> np.ndarray:
    """Leiden communities maximising modularity.

    Parameters
    ----------
    graph : InfluenceGraph
    resolution : float, default=1.0
        Modularity resolution gamma (> 0); larger gives smaller communities.
    seed : int, default=0
    iterations : int, default=2
        Leiden iterations; -1 iterates until the partition is stable.
    backend : {"igraph", "leidenalg"}, default="igraph"
        igraph's ``community_leiden`` or ``leidenalg.find_partition``. Every
        backend argument is set explicitly (objective: modularity, never the
        CPM default; weights; resolution; seed; iterations; beta 0.01).

    Returns
    -------
    numpy.ndarray of int64
        Community of each vertex, numbered 0, 1, ... by decreasing size, ties by
        the smallest customer id in the community. Customers without edges are
        communities of their own.

    References
    ----------
    .. [1] Traag, V. A., Waltman, L. and van Eck, N. J. (2019). From Louvain to
       Leiden: guaranteeing well-connected communities. Scientific Reports 9,
       5233. doi:10.1038/s41598-019-41695-z
    """
    undirected = graph.undirected()
    if backend == "igraph":
        with _seeded_igraph_rng(seed):
            partition = undirected.community_leiden(
                objective_function="modularity", weights="weight", resolution=resolution,
                beta=0.01, initial_membership=None, n_iterations=iterations)
        membership = np.asarray(partition.membership, dtype=np.int64)
    elif backend == "leidenalg":
        import leidenalg

        partition = leidenalg.find_partition(
            undirected, leidenalg.RBConfigurationVertexPartition, weights="weight",
            resolution_parameter=resolution, n_iterations=iterations, seed=seed)
        membership = np.asarray(partition.membership, dtype=np.int64)
    else:
        raise ValueError(f"backend must be 'igraph' or 'leidenalg'; got {backend!r}")
    return renumber(membership)


def renumber(membership: np.ndarray) -> np.ndarray:
    """Number communities by decreasing size, ties by smallest vertex (= smallest id)."""
    if len(membership) == 0:
        return membership
    labels, first, inverse, sizes = np.unique(membership, return_index=True,
                                              return_inverse=True, return_counts=True)
    order = np.lexsort((first, -sizes))
    new_label = np.empty(len(labels), dtype=np.int64)
    new_label[order] = np.arange(len(labels))
    return new_label[inverse]


def modularity(graph: InfluenceGraph, membership: np.ndarray, *,
               resolution: float = 1.0) -> float:
    """Weighted modularity of a partition of the undirected view."""
    if graph.n_edges == 0:
        return 0.0
    return float(graph.undirected().modularity(membership.tolist(), weights="weight",
                                               resolution=resolution, directed=False))


def community_profiles(graph: InfluenceGraph, membership: np.ndarray,
                       rank: np.ndarray, *, top: int = 5,
                       segment: np.ndarray | None = None,
                       segment_names: Sequence[str] = ()) -> pd.DataFrame:
    """One row per community.

    Parameters
    ----------
    graph : InfluenceGraph
    membership : numpy.ndarray
        Community of each vertex (:func:`detect_communities`).
    rank : numpy.ndarray
        ``influence_rank`` of each vertex (1 = most influential); picks leaders.
    top : int, default=5
        How many members ``top_members`` lists.
    segment : numpy.ndarray of str, optional
        Segment of each vertex; gives the ``share_<name>`` columns.
    segment_names : sequence of str, default=()
        One ``share_<name>`` column per name, in this order.

    Returns
    -------
    pandas.DataFrame
        ``community`` (int64), ``size`` (int64), ``internal_weight`` (float64:
        weight of influence edges with both ends inside), ``external_weight``
        (float64: weight of edges with exactly one end inside, either
        direction), ``density`` (float64: internal directed edges over
        ``size * (size - 1)``; 0 for a single member), ``leader`` (str: the
        member with the best influence rank), ``top_members`` (str: up to
        ``top`` ids by influence rank, separated by ``;``), ``dominant_type``
        (str: the event type carrying the most weight on internal edges, ties
        by type name; empty when the community has no internal edge), then
        ``share_<name>`` (float64: share of members in segment ``name``) for
        each of ``segment_names``. Sorted by community.
    """
    sums = community_edge_sums(graph, membership)
    return profiles_from_sums(membership, rank, graph.ids, sums, top=top, segment=segment,
                              segment_names=segment_names)


def cross_community_influence(graph: InfluenceGraph, membership: np.ndarray) -> np.ndarray:
    """Influence each customer exerted on customers of other communities.

    The weight of the influence edges ``u -> v`` with ``v`` in another community
    than ``u``, per ``u``: what makes a bridge worth a campaign (a participation
    coefficient alone marks almost everyone on a weakly modular graph).
    Summed in edge order (the graph's edges are sorted), so the same bytes on
    every engine that hands the graph over.
    """
    src = graph.edges["src"].to_numpy()
    dst = graph.edges["dst"].to_numpy()
    other = membership[src] != membership[dst]
    return np.bincount(src[other], weights=graph.edges["weight"].to_numpy()[other],
                       minlength=graph.n_customers).astype(np.float64)


def community_edge_sums(graph: InfluenceGraph, membership: np.ndarray) -> pd.DataFrame:
    """The edge half of :func:`community_profiles`: per community, in order.

    Returns
    -------
    pandas.DataFrame
        ``internal_weight``, ``external_weight`` (float64), ``internal_edges``
        (int64) and ``dominant_type`` (str, empty without internal edges), one
        row per community ``0 .. max(membership)``.
    """
    n_comm = int(membership.max()) + 1 if len(membership) else 0
    src = graph.edges["src"].to_numpy()
    dst = graph.edges["dst"].to_numpy()
    weight = graph.edges["weight"].to_numpy()
    c_src = membership[src]
    c_dst = membership[dst]
    inside = c_src == c_dst
    internal = np.bincount(c_src[inside], weights=weight[inside], minlength=n_comm)
    internal_edges = np.bincount(c_src[inside], minlength=n_comm)
    external = (np.bincount(c_src[~inside], weights=weight[~inside], minlength=n_comm)
                + np.bincount(c_dst[~inside], weights=weight[~inside], minlength=n_comm))
    dominant = np.full(n_comm, "", dtype=object)
    edge_types = graph.edge_types
    if edge_types is not None and len(edge_types) and n_comm:
        edge = edge_types["edge"].to_numpy()
        internal_row = inside[edge]
        type_code = edge_types["type"].cat.codes.to_numpy().astype(np.int64)
        names = np.asarray(edge_types["type"].cat.categories, dtype=object)
        k = len(names)
        per = np.bincount(c_src[edge[internal_row]] * k + type_code[internal_row],
                          weights=edge_types["weight"].to_numpy()[internal_row],
                          minlength=n_comm * k).reshape(n_comm, k)
        has = per.max(axis=1) > 0
        dominant[has] = names[np.argmax(per[has], axis=1)]
    return pd.DataFrame({"internal_weight": internal, "external_weight": external,
                         "internal_edges": internal_edges.astype(np.int64),
                         "dominant_type": pd.array(dominant.astype(str), dtype="str")})


def profiles_from_sums(membership: np.ndarray, rank: np.ndarray, ids: pd.Index,
                       sums: pd.DataFrame, *, top: int = 5,
                       segment: np.ndarray | None = None,
                       segment_names: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`community_profiles` from the per-community edge sums
    (:func:`community_edge_sums`, or the Spark engine's executor sums) and the
    members: size, density, leader, top members, segment shares."""
    n_comm = int(membership.max()) + 1 if len(membership) else 0
    size = np.bincount(membership, minlength=n_comm)
    order = np.lexsort((rank, membership))
    ordered_comm = membership[order]
    starts = np.flatnonzero(np.r_[True, ordered_comm[1:] != ordered_comm[:-1]])
    ranked_ids = np.asarray(ids.to_numpy(), dtype=object)[order]
    ends = np.r_[starts[1:], len(order)]
    tops = [";".join(ranked_ids[s:min(e, s + top)]) for s, e in zip(starts, ends)]
    shares = None
    if segment is not None:
        shares = {name: np.bincount(membership[segment == name], minlength=n_comm)
                  for name in segment_names}
    return profiles_from_counts(size, ranked_ids[starts], tops, sums, segment_counts=shares)


def profiles_from_counts(size: np.ndarray, leaders: Sequence[str] | np.ndarray,
                         tops: Sequence[str], sums: pd.DataFrame, *,
                         segment_counts: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The :func:`profiles_from_sums` table from per-community numbers (both engines).

    Parameters
    ----------
    size : numpy.ndarray
        Members of each community ``0 .. n - 1``.
    leaders, tops : sequence or numpy.ndarray of str
        Best-ranked member and the ``;``-joined top members of each community.
    sums : pandas.DataFrame
        :func:`community_edge_sums`, one row per community.
    segment_counts : dict of str to numpy.ndarray, optional
        Segment -> members of each community in it: a ``share_<segment>`` column
        each (6 decimals), in this order.
    """
    n_comm = len(size)
    size = np.asarray(size, dtype=np.int64)
    pairs = size.astype(np.float64) * (size - 1)
    internal_edges = sums["internal_edges"].to_numpy(dtype=np.float64)
    density = np.divide(internal_edges, pairs, out=np.zeros(n_comm), where=pairs > 0)
    table = pd.DataFrame({
        "community": np.arange(n_comm, dtype=np.int64),
        "size": size,
        "internal_weight": sums["internal_weight"].to_numpy(dtype=np.float64),
        "external_weight": sums["external_weight"].to_numpy(dtype=np.float64),
        "density": density,
        "leader": pd.array(np.asarray(leaders, dtype=object), dtype="str"),
        "top_members": pd.array(list(tops), dtype="str"),
        "dominant_type": pd.array(sums["dominant_type"].astype(str).to_numpy(), dtype="str"),
    })
    if segment_counts is not None:
        sizes = np.maximum(size, 1).astype(np.float64)
        for name, counts in segment_counts.items():
            table[f"share_{name}"] = np.round(np.asarray(counts) / sizes, 6)
    return table


def community_roles(graph: InfluenceGraph, membership: np.ndarray, *, hub_z: float = 2.5,
                    hub_participation: float = 0.30, connector_participation: float = 0.62,
                    peripheral_z: float = -0.5) -> pd.DataFrame:
    """Role of each customer inside and across communities (Guimera-Amaral).

    On the undirected weighted view, with ``k_i`` a customer's strength and
    ``k_is`` the part of it going to community ``s``:

    * ``z`` (within-community z-score): ``(k_ic - mean_c) / std_c`` where ``c``
      is the customer's own community and mean/std are over its members
      (0 when the community's std is 0);
    * ``P`` (participation coefficient): ``1 - sum_s (k_is / k_i) ** 2``; 0 when
      every tie stays inside the own community.

    =================  ================================================
    role               rule (first match)
    =================  ================================================
    ``isolated``       no ties at all (``k_i == 0``)
    ``local_leader``   ``z >= hub_z`` and ``P < hub_participation``
    ``connector``      ``z >= hub_z`` and ``P >= hub_participation``, or
                       ``P >= connector_participation``
    ``peripheral``     ``z < peripheral_z``
    ``member``         everyone else
    =================  ================================================

    Parameters
    ----------
    graph : InfluenceGraph
    membership : numpy.ndarray
        Community of each vertex.
    hub_z, hub_participation, connector_participation, peripheral_z : float
        Thresholds, see :class:`influence.config.RoleConfig`.

    Returns
    -------
    pandas.DataFrame
        ``community_role`` (str), ``within_z`` (float64), ``participation``
        (float64), one row per vertex in vertex order.

    Notes
    -----
    O(m + n log n). Guimera and Amaral's seven roles are merged into four:
    their provincial hubs are local leaders, connector and kinless hubs and
    non-hub connectors/kinless nodes are connectors, and their (ultra-)
    peripheral nodes split into members and peripheral by ``z``.

    References
    ----------
    .. [1] Guimera, R. and Amaral, L. A. N. (2005). Functional cartography of
       complex metabolic networks. Nature 433, 895-900. doi:10.1038/nature03288
    """
    n = graph.n_customers
    und = graph.undirected_edges()
    a, b = und["low"].to_numpy(), und["high"].to_numpy()
    weight = und["weight"].to_numpy()
    strength = np.bincount(a, weights=weight, minlength=n) + np.bincount(b, weights=weight,
                                                                         minlength=n)
    ca, cb = membership[a], membership[b]
    n_comm = int(membership.max()) + 1 if n else 0
    # strength of each (vertex, community) pair, both ends of every edge
    vertex = np.concatenate([a, b])
    other = np.concatenate([cb, ca])
    w2 = np.concatenate([weight, weight])
    key = vertex * np.int64(n_comm) + other
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    if len(key_sorted):
        starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
        part = np.add.reduceat(w2[order], starts)
        part_vertex = key_sorted[starts] // n_comm
        part_comm = key_sorted[starts] % n_comm
    else:
        part = np.zeros(0)
        part_vertex = part_comm = np.zeros(0, dtype=np.int64)
    safe = np.where(strength > 0, strength, 1.0)
    participation = 1.0 - np.bincount(part_vertex, weights=(part / safe[part_vertex]) ** 2,
                                      minlength=n)
    participation[strength == 0] = 0.0
    own = part_comm == membership[part_vertex]
    within = np.bincount(part_vertex[own], weights=part[own], minlength=n)
    return roles_from_strengths(membership, within, participation, strength, hub_z=hub_z,
                                hub_participation=hub_participation,
                                connector_participation=connector_participation,
                                peripheral_z=peripheral_z)


def roles_from_strengths(membership: np.ndarray, within: np.ndarray,
                         participation: np.ndarray, strength: np.ndarray, *, hub_z: float,
                         hub_participation: float, connector_participation: float,
                         peripheral_z: float) -> pd.DataFrame:
    """The roles of :func:`community_roles` from each vertex's strength inside its
    community (``within``), participation coefficient and total strength (both
    engines; the Spark engine sums them on the executors)."""
    n = len(membership)
    n_comm = int(membership.max()) + 1 if n else 0
    size = np.bincount(membership, minlength=n_comm).astype(np.float64)
    mean = np.bincount(membership, weights=within, minlength=n_comm) / np.maximum(size, 1)
    var = (np.bincount(membership, weights=within ** 2, minlength=n_comm) / np.maximum(size, 1)
           - mean ** 2)
    std = np.sqrt(np.clip(var, 0, None))
    std_v = std[membership]
    z = np.divide(within - mean[membership], std_v, out=np.zeros(n),
                  where=std_v > 1e-12 * np.maximum(np.abs(mean[membership]), 1))
    z = np.round(z, 9)
    participation = np.round(np.clip(participation, 0.0, 1.0), 9)
    hub = z >= hub_z
    role = np.select(
        [strength == 0, hub & (participation < hub_participation),
         hub | (participation >= connector_participation), z < peripheral_z],
        ["isolated", "local_leader", "connector", "peripheral"], default="member")
    return pd.DataFrame({"community_role": pd.array(role.astype(str), dtype="str"),
                         "within_z": z, "participation": participation})


def community_confidence(graph: InfluenceGraph, membership: np.ndarray, *, runs: int,
                         resolution: float = 1.0, seed: int = 0,
                         iterations: int = 2, backend: str = "igraph") -> np.ndarray:
    """Share of extra Leiden runs in which each customer stays with its community's core.

    Runs Leiden ``runs`` more times with seeds ``seed + 1, ..., seed + runs``.
    In run ``r``, the *core* of community ``C`` (of ``membership``) is the
    run-``r`` community that holds the most members of ``C`` (ties: the
    smallest label). A customer *stays* in run ``r`` when run ``r`` puts them
    in the core of their own community. The confidence is the share of runs in
    which they stay, in [0, 1]: 1 means every rerun kept them with the bulk of
    their community.

    Parameters
    ----------
    graph : InfluenceGraph
    membership : numpy.ndarray
        The reported partition (:func:`detect_communities` with ``seed``).
    runs : int
        Extra runs, >= 1.
    resolution, seed, iterations, backend
        As for :func:`detect_communities`.

    Returns
    -------
    numpy.ndarray of float64, one value per vertex.

    Notes
    -----
    Costs ``runs`` more Leiden runs. Customers without ties form communities of
    one and always stay (confidence 1).
    """
    n = len(membership)
    stays = np.zeros(n, dtype=np.int64)
    n_comm = int(membership.max()) + 1 if n else 0
    for r in range(1, runs + 1):
        other = detect_communities(graph, resolution=resolution, seed=seed + r,
                                   iterations=iterations, backend=backend)
        key = membership * np.int64(n) + other
        pair, counts = np.unique(key, return_counts=True)
        comm = pair // n
        label = pair % n
        # per community: the label with most shared members, ties by smallest label
        order = np.lexsort((label, -counts, comm))
        first = np.flatnonzero(np.r_[True, comm[order][1:] != comm[order][:-1]])
        core = np.empty(n_comm, dtype=np.int64)
        core[comm[order][first]] = label[order][first]
        stays += other == core[membership]
    return np.round(stays / runs, 6)


def community_links(edges: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Weight of influence between communities (the community map of the report).

    Parameters
    ----------
    edges : pandas.DataFrame
        Influence edges with ids: ``source``, ``target``, ``weight``
        (:meth:`InfluenceGraph.edge_table`).
    customers : pandas.DataFrame
        ``customer_id`` and ``community``.

    Returns
    -------
    pandas.DataFrame
        ``community_a`` < ``community_b`` (int64), ``weight`` (float64: total
        weight of edges between them, both directions), ``n_edges`` (int64);
        sorted by (community_a, community_b). Pairs without edges are absent;
        edges inside one community, and edges with an end that is not in
        ``customers``, are not counted.

    Examples
    --------
    >>> edges = pd.DataFrame({"source": ["a", "b", "c"], "target": ["b", "c", "a"],
    ...                       "weight": [1.0, 2.0, 4.0]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "community": [0, 0, 1]})
    >>> community_links(edges, customers).values.tolist()
    [[0.0, 1.0, 6.0, 2.0]]
    """
    # row of each edge's ends in customers (null: not a customer); Arrow hashes the ids
    # once per column, far faster than looking up millions of strings in a pandas index
    ids = pa.array(customers["customer_id"].astype("str"))
    source = pc.index_in(pa.array(edges["source"].astype("str")), value_set=ids)
    target = pc.index_in(pa.array(edges["target"].astype("str")), value_set=ids)
    known = pc.and_(source.is_valid(), target.is_valid()).to_numpy(zero_copy_only=False)
    community = customers["community"].to_numpy(dtype=np.int64)
    return community_link_weights(community[source.filter(known).to_numpy()],
                                  community[target.filter(known).to_numpy()],
                                  edges["weight"].to_numpy(dtype=np.float64)[known])


def community_link_weights(source_community: np.ndarray, target_community: np.ndarray,
                           weight: np.ndarray) -> pd.DataFrame:
    """:func:`community_links` from the community of each edge's ends.

    Parameters
    ----------
    source_community, target_community : numpy.ndarray of int
        Community of each edge's source and target.
    weight : numpy.ndarray of float
        Weight of each edge.

    Returns
    -------
    pandas.DataFrame
        As :func:`community_links`. Totals are summed in sorted order, so they
        do not depend on the order of the edges.

    Examples
    --------
    >>> community_link_weights(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                        np.array([1.0, 2.0, 4.0])).values.tolist()
    [[0.0, 1.0, 6.0, 2.0]]
    """
    c_src = np.asarray(source_community, dtype=np.int64)
    c_dst = np.asarray(target_community, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    across = c_src != c_dst
    links = pd.DataFrame({"community_a": np.minimum(c_src, c_dst)[across],
                          "community_b": np.maximum(c_src, c_dst)[across],
                          "weight": weight[across]})
    # sort before summing so the totals do not depend on the order of the edges
    links = links.sort_values(["community_a", "community_b", "weight"], kind="mergesort")
    grouped = links.groupby(["community_a", "community_b"], sort=True)["weight"]
    return pd.DataFrame({"weight": grouped.sum(), "n_edges": grouped.size()}).reset_index()
