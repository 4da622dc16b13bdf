"""The one orchestrator: ``analyze()`` runs every stage; ``Analysis`` holds the result.

Stages, in order: read -> validate -> graph -> centrality -> activity ->
communities -> segments -> profiles. Each stage is a function over tables in
its own module; this module only wires them and assembles the outputs.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import __version__
from .communities import (community_confidence, community_profiles, community_roles,
                          detect_communities, modularity)
from .config import AnalysisConfig
from .errors import InputError
from .graph import InfluenceGraph, build_graph, encode_events
from .io import read_customers, read_events, restore_formulas, write_table
from .metrics import (activity_metrics, betweenness, coreness, hits, influence_score, pagerank,
                      strength)
from .progress import Reporter, StageClock
from .schema import COMMUNITY_COLUMNS, CUSTOMER_COLUMNS, CUSTOMER_ID, SEGMENT_COLUMNS, TYPE
from .segments import assign_segments, plan_rules, segment_profiles
from .validation import clean_events, customer_universe

__all__ = ["Analysis", "analyze", "OUTPUT_FORMATS"]

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("csv", "parquet")
_TIME_COLUMNS = ("first_active", "last_active")
_EXTRA_COLUMNS = SEGMENT_COLUMNS + ("community_confidence",)
_FLOAT_COLUMNS = frozenset({"influence_score", "pagerank", "in_strength", "out_strength",
                            "betweenness", "hub", "authority", "expected_spread",
                            "internal_weight", "external_weight", "density",
                            "community_confidence"})
_VERSIONED = ("pandas", "numpy", "pyarrow", "igraph", "leidenalg", "networkx")


@dataclass
class Analysis:
    """Result of :func:`analyze`.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer, sorted by ``influence_rank``; columns in contract
        order (see ``docs/concepts.md``), then tiers, then customer attributes.
    communities : pandas.DataFrame
        One row per community (:func:`influence.communities.community_profiles`).
    manifest : dict
        What went in, what was dropped and why, the effective config, versions,
        timings and warnings.
    graph : InfluenceGraph or None
        The influence graph (``None`` for an analysis loaded from disk).
    segments : pandas.DataFrame or None
        Segment profiles (:func:`influence.segments.segment_profiles`), small
        segments suppressed; ``None`` when loaded from a folder without them.
    snapshots : pandas.DataFrame or None
        Segment sizes over rolling windows
        (:func:`influence.snapshots.snapshot_series`), when asked for; saved as
        ``snapshots.csv`` (or ``.parquet``).
    edges : pandas.DataFrame or None
        The influence edges with customer ids (:meth:`InfluenceGraph.edge_table`:
        ``source`` influenced ``target``, ``weight``, ``n_events``). Filled from
        ``graph`` when not given; read from ``edges.csv``/``.parquet`` by
        :meth:`load` (``None`` for a folder saved without it).
    """

    customers: pd.DataFrame
    communities: pd.DataFrame
    manifest: dict[str, Any]
    graph: InfluenceGraph | None = field(default=None, repr=False)
    segments: pd.DataFrame | None = field(default=None, repr=False)
    snapshots: pd.DataFrame | None = field(default=None, repr=False)
    edges: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.edges is None and self.graph is not None:
            self.edges = self.graph.edge_table()

    def save(self, out: str | Path, format: str = "csv", *, report: bool = False,
             graph_format: str | None = None) -> Path:
        """Write ``customers``, ``communities``, ``segments``, ``edges`` and ``manifest.json`` into ``out``.

        Parameters
        ----------
        out : path
            Folder, created if missing.
        format : {"csv", "parquet"}, default="csv"
            Format of the tables.
        report : bool, default=False
            Also write ``report.html``, rendered from the files just written
            (so ``influence report DIR`` later gives the same bytes).
        graph_format : {"gexf", "graphml"}, optional
            Also write the influence graph as ``graph.gexf`` or ``graph.graphml``
            (:func:`influence.export.write_graph`).

        Returns
        -------
        pathlib.Path
            The folder.
        """
        if format not in OUTPUT_FORMATS:
            raise ValueError(f"format must be one of {OUTPUT_FORMATS}; got {format!r}")
        if graph_format is not None:
            from .export import GRAPH_FORMATS

            if graph_format not in GRAPH_FORMATS:
                raise ValueError(f"graph_format must be one of {GRAPH_FORMATS}; "
                                 f"got {graph_format!r}")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        customers = self.customers
        if format == "csv":
            customers = customers.copy()
            for column in _TIME_COLUMNS:
                if column in customers:
                    customers[column] = _iso(customers[column])
        write_table(customers, out / f"customers.{format}", format)
        write_table(self.communities, out / f"communities.{format}", format)
        files = [f"customers.{format}", f"communities.{format}"]
        if self.segments is not None:
            write_table(self.segments, out / f"segments.{format}", format)
            files.append(f"segments.{format}")
        if self.snapshots is not None:
            write_table(self.snapshots, out / f"snapshots.{format}", format)
            files.append(f"snapshots.{format}")
        if self.edges is not None:
            write_table(self.edges, out / f"edges.{format}", format)
            files.append(f"edges.{format}")
        files.append("manifest.json")
        if graph_format is not None:
            files.append(f"graph.{graph_format}")
        if report:
            files.append("report.html")
        manifest = dict(self.manifest)
        manifest["outputs"] = {"format": format, "files": files}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False)
                                           + "\n", encoding="utf-8")
        if graph_format is not None or report:
            # render from what was written: a later re-render gives the same bytes
            saved = Analysis.load(out)
            if graph_format is not None:
                from .export import write_graph

                write_graph(saved, out / f"graph.{graph_format}", graph_format)
            if report:
                from .report import write_report

                write_report(saved, out / "report.html", folder=out)
        return out

    @classmethod
    def load(cls, folder: str | Path) -> "Analysis":
        """Read a results folder written by :meth:`save` (no recomputation).

        ``segments`` is ``None`` when the folder has no segments table (older
        results).

        Raises
        ------
        InputError
            If the folder has no ``manifest.json`` or customers table.
        """
        folder = Path(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise InputError(f"{str(folder)!r} is not a results folder: no manifest.json "
                             "(run 'influence analyze' to make one)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        fmt = manifest.get("outputs", {}).get("format", "csv")
        tables = {}
        for name in ("customers", "communities", "segments"):
            path = folder / f"{name}.{fmt}"
            if not path.is_file():
                if name == "segments":
                    tables[name] = None
                    continue
                raise InputError(f"results folder {str(folder)!r} has no {path.name}")
            if fmt == "csv":
                table = pd.read_csv(path, dtype={CUSTOMER_ID: "str", "leader": "str",
                                                 "top_members": "str", "segment": "str",
                                                 "dominant_type": "str", "community_role": "str",
                                                 "segment_reason": "str"},
                                    keep_default_na=False, na_values=[""])
                for column in table.columns:
                    if pd.api.types.is_string_dtype(table[column].dtype):
                        table[column] = restore_formulas(table[column])
            else:
                table = pd.read_parquet(path)
            for column in _FLOAT_COLUMNS.intersection(table.columns):
                # CSV writes 2.0 as "2": read float columns back as floats
                table[column] = table[column].astype(np.float64)
            tables[name] = table
        snapshots = None
        if f"snapshots.{fmt}" in manifest.get("outputs", {}).get("files", []):
            path = folder / f"snapshots.{fmt}"
            if path.is_file():
                snapshots = (pd.read_csv(path, dtype={"segment": "str"}) if fmt == "csv"
                             else pd.read_parquet(path))
        edges = None
        path = folder / f"edges.{fmt}"
        if path.is_file():
            if fmt == "csv":
                edges = pd.read_csv(path, dtype={"source": "str", "target": "str"},
                                    keep_default_na=False, na_values=[""])
                for column in ("source", "target"):
                    edges[column] = restore_formulas(edges[column])
            else:
                edges = pd.read_parquet(path)
            edges["weight"] = edges["weight"].astype(np.float64)
        return cls(customers=tables["customers"], communities=tables["communities"],
                   manifest=manifest, segments=tables["segments"],
                   snapshots=snapshots, edges=edges)

    def __repr__(self) -> str:
        m = self.manifest
        return (f"<Analysis: {m.get('customers', len(self.customers))} customers, "
                f"{m.get('edges', '?')} edges, {len(self.communities)} communities, "
                f"{m.get('rows_used', '?')}/{m.get('rows_read', '?')} rows used>")

    def __str__(self) -> str:
        """A few lines for a terminal: what went in, segments, the top customers."""
        from .report import summary_text

        return summary_text(self)

    def _repr_html_(self) -> str:
        """Compact HTML summary for Jupyter (every value escaped)."""
        from .report import summary_html

        return summary_html(self)


def _iso(column: pd.Series) -> pd.Series:
    text = column.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text.astype("str")


def _versions() -> dict[str, str]:
    versions = {"influence": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        dist = "python-igraph" if name == "igraph" else name
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def analyze(events: str | Path | pd.DataFrame, *,
            customers: str | Path | pd.DataFrame | None = None,
            config: AnalysisConfig | None = None,
            columns: Mapping[str, str] | None = None,
            input_format: str | None = None,
            since: str | None = None, until: str | None = None,
            seed: int | None = None, resolution: float | None = None,
            reporter: Reporter | None = None) -> Analysis:
    """Run the whole analysis: events in, per-customer and per-community tables out.

    Parameters
    ----------
    events : path or pandas.DataFrame
        Events file (CSV, TSV, Parquet, JSON Lines) or DataFrame with columns
        ``source``, ``target``, ``type`` and optionally ``timestamp``,
        ``converted``, ``value``, ``weight`` (after ``columns`` mapping).
    customers : path or pandas.DataFrame, optional
        ``customer_id`` plus attributes; every customer listed appears in the
        output, attributes are carried into ``Analysis.customers``.
    config : AnalysisConfig, optional
        Defaults to :class:`AnalysisConfig()`; the keyword arguments below
        override it.
    columns : dict of str to str, optional
        Extra column mapping (canonical -> input name), merged over
        ``config.columns``.
    input_format : {"csv", "tsv", "parquet", "jsonl"}, optional
        Overrides detection by file extension.
    since, until : str, optional
        ISO dates; override ``config.window``.
    seed : int, optional
        Overrides ``config.communities.seed``.
    resolution : float, optional
        Overrides ``config.communities.resolution``.
    reporter : Reporter, optional
        Receives stage start/done notifications (progress display).

    Returns
    -------
    Analysis

    Raises
    ------
    InputError
        Unusable input (see :mod:`influence.validation`).
    ConfigError
        Invalid overrides.

    Examples
    --------
    >>> import pandas as pd
    >>> import influence
    >>> events = pd.DataFrame({"source": ["ann", "ann", "bob"],
    ...                        "target": ["bob", "cat", "cat"],
    ...                        "type": ["referral", "share", "share"]})
    >>> result = influence.analyze(events, seed=0)
    >>> result.customers[["customer_id", "influence_rank"]].values.tolist()
    [['ann', 1], ['bob', 2], ['cat', 3]]
    """
    config = config or AnalysisConfig()
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    config = config.replace(window__since=since, window__until=until,
                            communities__seed=seed, communities__resolution=resolution)
    clock = StageClock(reporter)

    with clock.stage("read"):
        raw, info = read_events(events, columns=config.columns, input_format=input_format)
        table = read_customers(customers) if customers is not None else None
    with clock.stage("validate"):
        clean = clean_events(raw, config)
        ids = customer_universe(raw, table)
        del raw
    with clock.stage("graph"):
        codes = encode_events(clean.events, ids)
        graph = build_graph(clean.events, ids, config, codes)
        graph.undirected()  # built once here (cached): coreness, Leiden and roles use it
    with clock.stage("centrality"):
        out_strength = strength(graph, "out")
        in_strength = strength(graph, "in")
        pr = pagerank(graph, config.centrality.damping)
        core = coreness(graph)
        hub, authority = hits(graph)
        cen = config.centrality
        between = betweenness(graph, budget=cen.betweenness_budget,
                              min_pivots=cen.betweenness_min_pivots,
                              seed=config.communities.seed, enabled=cen.betweenness)
    with clock.stage("activity"):
        activity = activity_metrics(clean.events, len(ids), codes, clean.end)
    with clock.stage("communities"):
        cc = config.communities
        membership = detect_communities(graph, resolution=cc.resolution, seed=cc.seed,
                                        iterations=cc.iterations, backend=cc.backend)
        q = modularity(graph, membership, cc.resolution)
        rc = config.roles
        roles = community_roles(graph, membership, hub_z=rc.hub_z,
                                hub_participation=rc.hub_participation,
                                connector_participation=rc.connector_participation,
                                peripheral_z=rc.peripheral_z)
        confidence = None
        if cc.stability_runs:
            confidence = community_confidence(graph, membership, runs=cc.stability_runs,
                                              resolution=cc.resolution, seed=cc.seed,
                                              iterations=cc.iterations, backend=cc.backend)
    with clock.stage("segments"):
        score = influence_score(pr, out_strength)
        metrics = pd.DataFrame({
            CUSTOMER_ID: pd.array(ids.to_numpy(), dtype="str"),
            "influence_score": score,
            "pagerank": pr,
            "in_strength": in_strength,
            "out_strength": out_strength,
            "coreness": core,
            "betweenness": between.scores,
            "hub": np.round(hub, 15),
            "authority": np.round(authority, 15),
            "community": membership,
            "community_role": roles["community_role"].to_numpy(),
        })
        if confidence is not None:
            metrics["community_confidence"] = confidence
        metrics = pd.concat([metrics, activity], axis=1)
        order = np.lexsort((ids.to_numpy(), -score))
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(1, len(ids) + 1)
        metrics["influence_rank"] = rank
        metrics = pd.concat([metrics, assign_segments(metrics, config.segments,
                                                      clean.has_timestamps, end=clean.end)],
                            axis=1)
        plans = plan_rules(config.segments, metrics.columns)
    with clock.stage("profiles"):
        segment_order = [p.rule.segment for p in plans] + [config.segments.default]
        segment_names = list(dict.fromkeys(segment_order))
        profiles = community_profiles(graph, membership, rank,
                                      segment=metrics["segment"].to_numpy(dtype=object),
                                      segment_names=segment_names)
        customers_table = _assemble(metrics, order, table)
        segments_table = segment_profiles(
            customers_table, min_segment_size=config.privacy.min_segment_size,
            order=segment_order)

    events_by_type = clean.events[TYPE].value_counts()
    manifest = {
        "influence_version": __version__,
        "input": info,
        "customers_input": (None if customers is None else
                            {"path": None if isinstance(customers, pd.DataFrame)
                             else str(customers), "rows": len(table)}),
        "rows_read": clean.rows_read,
        "rows_used": clean.rows_used,
        "dropped": clean.dropped,
        "events_by_type": {k: int(events_by_type[k]) for k in sorted(events_by_type.index)},
        "customers": len(ids),
        "customers_from_table": 0 if table is None else len(table),
        "edges": graph.n_edges,
        "total_weight": float(graph.edges["weight"].sum()),
        "has_timestamps": clean.has_timestamps,
        "window": {
            "since": None if config.window.since is None else config.window.since.isoformat(),
            "until": None if config.window.until is None else config.window.until.isoformat(),
            "first_event": None if clean.start is None else clean.start.isoformat(),
            "end_date": None if clean.end is None else clean.end.isoformat(),
        },
        "seed": config.communities.seed,
        "communities": {"count": int(len(profiles)), "modularity": round(q, 10),
                        "backend": config.communities.backend,
                        "objective": "modularity",
                        "resolution": config.communities.resolution,
                        "stability_runs": config.communities.stability_runs,
                        "iterations": config.communities.iterations,
                        "roles": {role: int(count) for role, count in sorted(
                            roles["community_role"].value_counts().items())}},
        "betweenness": between.describe(len(ids)),
        "hits": {"graph": "influence flow, weighted", "normalised": "each sums to 1",
                 "solver": "scipy power iteration from the uniform vector, tol 1e-10"},
        "segments": {
            "rules": [plan.to_dict() for plan in plans],
            "default": config.segments.default,
            "sizes": {row.segment: int(row.size) for row in segments_table.itertuples()},
            "suppressed": [row.segment for row in segments_table.itertuples()
                           if row.suppressed],
        },
        "attribute_columns": [c for c in customers_table.columns
                              if c not in CUSTOMER_COLUMNS and c not in _EXTRA_COLUMNS],
        "pagerank": {"graph": "reversed influence flow", "damping": config.centrality.damping,
                     "solver": "igraph prpack, 1 thread"},
        "config": config.to_dict(),
        "versions": _versions(),
        "warnings": list(clean.warnings),
        "timings": {k: round(v, 4) for k, v in clock.timings.items()},
    }
    for message in clean.warnings:
        logger.warning(message)
    for plan in plans:
        if plan.skipped and not plan.builtin:
            logger.warning("segment rule %r skipped: the results have no column %s",
                           plan.rule.name, ", ".join(repr(c) for c in plan.missing))
    community_columns = list(COMMUNITY_COLUMNS) + [f"share_{name}" for name in segment_names]
    return Analysis(customers=customers_table, communities=profiles[community_columns],
                    manifest=manifest, graph=graph, segments=segments_table)


def _assemble(metrics: pd.DataFrame, order: np.ndarray,
              attributes: pd.DataFrame | None) -> pd.DataFrame:
    """Contract column order, sorted by influence rank, attributes joined last."""
    columns = [c for c in CUSTOMER_COLUMNS if c in metrics.columns]
    columns += [c for c in _EXTRA_COLUMNS if c in metrics.columns]
    table = metrics.iloc[order][columns].reset_index(drop=True)
    if attributes is not None and attributes.shape[1] > 1:
        attrs = attributes.set_index(CUSTOMER_ID)
        clash = [c for c in attrs.columns if c in table.columns]
        attrs = attrs.rename(columns={c: f"attribute_{c}" for c in clash})
        if clash:
            logger.warning("customer attributes %s renamed with prefix 'attribute_' "
                           "(they clash with output columns)", clash)
        joined = attrs.reindex(table[CUSTOMER_ID].to_numpy())
        for column in joined.columns:
            table[column] = joined[column].to_numpy()
    return table
