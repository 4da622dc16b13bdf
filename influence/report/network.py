"""The neighbourhood of the top propagators: which customers and links the network shows.

Presentation only. One selection and one seeded layout serve both the
interactive network (Cytoscape.js, positions given, no layout run in the
page) and its static fallback picture (:func:`influence.report.plots.network_figure`),
so the printed page shows the same picture as the screen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .select import first_rows

__all__ = ["Neighbourhood", "neighbourhood", "N_TOP", "N_NEIGHBOURS", "MAX_LINKS"]

#: Top propagators shown (all of them labelled in the page, the first 12 in print).
N_TOP = 50
#: Strongest neighbours kept per top propagator.
N_NEIGHBOURS = 4
#: Heaviest links drawn among the customers kept.
MAX_LINKS = 600


@dataclass(frozen=True)
class Neighbourhood:
    """What the network shows.

    Attributes
    ----------
    nodes : pandas.DataFrame
        One row per customer shown, sorted by ``customer_id``: ``customer_id``
        (str), ``x``, ``y`` (float64, seeded spring layout in [-1, 1]), ``top``
        (bool: one of the top propagators), ``top_order`` (float64: 1 = best,
        NaN for neighbours), and the customers' ``segment``, ``community``,
        ``influence_score``, ``influence_rank`` and rank column.
    links : pandas.DataFrame
        ``a`` < ``b`` (customer ids), ``weight`` (float64, both directions summed),
        sorted by ``a, b``; the ``max_links`` heaviest (ties by ids).
    top_ids : list of str
        The top propagators, best first.
    rank_column : str
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    top_ids: list[str]
    rank_column: str


def neighbourhood(customers: pd.DataFrame, edges: pd.DataFrame, rank_column: str, *,
                  seed: int = 0, n_top: int = N_TOP, n_neighbours: int = N_NEIGHBOURS,
                  max_links: int = MAX_LINKS) -> Neighbourhood:
    """The ``n_top`` customers by ``rank_column`` and their strongest neighbours.

    Parameters
    ----------
    customers : pandas.DataFrame
        Needs ``customer_id``, ``rank_column``, ``segment``, ``community``,
        ``influence_score``, ``influence_rank``.
    edges : pandas.DataFrame
        ``source``, ``target``, ``weight``: all edges, or at least every edge
        that touches a top customer and every edge between two customers that
        are top customers or their neighbours (``_edges_near_top``).
    rank_column : str
        1 = best; ties by ``customer_id``.
    seed : int, default=0
        Seed of the spring layout.
    n_top, n_neighbours, max_links : int
        Caps: the page stays the same size whatever the number of customers.

    Returns
    -------
    Neighbourhood

    Notes
    -----
    A neighbour is kept for the ``n_neighbours`` heaviest links of a top
    customer (either direction summed; ties by id). The layout is
    Fruchterman-Reingold (igraph, 500 iterations) from seeded random starting
    positions, with igraph's random generator seeded for the call, so the
    same results give the same positions.
    """
    ranked = first_rows(customers, [rank_column, "customer_id"], n_top)
    top_ids = ranked["customer_id"].astype("str").tolist()
    top_set = set(top_ids)
    source = edges["source"].astype("str")
    target = edges["target"].astype("str")
    touching = edges[source.isin(top_set) | target.isin(top_set)]
    pairs = pd.concat([
        pd.DataFrame({"node": touching["source"].astype("str"),
                      "other": touching["target"].astype("str"),
                      "weight": touching["weight"]}),
        pd.DataFrame({"node": touching["target"].astype("str"),
                      "other": touching["source"].astype("str"),
                      "weight": touching["weight"]}),
    ], ignore_index=True)
    pairs = pairs[pairs["node"].isin(top_set)]
    pairs = pairs.groupby(["node", "other"], sort=True)["weight"].sum().reset_index()
    pairs = pairs.sort_values(["node", "weight", "other"], ascending=[True, False, True],
                              kind="mergesort")
    strongest = pairs.groupby("node", sort=True).head(n_neighbours)
    nodes = sorted(top_set | set(strongest["other"]))
    node_set = set(nodes)
    inside = edges[source.isin(node_set) & target.isin(node_set)]
    low = np.minimum(inside["source"].astype("str"), inside["target"].astype("str"))
    high = np.maximum(inside["source"].astype("str"), inside["target"].astype("str"))
    links = (pd.DataFrame({"a": low, "b": high,
                           "weight": inside["weight"].to_numpy(dtype=np.float64)})
             .groupby(["a", "b"], sort=True)["weight"].sum().reset_index())
    links = links.sort_values(["weight", "a", "b"], ascending=[False, True, True],
                              kind="mergesort").head(max_links)
    links = links.sort_values(["a", "b"], kind="mergesort").reset_index(drop=True)

    layout = _layout(nodes, links, seed)

    ids = customers["customer_id"].astype("str")
    kept = ids.isin(node_set)
    columns = list(dict.fromkeys(["segment", "community", "influence_score",
                                  "influence_rank", rank_column]))
    info = customers.loc[kept, columns].set_index(ids[kept]).loc[nodes]
    order = {c: i + 1 for i, c in enumerate(top_ids)}
    table = pd.DataFrame({
        "customer_id": pd.array(nodes, dtype="str"),
        "x": np.array([layout[n][0] for n in nodes], dtype=np.float64),
        "y": np.array([layout[n][1] for n in nodes], dtype=np.float64),
        "top": np.array([n in top_set for n in nodes], dtype=bool),
        "top_order": np.array([order.get(n, np.nan) for n in nodes], dtype=np.float64),
    })
    for column in columns:
        table[column] = info[column].to_numpy()
    return Neighbourhood(nodes=table, links=links, top_ids=top_ids, rank_column=rank_column)


def _layout(nodes: list[str], links: pd.DataFrame, seed: int) -> dict[str, tuple[float, float]]:
    """Seeded Fruchterman-Reingold positions, centred and scaled into [-1, 1].

    igraph's layout runs in C (a few ms for 250 customers, where networkx's
    spring layout took about a second); its random generator is a seeded
    :class:`random.Random` for the call and the previous one is put back.
    """
    import igraph as ig

    if not nodes:
        return {}
    index = {n: i for i, n in enumerate(nodes)}
    graph = ig.Graph(n=len(nodes), edges=[(index[a], index[b])
                                          for a, b in zip(links["a"], links["b"])])
    rng = random.Random(seed)
    start = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in nodes]
    previous = ig.set_random_number_generator(random.Random(seed))
    try:
        coords = np.asarray(graph.layout_fruchterman_reingold(seed=start, niter=500,
                                                              grid="nogrid").coords,
                            dtype=np.float64)
    finally:
        ig.set_random_number_generator(previous if previous is not None else random)
    coords -= coords.mean(axis=0)
    scale = np.abs(coords).max()
    if scale > 0:
        coords /= scale
    return {n: (float(x), float(y)) for n, (x, y) in zip(nodes, coords)}
