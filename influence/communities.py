"""Communities (group segmentation): Leiden partition and community profiles.

Communities are found on the undirected view of the influence graph
(``u - v`` weighs ``w(u->v) + w(v->u)``): a group is a group whichever way
influence runs inside it.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import igraph as ig
import numpy as np
import pandas as pd

from .graph import InfluenceGraph

__all__ = ["detect_communities", "modularity", "community_profiles", "community_links"]


@contextmanager
def _seeded_igraph_rng(seed: int):
    """Give igraph a seeded generator for one call, then put the previous one back."""
    previous = ig.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        ig.set_random_number_generator(previous if previous is not None else random)


def detect_communities(graph: InfluenceGraph, *, resolution: float = 1.0, seed: int = 0,
                       backend: str = "igraph") -> np.ndarray:
    """Leiden communities maximising modularity.

    Parameters
    ----------
    graph : InfluenceGraph
    resolution : float, default=1.0
        Modularity resolution gamma (> 0); larger gives smaller communities.
    seed : int, default=0
    backend : {"igraph", "leidenalg"}, default="igraph"
        igraph's ``community_leiden`` or ``leidenalg.find_partition``. Every
        backend argument is set explicitly (objective: modularity, never the
        CPM default; weights; resolution; seed; iterate until stable).

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
                beta=0.01, initial_membership=None, n_iterations=-1)
        membership = np.asarray(partition.membership, dtype=np.int64)
    elif backend == "leidenalg":
        import leidenalg

        partition = leidenalg.find_partition(
            undirected, leidenalg.RBConfigurationVertexPartition, weights="weight",
            resolution_parameter=resolution, n_iterations=-1, seed=seed)
        membership = np.asarray(partition.membership, dtype=np.int64)
    else:
        raise ValueError(f"backend must be 'igraph' or 'leidenalg'; got {backend!r}")
    return _renumber(membership)


def _renumber(membership: np.ndarray) -> np.ndarray:
    """Number communities by decreasing size, ties by smallest vertex (= smallest id)."""
    if len(membership) == 0:
        return membership
    labels, first, inverse, sizes = np.unique(membership, return_index=True,
                                              return_inverse=True, return_counts=True)
    order = np.lexsort((first, -sizes))
    new_label = np.empty(len(labels), dtype=np.int64)
    new_label[order] = np.arange(len(labels))
    return new_label[inverse]


def modularity(graph: InfluenceGraph, membership: np.ndarray, resolution: float = 1.0) -> float:
    """Weighted modularity of a partition of the undirected view."""
    if graph.n_edges == 0:
        return 0.0
    return float(graph.undirected().modularity(membership.tolist(), weights="weight",
                                               resolution=resolution, directed=False))


def community_profiles(graph: InfluenceGraph, membership: np.ndarray,
                       rank: np.ndarray, top: int = 5) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        ``community`` (int64), ``size`` (int64), ``internal_weight`` (float64:
        weight of influence edges with both ends inside), ``external_weight``
        (float64: weight of edges with exactly one end inside, either
        direction), ``density`` (float64: internal directed edges over
        ``size * (size - 1)``; 0 for a single member), ``leader`` (str: the
        member with the best influence rank), ``top_members`` (str: up to
        ``top`` ids by influence rank, separated by ``;``). Sorted by community.
    """
    n_comm = int(membership.max()) + 1 if len(membership) else 0
    src = graph.edges["src"].to_numpy()
    dst = graph.edges["dst"].to_numpy()
    weight = graph.edges["weight"].to_numpy()
    c_src = membership[src]
    c_dst = membership[dst]
    inside = c_src == c_dst
    size = np.bincount(membership, minlength=n_comm)
    internal = np.bincount(c_src[inside], weights=weight[inside], minlength=n_comm)
    internal_edges = np.bincount(c_src[inside], minlength=n_comm)
    external = (np.bincount(c_src[~inside], weights=weight[~inside], minlength=n_comm)
                + np.bincount(c_dst[~inside], weights=weight[~inside], minlength=n_comm))
    pairs = size.astype(np.float64) * (size - 1)
    density = np.divide(internal_edges, pairs, out=np.zeros(n_comm), where=pairs > 0)
    order = np.lexsort((rank, membership))
    ordered_comm = membership[order]
    starts = np.flatnonzero(np.r_[True, ordered_comm[1:] != ordered_comm[:-1]])
    ids = graph.ids.to_numpy()
    ranked_ids = ids[order]
    leaders = ranked_ids[starts]
    ends = np.r_[starts[1:], len(order)]
    tops = [";".join(ranked_ids[s:min(e, s + top)]) for s, e in zip(starts, ends)]
    return pd.DataFrame({
        "community": np.arange(n_comm, dtype=np.int64),
        "size": size.astype(np.int64),
        "internal_weight": internal,
        "external_weight": external,
        "density": density,
        "leader": pd.array(leaders, dtype="str"),
        "top_members": pd.array(tops, dtype="str"),
    })


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
        edges inside one community are not counted.

    Examples
    --------
    >>> edges = pd.DataFrame({"source": ["a", "b", "c"], "target": ["b", "c", "a"],
    ...                       "weight": [1.0, 2.0, 4.0]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "community": [0, 0, 1]})
    >>> community_links(edges, customers).values.tolist()
    [[0.0, 1.0, 6.0, 2.0]]
    """
    membership = pd.Series(customers["community"].to_numpy(dtype=np.int64),
                           index=customers["customer_id"].astype("str").to_numpy())
    c_src = membership.reindex(edges["source"].astype("str").to_numpy()).to_numpy()
    c_dst = membership.reindex(edges["target"].astype("str").to_numpy()).to_numpy()
    known = ~(np.isnan(c_src.astype(float)) | np.isnan(c_dst.astype(float)))
    c_src = c_src[known].astype(np.int64)
    c_dst = c_dst[known].astype(np.int64)
    weight = edges["weight"].to_numpy(dtype=np.float64)[known]
    across = c_src != c_dst
    links = pd.DataFrame({"community_a": np.minimum(c_src, c_dst)[across],
                          "community_b": np.maximum(c_src, c_dst)[across],
                          "weight": weight[across]})
    # sort before summing so the totals do not depend on the order of the edges
    links = links.sort_values(["community_a", "community_b", "weight"], kind="mergesort")
    grouped = links.groupby(["community_a", "community_b"], sort=True)["weight"]
    return pd.DataFrame({"weight": grouped.sum(), "n_edges": grouped.size()}).reset_index()
