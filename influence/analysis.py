"""The one orchestrator: ``analyze()`` runs every stage; ``Analysis`` holds the result.

Stages, in order: read -> validate -> graph -> centrality -> activity ->
referrals -> reach -> communities -> segments -> propagators -> profiles. Each stage is a function over tables in
its own module; this module only wires them and assembles the outputs.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from . import folder as results_folder
from .communities import (community_confidence, community_profiles, community_roles,
                          detect_communities, modularity)
from .config import AnalysisConfig, as_config
from .errors import InputError
from .graph import InfluenceGraph, build_graph, encode_events
from .io import (read_customers, read_events, read_result_csv, restore_formulas,
                 write_table)
from .lifecycle import lifecycle_stages, rfm_tiers
from .metrics import events_by_type as sent_by_type
from .metrics import (activity_metrics, betweenness, coreness, hits, influence_score, pagerank,
                      strength)
from .parallel import Background, can_fork
from .progress import Reporter, StageClock
from .reach import (cascades_table, k_hop_reach, referral_forest, referral_metrics,
                    viral_coefficients)
from .reach.propagators import edge_probabilities, run_propagators
from .reach.spread import adjacency, simulate_spread
from .schema import (COMMUNITY_COLUMNS, CONVERTED, CUSTOMER_COLUMNS, CUSTOMER_ID,
                     SEGMENT_COLUMNS, TIMESTAMP, TYPE, VALUE)
from .segments import assign_segments, plan_rules, segment_profiles, suppress_segments
from .validation import add_customers, clean_events

__all__ = ["Analysis", "analyze", "OUTPUT_FORMATS"]

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("csv", "parquet")
_TIME_COLUMNS = ("first_active", "last_active")
_EXTRA_COLUMNS = SEGMENT_COLUMNS + (
    "community_confidence", "frequency", "rfm_recency", "rfm_frequency", "rfm_value",
    "rfm_code", "referral_value", "downstream_conversions", "downstream_value", "referred_by",
    "expected_spread_se")
_FLOAT_COLUMNS = frozenset({"influence_score", "pagerank", "in_strength", "out_strength",
                            "betweenness", "hub", "authority", "expected_spread",
                            "expected_spread_se", "internal_weight", "external_weight",
                            "density", "community_confidence", "frequency"})
_TABLES = ("segments", "cascades", "kfactor")
#: Computed per-customer columns beyond the contract and segmentation ones
#: (the per-type counts ``sent_<type>`` come on top).
COMPUTED_EXTRA_COLUMNS = tuple(c for c in _EXTRA_COLUMNS if c not in SEGMENT_COLUMNS)
#: Graphs with fewer edges run Leiden inline (forking costs more than it saves).
PARALLEL_MIN_EDGES = 100_000
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
    cascades : pandas.DataFrame or None
        One row per referral cascade (:func:`influence.reach.cascades_table`).
    kfactor : pandas.DataFrame or None
        Viral coefficients (:func:`influence.reach.viral_coefficients`).
    """

    customers: pd.DataFrame
    communities: pd.DataFrame
    manifest: dict[str, Any]
    graph: InfluenceGraph | None = field(default=None, repr=False)
    segments: pd.DataFrame | None = field(default=None, repr=False)
    snapshots: pd.DataFrame | None = field(default=None, repr=False)
    edges: pd.DataFrame | None = field(default=None, repr=False)
    cascades: pd.DataFrame | None = field(default=None, repr=False)
    kfactor: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.edges is None and self.graph is not None:
            self.edges = self.graph.edge_table()

    def save(self, out: str | Path, format: str = "csv", *, report: bool = False,
             graph_format: str | None = None) -> Path:
        """Write ``customers``, ``communities``, ``segments``, ``edges`` and ``manifest.json`` into ``out``.

        ``out`` is replaced as a whole: the files are written into a
        temporary folder beside it and swapped in at the end
        (:mod:`influence.folder`). Stopped at any moment (killed, interrupted,
        a full disk), ``out`` holds the complete earlier result or the complete
        new one, and nothing of an earlier result survives beside a new one.
        ``manifest.json`` is written last and lists every file with its size,
        sha256 and (tables) row count, which :meth:`load` checks.

        Parameters
        ----------
        out : path
            Folder, created if missing (and its parents). It must be empty,
            missing or a results folder: other files in it are not deleted,
            the save is refused.
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

        Raises
        ------
        InputError
            Another process is writing ``out`` (it holds the lock file
            ``.NAME.influence-lock`` beside it), or ``out`` is a file or holds
            files that ``influence`` did not write.
        OSError
            A file cannot be written (``out`` is left as it was).
        """
        if format not in OUTPUT_FORMATS:
            raise ValueError(f"format must be one of {OUTPUT_FORMATS}; got {format!r}")
        if graph_format is not None:
            from .export import GRAPH_FORMATS

            if graph_format not in GRAPH_FORMATS:
                raise ValueError(f"graph_format must be one of {GRAPH_FORMATS}; "
                                 f"got {graph_format!r}")
        out = Path(out)
        with results_folder.locked(out) as target:
            results_folder.prepare(target)
            with results_folder.staged(target) as staging:
                self._write(staging, format, report=report, graph_format=graph_format)
        return out

    def _write(self, staging: Path, format: str, *, report: bool,
               graph_format: str | None) -> None:
        """Every file into the (empty) staging folder, the manifest last."""
        customers = self.customers
        if format == "csv":
            customers = customers.assign(**{column: _iso(customers[column])
                                             for column in _TIME_COLUMNS if column in customers})
        tables = [("customers", customers), ("communities", self.communities)]
        tables += [(name, getattr(self, name)) for name in _TABLES]
        tables += [("snapshots", self.snapshots), ("edges", self.edges)]
        rows = {}
        for name, table in tables:
            if table is None:
                continue
            file = f"{name}.{format}"
            write_table(table, staging / file, format)
            rows[file] = len(table)
            results_folder.checkpoint(file)
        manifest = {key: value for key, value in self.manifest.items() if key != "outputs"}
        files = list(rows)
        if graph_format is not None or report:
            # render from what was written: a later re-render gives the same bytes
            results_folder.write_manifest(staging, manifest, format=format, files=files,
                                          rows=rows)
            saved = Analysis.load(staging)
            if graph_format is not None:
                from .export import write_graph

                write_graph(saved, staging / f"graph.{graph_format}", graph_format)
                files.append(f"graph.{graph_format}")
                results_folder.checkpoint(files[-1])
            if report:
                from .report import write_report

                write_report(saved, staging / "report.html", folder=staging)
                files.append("report.html")
                results_folder.checkpoint(files[-1])
        results_folder.write_manifest(staging, manifest, format=format, files=files, rows=rows)

    @classmethod
    def load(cls, folder: str | Path) -> "Analysis":
        """Read a results folder written by :meth:`save` (no recomputation).

        Every file the manifest lists must be there with its recorded size,
        and every table read must have its recorded sha256 and row count: a
        folder that does not match its manifest (a copy cut short, a file
        edited or damaged) is refused. A folder left missing by a save killed
        between its two renames is put back first (:func:`influence.folder.recover`).
        When another process replaces the folder while it is read, it is read
        again (up to three times).

        ``segments`` is ``None`` when the folder has no segments table (older
        results). Folders written before the manifest held file checks are
        read unchecked, with a warning.

        Raises
        ------
        InputError
            If the folder has no ``manifest.json`` or customers table, does not
            match its manifest, or a table cannot be parsed.
        """
        folder = Path(folder)
        for _ in range(3):
            results_folder.recover(folder)
            stamp = _stamp(folder)
            try:
                return cls._read(folder)
            except (InputError, OSError):
                if stamp is not None and _stamp(folder) != stamp:
                    continue  # replaced under our feet: read the new one
                raise
        raise InputError(f"results folder {str(folder)!r} was replaced by another process "
                         "each time it was read; try again when that process has finished")

    @classmethod
    def _read(cls, folder: Path) -> "Analysis":
        manifest_path = folder / results_folder.MANIFEST
        if not manifest_path.is_file():
            raise InputError(f"{str(folder)!r} is not a results folder: no manifest.json "
                             "(run 'influence analyze' to make one)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:  # JSON or UTF-8
            raise InputError(f"the manifest.json of results folder {str(folder)!r} is "
                             f"damaged ({_first_line(exc)}); run 'influence analyze' "
                             "again") from None
        if not isinstance(manifest, dict):
            raise InputError(f"the manifest.json of results folder {str(folder)!r} is not "
                             "a JSON object; run 'influence analyze' again")
        outputs = manifest.get("outputs") or {}
        fmt = outputs.get("format", "csv")
        # folders written before the escape was reversible say nothing about it
        legacy = "csv_escape" not in outputs
        names = [f"{name}.{fmt}" for name in
                 ("customers", "communities", *_TABLES, "snapshots", "edges")]
        checks = results_folder.verify_files(folder, manifest, hashed=names)
        if checks is None:
            logger.warning("results folder %s was written before manifests recorded file "
                           "checks: its files are read unchecked (run 'influence analyze' "
                           "again to add them)", folder)

        def present(name: str) -> bool:
            if checks is not None:
                return name in checks
            return (folder / name).is_file()

        def read(name: str, reader) -> pd.DataFrame:
            path = folder / name
            try:
                table = reader(path)
            except (ValueError, OSError, pa.ArrowException) as exc:
                raise InputError(f"cannot read {name} of results folder {str(folder)!r} "
                                 f"({_first_line(exc)}); the folder is damaged: run "
                                 "'influence analyze' again") from None
            expected = (checks or {}).get(name, {}).get("rows")
            if expected is not None and len(table) != expected:
                raise results_folder.mismatch(folder, f"{name} has {len(table):,} rows, the "
                                                      f"manifest says {expected:,}")
            return table

        tables = {}
        for name in ("customers", "communities", *_TABLES):
            file = f"{name}.{fmt}"
            if not present(file):
                if name in _TABLES:
                    tables[name] = None
                    continue
                raise InputError(f"results folder {str(folder)!r} has no {file}")
            if fmt == "csv":
                table = read(file, lambda path: pd.read_csv(
                    path, dtype={CUSTOMER_ID: "str", "leader": "str", "top_members": "str",
                                 "segment": "str", "dominant_type": "str",
                                 "community_role": "str", "segment_reason": "str",
                                 "root": "str", "referred_by": "str", "key": "str"},
                    keep_default_na=False, na_values=[""]))
                for column in table.columns:
                    if pd.api.types.is_string_dtype(table[column].dtype):
                        table[column] = restore_formulas(table[column], legacy=legacy)
            else:
                table = read(file, pd.read_parquet)
            for column in _FLOAT_COLUMNS.intersection(table.columns):
                # CSV writes 2.0 as "2": read float columns back as floats
                table[column] = table[column].astype(np.float64)
            tables[name] = table
        if checks is None and isinstance(manifest.get("customers"), int) and \
                len(tables["customers"]) != manifest["customers"]:
            raise results_folder.mismatch(folder, f"customers.{fmt} has "
                                                  f"{len(tables['customers']):,} rows, the "
                                                  f"manifest counts {manifest['customers']:,} "
                                                  "customers")
        snapshots = None
        file = f"snapshots.{fmt}"
        if file in outputs.get("files", []) and present(file):
            snapshots = read(file, (lambda path: pd.read_csv(path, dtype={"segment": "str"}))
                             if fmt == "csv" else pd.read_parquet)
        edges = None
        file = f"edges.{fmt}"
        if present(file):
            if fmt == "csv":
                edges = read(file, lambda path: read_result_csv(
                    path, text_columns=("source", "target")))
                for column in ("source", "target"):
                    edges[column] = restore_formulas(edges[column], legacy=legacy)
            else:
                edges = read(file, pd.read_parquet)
            edges["weight"] = edges["weight"].astype(np.float64)
        return cls(customers=tables["customers"], communities=tables["communities"],
                   manifest=manifest, segments=tables["segments"],
                   snapshots=snapshots, edges=edges, cascades=tables["cascades"],
                   kfactor=tables["kfactor"])

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


def _stamp(folder: Path) -> tuple | None:
    """Identity of a results folder and its manifest (changes when a save swaps it)."""
    try:
        where = os.stat(folder)
        manifest = os.stat(folder / results_folder.MANIFEST)
    except OSError:
        return None
    return where.st_ino, manifest.st_ino, manifest.st_mtime_ns, manifest.st_size


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _iso(column: pd.Series) -> pd.Series:
    """Datetimes as text ``2026-01-31T09:30:00Z`` (wall time, to the second); NaT stays missing.

    The same text as ``column.dt.strftime("%Y-%m-%dT%H:%M:%SZ")``, about 10x faster.
    """
    wall = column.dt.tz_localize(None) if column.dt.tz is not None else column
    seconds = pa.array(wall.to_numpy(dtype="datetime64[ns]").astype("datetime64[s]"))  # floors
    text = pc.replace_substring(seconds.cast(pa.string()), " ", "T")  # 2026-01-31T09:30:00
    text = pc.binary_join_element_wise(text, "Z", "")
    return text.to_pandas().astype("str").set_axis(column.index).rename(column.name)


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
            config: AnalysisConfig | str | Path | Mapping[str, Any] | None = None,
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
    config : AnalysisConfig, path or dict, optional
        An :class:`AnalysisConfig`, the path of a TOML config file (``str`` or
        ``pathlib.Path``, read as ``--config`` reads it) or a dict of the same
        structure (:func:`influence.config.as_config`). Defaults to
        :class:`AnalysisConfig()`; the keyword arguments below override it.
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
    config = as_config(config)
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
        del raw
        ids = add_customers(clean.ids, table)
    with clock.stage("graph"):
        codes = encode_events(clean.events, ids)
        graph = build_graph(clean.events, ids, config, codes)
        graph.undirected()  # built once here (cached): coreness, Leiden and roles use it
    cc = config.communities
    # Leiden (and, when forked, the IMM seed set) in a second process while
    # centrality ... reach run here: the same results, in less wall time
    fork = cc.parallel and graph.n_edges >= PARALLEL_MIN_EDGES and can_fork()
    propagate = config.propagators.k > 0 and graph.n_edges > 0
    imm_job = None
    if propagate and fork:
        with clock.stage("propagators"):
            prob, prob_info = edge_probabilities(graph, config, clean.events, codes)
            imm_job = (prob, prob_info, adjacency(graph, prob))
    with clock.stage("communities"):  # inline, Leiden runs here and now
        leiden = Background(_background, (graph, cc, config.propagators, imm_job), fork=fork,
                            name="Leiden worker")
    waited = 0.0
    try:
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
        n = len(ids)
        has_time = clean.has_timestamps
        with clock.stage("activity"):
            activity = activity_metrics(clean.events, n, codes, clean.end)
            by_type = sent_by_type(clean.events, n, codes[0], sorted(config.types))
            if has_time:
                activity["lifecycle_stage"] = pd.array(
                    lifecycle_stages(clean.events, codes[0], activity, clean.end,
                                     config.lifecycle).astype(str), dtype="str")
        with clock.stage("referrals"):
            forest = referral_forest(clean.events, codes, n)
            referrals = referral_metrics(clean.events, codes, forest, ids)
            has_converted = CONVERTED in clean.events.columns
            has_value = VALUE in clean.events.columns
            cascades = cascades_table(forest, ids, has_converted, has_value)
        with clock.stage("reach"):
            reach_1, reach_2 = k_hop_reach(graph, config.reach.max_edges_exact)
        with clock.stage("communities"):
            began = time.perf_counter()
            membership, confidence, imm_result, job_seconds = leiden.result()
            waited = time.perf_counter() - began
    finally:
        leiden.cancel()
    # Leiden's own seconds, and how long the main process spent on it (all of it
    # inline; only the wait for the worker when forked): both inside "communities"
    clock.timings["leiden"] = job_seconds["leiden"]
    clock.timings["leiden_wait"] = waited if leiden.forked else leiden.seconds
    if "imm" in job_seconds:
        clock.timings["imm_in_worker"] = job_seconds["imm"]
    with clock.stage("communities"):
        q = modularity(graph, membership, cc.resolution)
        rc = config.roles
        roles = community_roles(graph, membership, hub_z=rc.hub_z,
                                hub_participation=rc.hub_participation,
                                connector_participation=rc.connector_participation,
                                peripheral_z=rc.peripheral_z)
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
            "reach_1": reach_1,
            "reach_2": reach_2 if reach_2 is not None else np.full(n, np.nan),
        })
        if confidence is not None:
            metrics["community_confidence"] = confidence
        metrics = pd.concat([metrics, activity, referrals, by_type], axis=1)
        # ties by customer id: vertices are in id order, so a stable sort keeps it
        order = np.argsort(-score, kind="stable")
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(1, len(ids) + 1)
        metrics["influence_rank"] = rank
    propagator_info = None
    if propagate:
        with clock.stage("propagators"):
            # before the segments: the key-propagator rule reads propagator_rank
            if imm_job is not None:
                imm_job = (*imm_job, imm_result)
            metrics, propagator_info = _propagators(metrics, graph, config, clean.events, codes,
                                                    rank, imm_job)
    with clock.stage("segments"):
        metrics = pd.concat([metrics, assign_segments(metrics, config.segments,
                                                      clean.has_timestamps, end=clean.end)],
                            axis=1)
        plans = plan_rules(config.segments, metrics.columns)
        metrics = pd.concat([metrics, rfm_tiers(metrics, config.segments, has_time,
                                                _rfm_value_basis(referrals))], axis=1)
        groups = {"community": membership, "segment": metrics["segment"].to_numpy(object)}
        if has_time:
            groups["cohort_month"] = _first_seen_month(clean.events, codes, n)
        kfactor = viral_coefficients(clean.events, codes, forest, groups)
    with clock.stage("profiles"):
        segment_order = [p.rule.segment for p in plans] + [config.segments.default]
        segment_names = list(dict.fromkeys(segment_order))
        profiles = community_profiles(graph, membership, rank,
                                      segment=metrics["segment"].to_numpy(dtype=object),
                                      segment_names=segment_names)
        customers_table = _assemble(metrics, order, table, list(by_type.columns))
        segments_table = segment_profiles(
            customers_table, min_segment_size=config.privacy.min_segment_size,
            order=segment_order)
        kfactor, profiles = suppress_segments(segments_table, kfactor=kfactor,
                                              communities=profiles)

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
                        "process": "forked worker" if leiden.forked else "main",
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
        # the customers-table columns carried through (everything not computed here)
        "attribute_columns": [c for c in customers_table.columns if c not in metrics.columns],
        "pagerank": {"graph": "reversed influence flow", "damping": config.centrality.damping,
                     "solver": "igraph prpack, 1 thread"},
        "referrals": {
            "events": forest.referral_events, "referred": forest.referred,
            "referred_more_than_once": forest.double_referred,
            "referrer_rule": "earliest referral in time, ties by smallest referrer id",
            "cycles_broken": forest.cycles_broken,
            "cascades": int(len(cascades)),
            "largest_cascade": int(cascades["size"].max()) if len(cascades) else 0,
            "deepest_cascade": int(cascades["depth"].max()) if len(cascades) else 0,
            "has_converted": has_converted, "has_value": has_value,
        },
        "kfactor": {k: _plain(v) for k, v in kfactor.iloc[0].items()
                    if k not in ("group", "key")},
        "reach": {"reach_2": "exact" if reach_2 is not None else
                  f"skipped: {graph.n_edges} edges > reach.max_edges_exact "
                  f"({config.reach.max_edges_exact})"},
        "lifecycle": ("rules relative to the end date, see docs/reach.md" if has_time else
                      "absent: no timestamps"),
        "propagators": propagator_info,
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
                    manifest=manifest, graph=graph, segments=segments_table,
                    cascades=cascades, kfactor=kfactor)


