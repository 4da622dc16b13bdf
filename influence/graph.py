"""Events -> weighted, directed influence-flow graph.

An edge ``u -> v`` means "u influenced v" (see :mod:`influence.schema` for the
flow of each event type). Its ``weight`` is the sum of the weights of the
events behind it (type weight x row weight x recency decay); ``n_events``
counts them. Vertices are customers; vertex ``i`` is ``ids[i]`` and ids are
sorted, so the graph does not depend on the order of the input rows. The
id <-> vertex mapping is kept once, in :class:`InfluenceGraph`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .config import AnalysisConfig
from .schema import SOURCE, TARGET, TYPE, WEIGHT

__all__ = ["InfluenceGraph", "encode_events", "build_edges", "build_graph", "graph_from_edges"]


@dataclass
class InfluenceGraph:
    """The influence graph and its id mapping.

    Attributes
    ----------
    ids : pandas.Index
        Customer ids (text, sorted); vertex ``i`` is ``ids[i]``.
    edges : pandas.DataFrame
        One row per directed pair: ``src``, ``dst`` (int32 vertex indices),
        ``weight`` (float64), ``n_events`` (int64); sorted by (src, dst).
    graph : igraph.Graph
        Directed, edge attribute ``weight``; edge ``k`` is ``edges.iloc[k]``.
    edge_types : pandas.DataFrame or None
        Weight of each edge by event type: ``edge`` (int64 row of ``edges``),
        ``type`` (categorical of str), ``weight`` (float64); one row per (edge, type) present,
        sorted by (edge, type). The weights of an edge sum to its ``weight``.
    """

    ids: pd.Index
    edges: pd.DataFrame
    graph: ig.Graph
    edge_types: pd.DataFrame | None = None
    _undirected: ig.Graph | None = None
    _undirected_edges: pd.DataFrame | None = None

    @property
    def n_customers(self) -> int:
        return len(self.ids)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    def undirected_edges(self) -> pd.DataFrame:
        """Edges of the undirected view: ``low < high`` (int64 vertices) and
        ``weight`` = ``w(low->high) + w(high->low)``, sorted by (low, high). Cached."""
        if self._undirected_edges is None:
            src = self.edges["src"].to_numpy()
            dst = self.edges["dst"].to_numpy()
            low = np.minimum(src, dst).astype(np.int64)
            high = np.maximum(src, dst).astype(np.int64)
            key = low * self.n_customers + high
            order = np.argsort(key, kind="stable")
            key_sorted = key[order]
            if len(key_sorted):
                starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
                weight = np.add.reduceat(self.edges["weight"].to_numpy()[order], starts)
                unique = key_sorted[starts]
            else:
                weight = np.zeros(0)
                unique = np.zeros(0, dtype=np.int64)
            self._undirected_edges = pd.DataFrame({"low": unique // self.n_customers,
                                                   "high": unique % self.n_customers,
                                                   "weight": weight})
        return self._undirected_edges

    def undirected(self) -> ig.Graph:
        """Undirected simple graph: ``u - v`` weighs ``w(u->v) + w(v->u)``
        (:meth:`undirected_edges`, edge ``k`` is its row ``k``). Cached."""
        if self._undirected is None:
            edges = self.undirected_edges()
            self._undirected = _igraph(self.n_customers, edges["low"].to_numpy(),
                                       edges["high"].to_numpy(), edges["weight"].to_numpy(),
                                       directed=False)
        return self._undirected

    def edge_table(self) -> pd.DataFrame:
        """The edges with customer ids: what ``edges.csv`` of a results folder holds.

        Returns
        -------
        pandas.DataFrame
            ``source``, ``target`` (str: ``source`` influenced ``target``),
            ``weight`` (float64), ``n_events`` (int64); sorted by (source, target).
        """
        ids = pd.Index(self.ids, dtype="str")  # Arrow-backed: take copies no Python objects
        return pd.DataFrame({
            "source": ids.take(self.edges["src"].to_numpy()).array,
            "target": ids.take(self.edges["dst"].to_numpy()).array,
            "weight": self.edges["weight"].to_numpy(dtype=np.float64),
            "n_events": self.edges["n_events"].to_numpy(dtype=np.int64),
        })

    def to_networkx(self) -> nx.DiGraph:
        """The graph as a :class:`networkx.DiGraph` with customer ids as nodes and
        ``weight`` and ``n_events`` edge attributes (for interchange and tests)."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.ids.tolist())
        ids = self.ids.to_numpy()
        graph.add_weighted_edges_from(
            zip(ids[self.edges["src"].to_numpy()], ids[self.edges["dst"].to_numpy()],
                self.edges["weight"].to_numpy().tolist()))
        for (u, v), n in zip(zip(ids[self.edges["src"].to_numpy()],
                                 ids[self.edges["dst"].to_numpy()]),
                             self.edges["n_events"].to_numpy().tolist()):
            graph[u][v]["n_events"] = n
        return graph


