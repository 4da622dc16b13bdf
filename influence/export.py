"""Influencer lists and graph files for scripts, CRMs and Gephi (presentation only:
never computes a metric)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from .analysis import Analysis

__all__ = ["TOP_COLUMNS", "GRAPH_FORMATS", "top_customers", "to_networkx", "write_graph"]

#: Graph file formats :func:`write_graph` writes (both open in Gephi).
GRAPH_FORMATS = ("gexf", "graphml")

#: Columns of a ``top`` list, in order (those present in the results).
TOP_COLUMNS = ("influence_rank", "customer_id", "segment", "influence_score", "pagerank",
               "out_strength", "community", "events_sent", "segment_reason")


def top_customers(customers: pd.DataFrame, *, n: int = 20, by: str = "influence_rank",
                  segment: str | None = None, community: int | None = None) -> pd.DataFrame:
    """The ``n`` best customers by a column, deterministically ordered.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``Analysis.customers``.
    n : int, default=20
    by : str, default="influence_rank"
        ``influence_rank`` ranks ascending (1 first); any other numeric column
        ranks descending. Ties by ``customer_id``.
    segment : str, optional
        Keep only this segment.
    community : int, optional
        Keep only this community.

    Returns
    -------
    pandas.DataFrame
        :data:`TOP_COLUMNS` (those present), plus ``by`` if it is not among them.

    Raises
    ------
    InputError
        If ``by`` is not a numeric column, or ``segment`` names no segment.
    """
    if by not in customers.columns or not pd.api.types.is_numeric_dtype(customers[by]):
        numeric = [c for c in customers.columns if pd.api.types.is_numeric_dtype(customers[c])]
        raise InputError(f"cannot rank by {by!r}; numeric columns are {numeric}")
    table = customers
    if segment is not None:
        known = sorted(customers["segment"].dropna().unique())
        if segment not in known:
            raise InputError(f"no segment named {segment!r}; segments are {known}")
        table = table[table["segment"] == segment]
    if community is not None:
        table = table[table["community"] == community]
    ascending = by == "influence_rank"
    table = table.sort_values([by, "customer_id"], ascending=[ascending, True],
                              kind="mergesort")
    columns = [c for c in TOP_COLUMNS if c in table.columns]
    if by not in columns:
        columns.insert(3, by)
    return table.head(n)[columns].reset_index(drop=True)


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as the Python value graph writers understand; None if missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def to_networkx(analysis: "Analysis") -> "nx.DiGraph":
    """The influence graph with every customer column as node attributes.

    Parameters
    ----------
    analysis : Analysis
        Computed or loaded (:meth:`Analysis.load` reads ``edges.csv``).

    Returns
    -------
    networkx.DiGraph
        Nodes: customer ids, in ``customers`` order (by influence rank), with
        every column of ``analysis.customers`` except ``customer_id`` as an
        attribute; missing values are left out of that node's attributes and
        times are ISO 8601 text. Edges ``u -> v`` (u influenced v) carry
        ``weight``, ``n_events`` and any other column of ``analysis.edges``.

    Raises
    ------
    InputError
        If the analysis has no edges (a results folder saved without
        ``edges.csv``).
    """
    import networkx as nx

    if analysis.edges is None:
        raise InputError("this analysis has no influence edges (no edges.csv or "
                         "edges.parquet in the results folder); re-run 'influence analyze' "
                         "to write them")
    graph = nx.DiGraph()
    customers = analysis.customers
    columns = [c for c in customers.columns if c != "customer_id"]
    values = {c: customers[c].astype(object).tolist() for c in columns}
    for i, node in enumerate(customers["customer_id"].astype("str").tolist()):
        attrs = {}
        for column in columns:
            value = _plain(values[column][i])
            if value is not None:
                attrs[column] = value
        graph.add_node(node, **attrs)
    edges = analysis.edges
    extra = [c for c in edges.columns if c not in ("source", "target")]
    cols = {c: edges[c].astype(object).tolist() for c in extra}
    for k, (u, v) in enumerate(zip(edges["source"].astype("str").tolist(),
                                   edges["target"].astype("str").tolist())):
        attrs = {}
        for column in extra:
            value = _plain(cols[column][k])
            if value is not None:
                attrs[column] = value
        graph.add_edge(u, v, **attrs)
    return graph


def write_graph(analysis: "Analysis", path: str | Path, format: str | None = None) -> Path:
    """Write the influence graph as GEXF or GraphML (readable by Gephi and networkx).

    Parameters
    ----------
    analysis : Analysis
    path : path
        File to write.
    format : {"gexf", "graphml"}, optional
        Defaults to the file extension.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Built through :func:`to_networkx`, so memory grows with the graph (about
    1 KiB per node and edge). The GEXF ``lastmodifieddate`` is left out so the
    same analysis always gives the same bytes.
    """
    import networkx as nx
    from networkx.readwrite.gexf import GEXFWriter

    path = Path(path)
    format = format or path.suffix.lstrip(".").lower()
    if format not in GRAPH_FORMATS:
        raise InputError(f"unknown graph format {format!r}; expected one of "
                         f"{list(GRAPH_FORMATS)}")
    graph = to_networkx(analysis)
    if format == "gexf":
        writer = GEXFWriter(encoding="utf-8", prettyprint=True)
        meta = writer.xml.find("meta")
        if meta is not None:
            meta.attrib.pop("lastmodifieddate", None)
        writer.add_graph(graph)
        writer.write(path)
    else:
        nx.write_graphml_xml(graph, path, encoding="utf-8", prettyprint=True)
    return path