def _background(graph: InfluenceGraph, cc, pc, imm_job) -> tuple:
    """What runs beside centrality: Leiden membership and, with stability runs,
    confidence; with ``imm_job`` = (prob, info, forward adjacency) also the IMM
    seed set. Returns them with the seconds of each part."""
    began = time.perf_counter()
    membership = detect_communities(graph, resolution=cc.resolution, seed=cc.seed,
                                    iterations=cc.iterations, backend=cc.backend)
    confidence = None
    if cc.stability_runs:
        confidence = community_confidence(graph, membership, runs=cc.stability_runs,
                                          resolution=cc.resolution, seed=cc.seed,
                                          iterations=cc.iterations, backend=cc.backend)
    seconds = {"leiden": time.perf_counter() - began}
    result = None
    if imm_job is not None:
        began = time.perf_counter()
        prob, _, forward = imm_job
        result = run_propagators(graph, prob, pc, pc.k, forward=forward)
        seconds["imm"] = time.perf_counter() - began
    return membership, confidence, result, seconds


def _plain(value: Any) -> Any:
    """JSON-ready scalar (NaN -> None, numpy -> Python, floats rounded)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 10)
    return value


def _rfm_value_basis(referrals: pd.DataFrame) -> np.ndarray:
    """Money from referrals if known, else converted referrals, else referrals sent."""
    for column in ("referral_value", "referrals_converted", "referrals_sent"):
        values = referrals[column].to_numpy(dtype=float)
        if not np.isnan(values).all():
            return values
    return np.zeros(len(referrals))


def _first_seen_month(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                      n: int) -> np.ndarray:
    """``YYYY-MM`` of each customer's first event in either role (None if none)."""
    source, target = codes
    nanos = events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, source, nanos)
    ok = target >= 0
    np.minimum.at(first, target[ok], nanos[ok])
    seen = first < np.iinfo(np.int64).max
    months = np.full(n, None, dtype=object)
    stamps = first[seen].view("datetime64[ns]").astype("datetime64[M]").astype(str)
    months[seen] = stamps
    return months


