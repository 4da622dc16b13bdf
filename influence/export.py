"""Influencer lists, graph files and pseudonymised ids for scripts, CRMs and Gephi
(presentation only: never computes a metric)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .columns import is_computed
from .errors import ConfigError, InputError
from .manifest import pseudonymized
from .schema import CUSTOMER_ID

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from .result import Analysis

__all__ = ["TOP_COLUMNS", "CRM_TAG_PREFIX", "KEY_ENV", "MIN_KEY_BYTES", "GRAPH_FORMATS",
           "top_customers",
           "load_pseudonym_key", "pseudonymize_ids", "pseudonymize_analysis",
           "attribute_columns", "drop_small_segments", "to_networkx", "write_graph",
           "xml_text", "restore_xml_text"]

#: Graph file formats :func:`write_graph` writes (both open in Gephi).
GRAPH_FORMATS = ("gexf", "graphml")

logger = logging.getLogger(__name__)

#: Columns of a ``top`` list, in order (those present in the results); the
#: customers-table attributes follow with ``with_attributes=True``.
TOP_COLUMNS = ("influence_rank", "customer_id", "segment", "influence_score", "pagerank",
               "out_strength", "community", "events_sent", "segment_reason", "crm_tag")

#: ``crm_tag`` is this prefix followed by the segment name.
CRM_TAG_PREFIX = "influence:"

#: Environment variable read for the pseudonymisation key when no key file is given.
KEY_ENV = "INFLUENCE_PSEUDONYM_KEY"

#: Hex characters kept of each HMAC-SHA256 digest (96 bits).
PSEUDONYM_HEX = 24

#: Shortest pseudonymisation key accepted, in bytes (128 bits: a short key can be
#: found by trying keys against one known id and its pseudonym).
MIN_KEY_BYTES = 16


def attribute_columns(customers: pd.DataFrame, manifest: dict | None = None) -> list[str]:
    """Columns of ``customers`` that came from the customers table (not computed).

    The analysis records them in ``manifest["attribute_columns"]``; without a
    manifest that has the list, every column that is neither a contract
    column, a segmentation column, nor one of the per-type counts
    (``sent_<type>``) or other computed extras is taken for an attribute.
    """
    if manifest is not None and "attribute_columns" in manifest:
        listed = set(manifest["attribute_columns"])
        return [c for c in customers.columns if c in listed]
    return [c for c in customers.columns if not is_computed(c)]


def top_customers(customers: pd.DataFrame, *, n: int = 20, by: str = "influence_rank",
                  segment: str | None = None, community: int | None = None,
                  with_attributes: bool = False,
                  attributes: list[str] | None = None) -> pd.DataFrame:
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
    with_attributes : bool, default=False
        Append the customers-table attribute columns (CRM hand-off).
    attributes : list of str, optional
        Which columns are attributes (``Analysis.manifest["attribute_columns"]``);
        guessed from the column names when not given.

    Returns
    -------
    pandas.DataFrame
        :data:`TOP_COLUMNS` (those present; ``crm_tag`` is
        ``"influence:<segment>"``), plus ``by`` (fourth) if it is not among
        them, then the attributes when asked.

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
                              kind="mergesort").head(n).copy()
    if "segment" in table.columns:
        table["crm_tag"] = pd.array((CRM_TAG_PREFIX + table["segment"].astype(str)).to_numpy(),
                                    dtype="str")
    columns = [c for c in TOP_COLUMNS if c in table.columns]
    if by not in columns:
        columns.insert(3, by)
    if with_attributes:
        listed = (attribute_columns(customers) if attributes is None
                  else [c for c in customers.columns if c in set(attributes)])
        columns += [c for c in listed if c not in columns]
    return table[columns].reset_index(drop=True)


def load_pseudonym_key(key_file: str | Path | None = None) -> bytes:
    """The secret key of :func:`pseudonymize_ids`: ``key_file``, else ``$INFLUENCE_PSEUDONYM_KEY``.

    A key file's bytes are used as they are, less one trailing newline; the
    environment variable's value as UTF-8. The key must have at least
    :data:`MIN_KEY_BYTES` (16) bytes. It is never written to any output.

    Raises
    ------
    ConfigError
        If the file cannot be read, the key is shorter than 16 bytes, or no
        key is found; the message names where it looked.
    """
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read pseudonymisation key file {str(key_file)!r}: "
                              f"{exc.strerror}") from None
        key = key[:-1] if key.endswith(b"\n") else key
        key = key[:-1] if key.endswith(b"\r") else key
        if not key:
            raise ConfigError(f"pseudonymisation key file {str(key_file)!r} is empty; "
                              "put a long random secret in it")
        return _long_enough(key, f"key file {str(key_file)!r}")
    value = os.environ.get(KEY_ENV)
    if value:
        return _long_enough(value.encode("utf-8"), f"${KEY_ENV}")
    raise ConfigError(f"--pseudonymize needs a secret key: no --key-file was given and the "
                      f"environment variable {KEY_ENV} is not set (or empty). Create one, "
                      "e.g. python -c \"import secrets; print(secrets.token_hex(32))\" "
                      "> influence.key, and pass --key-file influence.key")


def _long_enough(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"pseudonymisation key from {where} has {len(key)} bytes; it needs "
                          f"at least {MIN_KEY_BYTES}. Make one with python -c \"import "
                          "secrets; print(secrets.token_hex(32))\"")
    return key


def pseudonymize_ids(ids: pd.Series, key: bytes) -> pd.Series:
    """Replace each id with ``p_`` + the first 24 hex digits of HMAC-SHA256(key, id).

    The same id and key always give the same pseudonym (so files of one run,
    and runs with the same key, join); without the key an id cannot be
    recovered or checked. Missing values stay missing.

    >>> pseudonymize_ids(pd.Series(["ann", "ann", None]), b"k").tolist()[:2]
    ['p_9266175ac0e5692db793c2ff', 'p_9266175ac0e5692db793c2ff']
    """
    values = ids.astype("str")
    uniques = pd.unique(values.dropna())
    mapping = {u: "p_" + hmac.new(key, u.encode("utf-8"), hashlib.sha256).hexdigest()
               [:PSEUDONYM_HEX] for u in uniques}
    if len(set(mapping.values())) != len(mapping):  # pragma: no cover - 2**-96
        raise InputError("two ids have the same pseudonym; report this as a bug")
    return pd.Series(pd.array(values.map(mapping).to_numpy(), dtype="str"), index=ids.index)


def pseudonymize_analysis(result, key: bytes):
    """An :class:`~influence.analysis.Analysis` with every customer id pseudonymised.

    Every id column is replaced consistently: ``customers.customer_id`` and
    ``referred_by``, ``communities.leader`` and the ids in
    ``communities.top_members``, the edges' ``source``/``target`` (so the
    report and graph files carry pseudonyms too) and ``cascades.root``.
    Customers-table attribute columns are dropped (they may identify people);
    the igraph graph is left out. The manifest records
    ``privacy.pseudonymized = true`` and the dropped attribute names, never
    the key.
    """
    from .result import Analysis

    if result.manifest.get("privacy", {}).get("pseudonymized"):
        return result
    customers = result.customers.copy()
    attributes = attribute_columns(customers, result.manifest)
    customers = customers.drop(columns=attributes)
    for column in (CUSTOMER_ID, "referred_by"):
        if column in customers:
            customers[column] = pseudonymize_ids(customers[column], key)
    communities = result.communities.copy()
    if "leader" in communities:
        communities["leader"] = pseudonymize_ids(communities["leader"], key)
    if "top_members" in communities:
        members = communities["top_members"].astype("str")
        flat = members.str.split(";").explode()
        mapped = pseudonymize_ids(flat.dropna(), key)
        joined = mapped.groupby(level=0, sort=False).agg(";".join)
        communities["top_members"] = pd.Series(
            pd.array(joined.reindex(members.index).to_numpy(), dtype="str"),
            index=members.index)
    if attributes:
        logger.warning("pseudonymized: customer attribute columns %s left out (they may "
                       "identify customers)", attributes)
    manifest = pseudonymized(result.manifest, attributes)
    edges = None
    if result.edges is not None:
        edges = result.edges.copy()
        for column in ("source", "target"):
            edges[column] = pseudonymize_ids(edges[column], key)
    cascades = None
    if result.cascades is not None:
        cascades = result.cascades.copy()
        if "root" in cascades:
            cascades["root"] = pseudonymize_ids(cascades["root"], key)
    return Analysis(customers=customers, communities=communities, manifest=manifest,
                    graph=None, segments=result.segments, snapshots=result.snapshots,
                    edges=edges, cascades=cascades, kfactor=result.kfactor)


def drop_small_segments(table: pd.DataFrame, customers: pd.DataFrame,
                        min_segment_size: int) -> tuple[pd.DataFrame, list[str]]:
    """Drop rows of ``table`` whose segment has fewer than ``min_segment_size``
    customers in ``customers``; return the table and the dropped segment names."""
    sizes = customers["segment"].astype(str).value_counts()
    small = sorted(s for s, size in sizes.items() if size < min_segment_size)
    if not small or "segment" not in table.columns:
        return table, small
    keep = ~table["segment"].astype(str).isin(small).to_numpy()
    return table[keep].reset_index(drop=True), small


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


#: Characters an XML 1.0 document cannot carry, not even as ``&#N;``: C0 controls but tab
#: and newline, lone surrogates, U+FFFE and U+FFFF; and carriage return, which parsers turn
#: into a newline in element text (GraphML values).
_XML_UNSAFE = "\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff"
_NEEDS_ESCAPE = re.compile(f"[{_XML_UNSAFE}]|\\\\u")
_ESCAPE = re.compile(f"[{_XML_UNSAFE}\\\\]")
_UNESCAPE = re.compile(r"\\(?:\\|u([0-9a-f]{4}))")


def xml_text(text: str) -> str:
    r"""``text`` as graph files (XML 1.0) write it: unchanged unless it must be escaped.

    A text that holds a character XML 1.0 cannot carry (U+0000-U+0008,
    U+000B-U+001F, carriage return included, lone surrogates U+D800-U+DFFF,
    U+FFFE, U+FFFF), or a backslash followed by ``u``, is written with every
    such character as ``\uXXXX`` (four lower-case hex digits) and every
    backslash doubled. Any other text, tabs, newlines, ``<``, ``&``, quotes,
    ``]]>``, U+007F and non-ASCII included, is written as it is (the XML writer
    escapes markup).

    The rule is one-to-one, so distinct ids stay distinct nodes:
    :func:`restore_xml_text` undoes it.

    Examples
    --------
    >>> print(xml_text("ann"), xml_text("a\x00b"), xml_text("C:\\temp"), xml_text("x\\u0000"))
    ann a\u0000b C:\temp x\\u0000
    """
    if not _NEEDS_ESCAPE.search(text):
        return text
    return _ESCAPE.sub(lambda m: "\\\\" if m.group() == "\\" else f"\\u{ord(m.group()):04x}",
                       text)


def restore_xml_text(text: str) -> str:
    r"""The text :func:`xml_text` was given (for ids read back from a graph file).

    >>> restore_xml_text(xml_text("a\x00b\\u")) == "a\x00b\\u"
    True
    """
    if "\\u" not in text:
        return text
    return _UNESCAPE.sub(lambda m: "\\" if m.group(1) is None else chr(int(m.group(1), 16)),
                         text)


def to_networkx(analysis: Analysis) -> nx.DiGraph:
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
    return _networkx(analysis)


def _texts(column: pd.Series) -> list[str]:
    """The values as Python text (no Arrow round trip: it cannot hold every str)."""
    return [v if isinstance(v, str) else str(v) for v in column.tolist()]


def _networkx(analysis: Analysis, text=None) -> nx.DiGraph:
    """:func:`to_networkx`, with ``text`` applied to every id, attribute name and text
    value (:func:`xml_text` for the graph files)."""
    import networkx as nx

    if analysis.edges is None:
        raise InputError("this analysis has no influence edges (no edges.csv or "
                         "edges.parquet in the results folder); re-run 'influence analyze' "
                         "to write them")

    def plain(value):
        value = _plain(value)
        return text(value) if text is not None and isinstance(value, str) else value

    name = text or str
    graph = nx.DiGraph()
    customers = analysis.customers
    columns = [c for c in customers.columns if c != "customer_id"]
    values = {c: customers[c].astype(object).tolist() for c in columns}
    names = {c: name(str(c)) for c in columns}
    for i, node in enumerate(_texts(customers["customer_id"])):
        attrs = {}
        for column in columns:
            value = plain(values[column][i])
            if value is not None:
                attrs[names[column]] = value
        graph.add_node(name(node), **attrs)
    edges = analysis.edges
    extra = [c for c in edges.columns if c not in ("source", "target")]
    cols = {c: edges[c].astype(object).tolist() for c in extra}
    names = {c: name(str(c)) for c in extra}
    for k, (u, v) in enumerate(zip(_texts(edges["source"]), _texts(edges["target"]))):
        attrs = {}
        for column in extra:
            value = plain(cols[column][k])
            if value is not None:
                attrs[names[column]] = value
        graph.add_edge(name(u), name(v), **attrs)
    return graph


def write_graph(analysis: Analysis, path: str | Path, format: str | None = None) -> Path:
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

    Every file is well-formed XML 1.0: ids, attribute names and text values
    that hold characters XML cannot carry (control characters, lone
    surrogates, U+FFFE/U+FFFF) are written escaped by :func:`xml_text`, a
    one-to-one rule, so distinct customers stay distinct nodes
    (:func:`restore_xml_text` gives the ids back).
    """
    import networkx as nx
    from networkx.readwrite.gexf import GEXFWriter

    path = Path(path)
    format = format or path.suffix.lstrip(".").lower()
    if format not in GRAPH_FORMATS:
        raise InputError(f"unknown graph format {format!r}; expected one of "
                         f"{list(GRAPH_FORMATS)}")
    graph = _networkx(analysis, text=xml_text)
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