def encode_events(events: pd.DataFrame, ids: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Vertex indices of each event's source and target (-1 where target is missing)."""
    return _vertex_codes(events[SOURCE], ids), _vertex_codes(events[TARGET], ids)


def _vertex_codes(column: pd.Series, ids: pd.Index) -> np.ndarray:
    """Vertex index of each value (-1 where missing).

    A categorical column (what :func:`influence.validation.clean_events`
    returns) is mapped through its categories; any other column is factorized
    first. Either way only distinct values are looked up (10x fewer string
    lookups than per row).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        uniques = column.cat.categories
        if uniques.equals(ids):
            return codes
    else:
        codes, uniques = pd.factorize(column)
    lookup = np.append(ids.get_indexer(uniques).astype(np.int64), -1)
    return lookup[codes]


def build_edges(events: pd.DataFrame, ids: pd.Index, config: AnalysisConfig,
                codes: tuple[np.ndarray, np.ndarray] | None = None, *,
                by_type: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate clean events into influence-flow edges.

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events (:func:`influence.validation.clean_events`): ``source``,
        ``target``, ``type``, ``weight``.
    ids : pandas.Index
        Sorted customer ids; every source and target must be in it.
    config : AnalysisConfig
        Gives each type's flow.
    codes : (ndarray, ndarray), optional
        :func:`encode_events` of ``events``, if already computed.
    by_type : bool, default=False
        Also return the weight of each edge by event type.

    Returns
    -------
    edges : pandas.DataFrame
        ``src``, ``dst`` (int32), ``weight`` (float64), ``n_events`` (int64),
        sorted by (src, dst). Events without a target add no edge.
    edge_types : pandas.DataFrame
        Only with ``by_type``: ``edge`` (int64 row of ``edges``), ``type``
        (categorical of str, categories sorted), ``weight`` (float64), sorted by (edge, type).

    Notes
    -----
    O(m log m) for m events (one sort). Within a pair, weights are summed per
    type in ascending order, then the per-type sums in type order, so the
    totals are bit-identical whatever the row order.
    """
    source_code, target_code = codes if codes is not None else encode_events(events, ids)
    with_target = target_code >= 0
    kept = events.loc[with_target, [TYPE, WEIGHT]]
    source_code = source_code[with_target]
    target_code = target_code[with_target]
    reverse_types = [name for name, spec in config.types.items() if spec.flow == "reverse"]
    reverse = kept[TYPE].isin(reverse_types).to_numpy()
    src = np.where(reverse, target_code, source_code).astype(np.int64)
    dst = np.where(reverse, source_code, target_code).astype(np.int64)
    weight = kept[WEIGHT].to_numpy(dtype=np.float64)
    type_code, type_names = pd.factorize(kept[TYPE], sort=True)
    n = len(ids)
    key = src * n + dst
    # Sort by pair, type and weight: the sums are then independent of row order.
    # When every event of a type weighs the same (no row weights, no decay) the
    # order within a (pair, type) cannot change a sum: one key is enough.
    n_types = max(len(type_names), 1)
    pair_type = key * n_types + type_code
    per_type = np.zeros(n_types)
    per_type[type_code] = weight
    if np.array_equal(weight, per_type[type_code]):
        order = np.argsort(pair_type, kind="stable")
    else:
        order = np.lexsort((weight, pair_type))
    key_sorted = key[order]
    if len(key_sorted) == 0:
        edges = pd.DataFrame({"src": np.zeros(0, np.int32), "dst": np.zeros(0, np.int32),
                              "weight": np.zeros(0), "n_events": np.zeros(0, np.int64)})
        empty = pd.DataFrame({"edge": np.zeros(0, np.int64),
                              "type": pd.Categorical([]), "weight": np.zeros(0)})
        return (edges, empty) if by_type else edges
    type_sorted = type_code[order]
    new_pair = np.r_[True, key_sorted[1:] != key_sorted[:-1]]
    group = np.flatnonzero(new_pair | np.r_[True, type_sorted[1:] != type_sorted[:-1]])
    type_total = np.add.reduceat(weight[order], group)
    starts = np.flatnonzero(new_pair)
    # position of each pair's first (pair, type) group
    first_group = np.searchsorted(group, starts)
    total = np.add.reduceat(type_total, first_group)
    count = np.diff(np.r_[starts, len(key_sorted)])
    unique = key_sorted[starts]
    edges = pd.DataFrame({
        "src": (unique // n).astype(np.int32),
        "dst": (unique % n).astype(np.int32),
        "weight": total,
        "n_events": count.astype(np.int64),
    })
    if not by_type:
        return edges
    edge_of_group = np.cumsum(new_pair)[group] - 1
    edge_types = pd.DataFrame({
        "edge": edge_of_group.astype(np.int64),
        "type": pd.Categorical.from_codes(type_sorted[group],
                                          categories=pd.Index(type_names, dtype="str")),
        "weight": type_total,
    })
    return edges, edge_types


def build_graph(events: pd.DataFrame, ids: pd.Index, config: AnalysisConfig,
                codes: tuple[np.ndarray, np.ndarray] | None = None) -> InfluenceGraph:
    """Build the directed weighted influence graph in igraph.

    Every id in ``ids`` is a vertex, also those without edges.

    Examples
    --------
    >>> import pandas as pd
    >>> from influence.config import AnalysisConfig
    >>> events = pd.DataFrame({"source": ["a", "c"], "target": ["b", "a"],
    ...                        "type": ["share", "comment"], "weight": [2.0, 1.0]})
    >>> g = build_graph(events, pd.Index(["a", "b", "c"]), AnalysisConfig())
    >>> g.edges[["src", "dst", "weight"]].values.tolist()
    [[0.0, 1.0, 2.0], [0.0, 2.0, 1.0]]
    """
    edges, edge_types = build_edges(events, ids, config, codes, by_type=True)
    graph = _igraph(len(ids), edges["src"].to_numpy(), edges["dst"].to_numpy(),
                    edges["weight"].to_numpy(), directed=True)
    return InfluenceGraph(ids=ids, edges=edges, graph=graph, edge_types=edge_types)


def graph_from_edges(ids, edges: pd.DataFrame) -> InfluenceGraph:
    """The influence graph of saved results, rebuilt from their edge table.

    What :meth:`influence.Analysis.load` gives as ``graph``: the same vertices,
    edges, weights and event counts as the graph :func:`build_graph` made, so
    ``to_networkx()`` and the graph algorithms work on loaded results too.

    Parameters
    ----------
    ids : sequence of str
        Every customer id (``customers.customer_id``), in any order; customers
        without edges become vertices without edges.
    edges : pandas.DataFrame
        :meth:`InfluenceGraph.edge_table`: ``source`` influenced ``target``,
        ``weight``, ``n_events``.

    Returns
    -------
    InfluenceGraph
        Vertices in sorted id order, edges sorted by (source, target) vertex, as
        :func:`build_graph` has them; ``edge_types`` is None (saved edges do not
        split weights by event type).

    Raises
    ------
    InputError
        An id is repeated, or an edge names a customer not in ``ids``.

    Examples
    --------
    >>> import pandas as pd
    >>> edges = pd.DataFrame({"source": ["b"], "target": ["a"], "weight": [2.0],
    ...                       "n_events": [1]})
    >>> g = graph_from_edges(["a", "b", "c"], edges)
    >>> sorted(g.to_networkx().edges(data="weight"))
    [('b', 'a', 2.0)]
    """
    from .errors import InputError

    ids = pd.Index(pd.array(np.asarray(ids, dtype=object), dtype="str")).sort_values()
    if ids.has_duplicates:
        raise InputError(f"customer ids repeat ({ids[ids.duplicated()][0]!r}); a graph "
                         "needs one vertex per customer")
    src = ids.get_indexer(edges["source"].astype("str"))
    dst = ids.get_indexer(edges["target"].astype("str"))
    unknown = (src < 0) | (dst < 0)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise InputError(f"{int(unknown.sum())} edges name a customer that is not in the "
                         f"customers table (first: {edges['source'].iloc[row]!r} -> "
                         f"{edges['target'].iloc[row]!r})")
    order = np.lexsort((dst, src))
    table = pd.DataFrame({
        "src": src[order].astype(np.int32),
        "dst": dst[order].astype(np.int32),
        "weight": edges["weight"].to_numpy(dtype=np.float64)[order],
        "n_events": edges["n_events"].to_numpy(dtype=np.int64)[order],
    })
    graph = _igraph(len(ids), table["src"].to_numpy(), table["dst"].to_numpy(),
                    table["weight"].to_numpy(), directed=True)
    return InfluenceGraph(ids=ids, edges=table, graph=graph)


def _igraph(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
            directed: bool) -> ig.Graph:
    """igraph graph with ``n`` vertices, edge ``k`` = ``src[k] -> dst[k]`` with ``weight[k]``.

    python-igraph converts a Python edge list (or a numpy array) element by
    element, about 1-2.5 us per edge. Its C edge-list reader is 2x faster,
    so the edges go through a temporary text file written by Arrow's CSV
    writer (about 140 MB at 10M edges, removed at once). Edge order is kept.
    """
    with tempfile.TemporaryDirectory(prefix="influence-") as folder:
        path = os.path.join(folder, "edges.txt")
        table = pa.table({"from": np.asarray(src, dtype=np.int64),
                          "to": np.asarray(dst, dtype=np.int64)})
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(
            include_header=False, delimiter=" ", quoting_style="none"))
        graph = ig.Graph.Read_Edgelist(path, directed=directed)
    if graph.vcount() < n:
        graph.add_vertices(n - graph.vcount())
    graph.es["weight"] = np.asarray(weight, dtype=np.float64).tolist()
    return graph