def _propagators(metrics: pd.DataFrame, graph: InfluenceGraph, config: AnalysisConfig,
                 events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                 rank: np.ndarray, done: tuple | None = None
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """IMM seed set (``propagator_rank``) and simulated ``expected_spread`` of the
    top ``candidates`` by influence rank plus the seeds (NaN for the others).

    ``done`` = (prob, prob_info, forward adjacency, IMM result) when the worker
    process computed them already."""
    pc = config.propagators
    if done is None:
        prob, prob_info = edge_probabilities(graph, config, events, codes)
        forward = adjacency(graph, prob)
        result = run_propagators(graph, prob, pc, pc.k, forward=forward)
    else:
        prob, prob_info, forward, result = done
    seeds = result.info.pop("vertex")
    n = graph.n_customers
    propagator_rank = np.full(n, np.nan)
    propagator_rank[seeds] = np.arange(1, len(seeds) + 1)
    candidates = np.union1d(np.flatnonzero(rank <= pc.candidates), seeds).astype(np.int64)
    mean, se = simulate_spread(forward, [np.array([v]) for v in candidates],
                               pc.simulations, seed=pc.seed)
    spread = np.full(n, np.nan)
    spread_se = np.full(n, np.nan)
    spread[candidates] = mean
    spread_se[candidates] = se
    metrics = metrics.copy()
    metrics["expected_spread"] = spread
    metrics["expected_spread_se"] = spread_se
    metrics["propagator_rank"] = pd.array(propagator_rank, dtype="Int64")
    imm_row = result.comparison.iloc[0]
    info = {
        "k": pc.k, "epsilon": pc.epsilon, "seed": pc.seed, "probabilities": prob_info,
        "theta": result.info["theta"], "rr_sets": result.info["rr_sets"],
        "seed_set_spread": round(float(imm_row["spread"]), 6),
        "seed_set_spread_se": round(float(imm_row["spread_se"]), 6),
        "seed_set_spread_rr_estimate": round(float(result.seeds["cumulative_spread"].iloc[-1]),
                                             6) if len(result.seeds) else 0.0,
        "expected_spread_for": f"top {pc.candidates} by influence_rank and the seed set "
                               f"({len(candidates)} customers); NaN elsewhere",
        "simulations": pc.simulations,
    }
    return metrics, info


def _assemble(metrics: pd.DataFrame, order: np.ndarray,
              attributes: pd.DataFrame | None, by_type: list[str] = ()) -> pd.DataFrame:
    """Contract column order, sorted by influence rank, attributes joined last."""
    columns = [c for c in CUSTOMER_COLUMNS if c in metrics.columns]
    columns += [c for c in SEGMENT_COLUMNS if c in metrics.columns]
    columns += list(by_type)
    columns += [c for c in _EXTRA_COLUMNS if c not in SEGMENT_COLUMNS and c in metrics.columns]
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
