"""``analyze_spark()``: the analysis of :func:`influence.analyze`, with the
event-scale stages as Spark DataFrame jobs.

Stages, in order (the manifest's ``engine.stages`` says where each ran):
read -> validate -> graph -> centrality -> activity -> referrals -> reach ->
communities -> segments -> propagators -> profiles. Events never come to the
driver; per-customer results (one row per customer) and, below
``[spark] driver_edges_max``, the aggregated edge list do, through Arrow.
"""

from __future__ import annotations

import logging
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..config import AnalysisConfig, as_config
from ..errors import ConfigError
from ..progress import Reporter, StageClock
from ..schema import CUSTOMER_ID

__all__ = ["analyze_spark", "ENGINE_NAME"]

logger = logging.getLogger(__name__)

ENGINE_NAME = "spark"


def analyze_spark(events: Any, *, spark: Any = None,
                  customers: str | Path | pd.DataFrame | Any | None = None,
                  config: AnalysisConfig | str | Path | None = None,
                  columns: Mapping[str, str] | None = None,
                  input_format: str | None = None,
                  since: str | None = None, until: str | None = None,
                  seed: int | None = None, resolution: float | None = None,
                  reporter: Reporter | None = None):
    """Run the whole analysis on Spark: events in, the local engine's tables out.

    Parameters
    ----------
    events : pyspark.sql.DataFrame, str or path
        A Spark DataFrame, or a file or folder of CSV, TSV, Parquet or JSON
        Lines on any file system Spark reads (local paths, ``hdfs://``,
        ``s3a://``, ``abfss://``, ``dbfs:/``, ...), with the columns of
        :func:`influence.analyze` (after ``columns`` mapping).
    spark : pyspark.sql.SparkSession, optional
        The session to run on. Default: the active session, else a new one
        from ``config.spark`` (``master``, ``driver_memory``), stopped at the end.
    customers : path, pandas.DataFrame or pyspark.sql.DataFrame, optional
        ``customer_id`` plus attributes (read on the driver: the per-customer
        table is assembled there).
    config : AnalysisConfig, path or dict, optional
        As for :func:`influence.analyze`; ``config.spark`` tunes this engine.
    columns, input_format, since, until, seed, resolution, reporter
        As for :func:`influence.analyze`.

    Returns
    -------
    Analysis
        The same tables, columns and manifest keys as :func:`influence.analyze`,
        plus ``manifest["engine"]``: which stages ran on the executors and which
        on the driver, and the methods used. ``reach_2`` is a HyperLogLog
        estimate (``manifest["reach"]``); PageRank is iterated to
        ``[spark] pagerank_tolerance``. Above ``[spark] driver_edges_max``
        edges, communities come from label propagation and ``coreness``,
        ``betweenness``, ``hub``, ``authority``, ``expected_spread`` and
        ``propagator_rank`` are empty (the manifest says so).

    Raises
    ------
    InputError
        Unusable input: the local engine's messages.
    ConfigError
        pyspark or Java missing, Spark failed to start, invalid overrides.

    Notes
    -----
    Byte-identical outputs for the same input, config and seed: every sum
    that feeds an output is taken in a fixed order or exactly, and results
    are sorted before they are collected. See ``docs/scale-out.md``.

    Examples
    --------
    >>> from influence.spark import analyze_spark          # doctest: +SKIP
    >>> result = analyze_spark("s3a://bucket/events/")      # doctest: +SKIP
    >>> result.save("influence-out")                        # doctest: +SKIP
    """
    from .session import require_pyspark, run_settings, spark_session

    require_pyspark()
    config = as_config(config)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    config = config.replace(window__since=since, window__until=until,
                            communities__seed=seed, communities__resolution=resolution)
    if config.propagators.k > 0 and config.propagators.probabilities == "learned":
        raise ConfigError("propagators.probabilities = 'learned' is not available with "
                          "--engine spark yet; use probabilities = 'weight' or the local "
                          "engine")
    sc = config.spark
    with warnings.catch_warnings():
        # pyspark 4 warns that pandas 3 is not fully supported; no pyspark pandas
        # conversion runs here (Arrow only)
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        return _session_run(events, spark, customers, config, input_format, reporter)


def _session_run(events, spark, customers, config, input_format, reporter):
    from .session import check_executors, run_settings, shuffle_partitions, spark_session

    sc = config.spark
    created = False
    if spark is None:
        spark, created = spark_session(sc.master, driver_memory=sc.driver_memory)
    try:
        settings = {"spark.sql.session.timeZone": "UTC",
                    "spark.sql.shuffle.partitions": shuffle_partitions(
                        spark, sc.shuffle_partitions),
                    "spark.sql.execution.arrow.maxRecordsPerBatch": "65536"}
        with run_settings(spark, settings):
            if sc.checkpoint_dir:
                spark.sparkContext.setCheckpointDir(sc.checkpoint_dir)
            check_executors(spark)
            return _run(spark, events, customers, config, input_format, reporter)
    finally:
        if created:
            spark.stop()


def _versions(spark) -> dict[str, str]:
    from .. import analysis as local

    versions = local._versions()
    try:
        versions["pyspark"] = metadata.version("pyspark")
    except metadata.PackageNotFoundError:  # pragma: no cover - a pyspark without metadata
        import pyspark

        versions["pyspark"] = pyspark.__version__
    versions["spark"] = spark.version
    return versions


def _read_customers(spark, customers):
    from pyspark.sql import DataFrame

    from ..io import read_customers

    if customers is None:
        return None
    if isinstance(customers, DataFrame):
        customers = customers.toArrow().to_pandas()
    return read_customers(customers)


def _run(spark, events, customers, config: AnalysisConfig, input_format, reporter):
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from .. import analysis as local
    from ..communities import (community_confidence, community_profiles, community_roles,
                               detect_communities, modularity)
    from ..lifecycle import rfm_tiers
    from ..metrics import betweenness, coreness, hits, influence_score
    from ..metrics import pagerank as local_pagerank
    from ..reach import cascades_table
    from ..reach.cascades import kfactor_table
    from ..schema import COMMUNITY_COLUMNS
    from ..segments import assign_segments, plan_rules, segment_profiles, suppress_segments
    from . import activity as act
    from .communities import community_parts, handoff_graph, label_propagation
    from .customers import activity_columns, cohort_months, lifecycle
    from .frames import collect_arrow, scatter
    from .graph import build_edges, code_events, pagerank, reach, strengths
    from .referrals import referral_forest
    from .validate import clean_events, customer_ids, read_events

    sc = config.spark
    storage = StorageLevel.MEMORY_AND_DISK
    directory = sc.checkpoint_dir
    clock = StageClock(reporter)
    placement: dict[str, str] = {}

    with clock.stage("read"):
        raw, info = read_events(spark, events, columns=config.columns,
                                input_format=input_format)
        table = _read_customers(spark, customers)
    placement["read"] = "executors"
    with clock.stage("validate"):
        clean = clean_events(spark, raw, config, info, storage=storage)
        ids_frame, n = customer_ids(spark, clean.universe, table, storage=storage)
        got = collect_arrow(ids_frame)
        names = np.empty(n, dtype=object)
        names[got.column("vid").to_numpy().astype(np.int64)] = \
            got.column(CUSTOMER_ID).to_numpy(zero_copy_only=False)
        ids = pd.Index(names.astype(str), dtype="str", name=CUSTOMER_ID)
    placement["validate"] = "executors (row parsing in Python workers, accounting as DataFrame jobs)"
    has_time = clean.has_timestamps
    end_ns = clean.end_ns
    with clock.stage("graph"):
        coded = code_events(clean.events, ids_frame).persist(storage)
        edges, edge_types = build_edges(coded, config)
        edges = edges.persist(storage)
        n_edges = edges.count()  # computes and caches `coded` on the way
        clean.release()
        edge_types = edge_types.persist(storage)
        handoff = n_edges <= sc.driver_edges_max
        graph = None
        if handoff:
            vid = "int" if n < 2**31 else "long"  # 4-byte vertices halve the transfer
            graph = handoff_graph(
                collect_arrow(edges.select(F.col("a").cast(vid), F.col("b").cast(vid),
                                           "weight", "n_events")),
                collect_arrow(edge_types.select(F.col("a").cast(vid), F.col("b").cast(vid),
                                                "kind", "weight")), ids)
            graph.undirected()
    placement["graph"] = ("executors (aggregation); edge list handed to the driver through "
                          "Arrow" if handoff else "executors")
    with clock.stage("centrality"):
        degree = strengths(edges).persist(storage)
        got = collect_arrow(degree)
        out_strength = scatter(got, "out_strength", n, fill=0.0)
        in_strength = scatter(got, "in_strength", n, fill=0.0)
        reach_1 = scatter(got, "reach_1", n, fill=0)
        cen = config.centrality
        if handoff and sc.pagerank_on_driver:
            pr = local_pagerank(graph, cen.damping)
            pr_info = None
        else:
            ranks, pr_info = pagerank(
                spark, edges, degree.filter(F.col("in_strength").isNotNull())
                .select("vid", "in_strength"), n, damping=cen.damping,
                max_iter=sc.pagerank_iterations, tol=sc.pagerank_tolerance,
                every=sc.checkpoint_every, checkpoint_dir=directory, storage=storage)
            pr = scatter(collect_arrow(ranks), "pagerank", n, fill=0.0)
        degree.unpersist()
        if handoff:
            core = coreness(graph)
            hub, authority = hits(graph)
            between = betweenness(graph, budget=cen.betweenness_budget,
                                  min_pivots=cen.betweenness_min_pivots,
                                  seed=config.communities.seed, enabled=cen.betweenness)
            between_scores, between_info = between.scores, between.describe(n)
            hits_info = {"graph": "influence flow, weighted", "normalised": "each sums to 1",
                         "solver": "scipy power iteration from the uniform vector, tol 1e-10"}
        else:
            why = (f"skipped: {n_edges} edges > [spark] driver_edges_max "
                   f"({sc.driver_edges_max}); needs the whole graph on one machine")
            core = pd.array(np.full(n, pd.NA), dtype="Int64")
            hub = authority = between_scores = np.full(n, np.nan)
            between_info = {"method": "skipped", "pivots": 0, "reason": why}
            hits_info = {"skipped": why}
    where_pr = "the driver (local engine)" if pr_info is None else "the executors"
    placement["centrality"] = (f"strength on the executors, PageRank on {where_pr}; "
                               + ("coreness, HITS and betweenness on the driver (local "
                                  "engine)" if handoff else
                                  "coreness, HITS and betweenness skipped"))
    with clock.stage("activity"):
        types = sorted(config.types)
        source = collect_arrow(act.by_source(coded, types, end_ns, config.lifecycle,
                                             clean.has_value, clean.has_converted))
        target = collect_arrow(act.by_target(coded))
        contact = collect_arrow(act.contacts(coded))
        sent = scatter(source, "events_sent", n, fill=0)
        days = first_ns = last_ns = None
        if has_time:
            days = scatter(collect_arrow(act.active_days(coded)), "active_days", n, fill=0)
            nat = np.iinfo(np.int64).min
            first_ns = scatter(source, "first_ns", n, fill=nat, dtype=np.int64)
            last_ns = scatter(source, "last_ns", n, fill=nat, dtype=np.int64)
        activity = activity_columns(sent, scatter(target, "events_received", n, fill=0),
                                    scatter(contact, "distinct_contacts", n, fill=0),
                                    days, first_ns, last_ns, end_ns)
        by_type = pd.DataFrame({f"sent_{t}": scatter(source, f"sent_{t}", n, fill=0)
                                for t in types})
        if has_time:
            activity["lifecycle_stage"] = pd.array(
                lifecycle(activity, scatter(source, "n_recent", n, fill=0),
                          scatter(source, "n_before", n, fill=0), end_ns,
                          config.lifecycle).astype(str), dtype="str")
    placement["activity"] = ("executors (per-customer aggregates); recency, frequency and "
                             "lifecycle rules on the driver")
    with clock.stage("referrals"):
        forest = referral_forest(spark, coded, n, has_time=has_time, on_driver=handoff,
                                 every=sc.checkpoint_every, checkpoint_dir=directory,
                                 storage=storage)
        referrals = _referral_columns(source, forest, ids, n, clean.has_converted,
                                      clean.has_value)
        cascades = cascades_table(forest, ids, clean.has_converted, clean.has_value)
    placement["referrals"] = ("executors (kept referrer); roots, generations and subtree "
                              "totals on the driver (local engine), as the cascades table"
                              if handoff else
                              "executors (kept referrer, pointer doubling, one job per "
                              "generation for subtree totals); cascades table on the driver")
    with clock.stage("reach"):
        reach_2 = scatter(collect_arrow(reach(edges, sc.reach_rsd)), "reach_2", n, fill=0)
    placement["reach"] = "executors (reach_1 exact, reach_2 HyperLogLog++)"
    with clock.stage("communities"):
        cc = config.communities
        rc = config.roles
        confidence = None
        if handoff:
            membership = detect_communities(graph, resolution=cc.resolution, seed=cc.seed,
                                            iterations=cc.iterations, backend=cc.backend)
            q = modularity(graph, membership, cc.resolution)
            roles = community_roles(graph, membership, hub_z=rc.hub_z,
                                    hub_participation=rc.hub_participation,
                                    connector_participation=rc.connector_participation,
                                    peripheral_z=rc.peripheral_z)
            if cc.stability_runs:
                confidence = community_confidence(graph, membership, runs=cc.stability_runs,
                                                  resolution=cc.resolution, seed=cc.seed,
                                                  iterations=cc.iterations, backend=cc.backend)
            community_method = {"method": f"driver hand-off ({cc.backend} Leiden)"}
            edge_sums = None
        else:
            membership, community_method = label_propagation(
                spark, edges, n, max_iter=sc.label_propagation_iterations,
                every=sc.checkpoint_every, checkpoint_dir=directory, storage=storage)
            q, roles, edge_sums = community_parts(spark, edges, edge_types, membership,
                                                  resolution=cc.resolution, roles_config=rc)
    placement["communities"] = (community_method["method"] if handoff else
                                "executors: " + community_method["method"]
                                + "; modularity, roles and profile sums on the executors")
    with clock.stage("segments"):
        score = influence_score(pr, out_strength)
        metrics = pd.DataFrame({
            CUSTOMER_ID: pd.array(ids.to_numpy(), dtype="str"),
            "influence_score": score,
            "pagerank": pr,
            "in_strength": in_strength,
            "out_strength": out_strength,
            "coreness": core,
            "betweenness": between_scores,
            "hub": np.round(hub, 15),
            "authority": np.round(authority, 15),
            "community": membership,
            "community_role": roles["community_role"].to_numpy(),
            "reach_1": reach_1,
            "reach_2": reach_2,
        })
        if confidence is not None:
            metrics["community_confidence"] = confidence
        metrics = pd.concat([metrics, activity, referrals, by_type], axis=1)
        order = np.lexsort((ids.to_numpy(), -score))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(1, n + 1)
        metrics["influence_rank"] = rank
    propagator_info = None
    if config.propagators.k > 0 and n_edges > 0:
        with clock.stage("propagators"):
            if handoff:
                metrics, propagator_info = local._propagators(metrics, graph, config, None,
                                                              None, rank)
            else:
                metrics = metrics.copy()
                metrics["expected_spread"] = np.nan
                metrics["expected_spread_se"] = np.nan
                metrics["propagator_rank"] = pd.array(np.full(n, pd.NA), dtype="Int64")
                propagator_info = {"skipped": f"{n_edges} edges > [spark] driver_edges_max "
                                              f"({sc.driver_edges_max}); IMM and the Monte "
                                              "Carlo spread need the whole graph on one "
                                              "machine"}
        placement["propagators"] = "driver (local engine)" if handoff else "skipped"
    with clock.stage("segments"):
        metrics = pd.concat([metrics, assign_segments(metrics, config.segments, has_time,
                                                      end=_stamp(end_ns))], axis=1)
        plans = plan_rules(config.segments, metrics.columns)
        metrics = pd.concat([metrics, rfm_tiers(metrics, config.segments, has_time,
                                                local._rfm_value_basis(referrals))], axis=1)
        groups = {"community": membership, "segment": metrics["segment"].to_numpy(object)}
        if has_time:
            first_seen = scatter(collect_arrow(act.first_seen(coded)), "first_seen_ns", n,
                                 fill=np.iinfo(np.int64).min, dtype=np.int64)
            groups["cohort_month"] = cohort_months(first_seen)
        kfactor = kfactor_table(referrals["referrals_sent"].to_numpy(),
                                scatter(source, "referrals_converted", n, fill=0)
                                if clean.has_converted else None,
                                _cycle_days(source, forest, n, has_time), groups)
    placement["segments"] = ("driver: tiers, rules and reasons by the local engine on the "
                             "collected per-customer table; K-factor inputs from the executors")
    with clock.stage("profiles"):
        segment_order = [p.rule.segment for p in plans] + [config.segments.default]
        segment_names = list(dict.fromkeys(segment_order))
        segment = metrics["segment"].to_numpy(dtype=object)
        if handoff:
            profiles = community_profiles(graph, membership, rank, segment=segment,
                                          segment_names=segment_names)
        else:
            profiles = _profiles(membership, rank, ids, edge_sums, segment, segment_names)
        customers_table = local._assemble(metrics, order, table, list(by_type.columns))
        segments_table = segment_profiles(
            customers_table, min_segment_size=config.privacy.min_segment_size,
            order=segment_order)
        kfactor, profiles = suppress_segments(segments_table, kfactor=kfactor,
                                              communities=profiles)
    placement["profiles"] = "driver"
    for frame in (coded, edges, edge_types, ids_frame):
        frame.unpersist()

    manifest = _manifest(locals_=dict(
        info=info, customers=customers, table=table, clean=clean, n=n, n_edges=n_edges,
        graph=graph, edges=edges, config=config, profiles=profiles, q=q, roles=roles,
        between_info=between_info, hits_info=hits_info, segments_table=segments_table,
        customers_table=customers_table, metrics=metrics, plans=plans, pr_info=pr_info,
        forest=forest, cascades=cascades, kfactor=kfactor, propagator_info=propagator_info,
        clock=clock, handoff=handoff, placement=placement, community_method=community_method,
        spark=spark, out_strength=out_strength, in_strength=in_strength))
    for message in clean.warnings:
        logger.warning(message)
    for plan in plans:
        if plan.skipped and not plan.builtin:
            logger.warning("segment rule %r skipped: the results have no column %s",
                           plan.rule.name, ", ".join(repr(c) for c in plan.missing))
    community_columns = list(COMMUNITY_COLUMNS) + [f"share_{name}" for name in segment_names]
    return local.Analysis(customers=customers_table, communities=profiles[community_columns],
                          manifest=manifest, graph=graph, segments=segments_table,
                          cascades=cascades, kfactor=kfactor)


def _stamp(nanos: int | None) -> pd.Timestamp | None:
    return None if nanos is None else pd.Timestamp(nanos, tz="UTC")


def _referral_columns(source, forest, ids: pd.Index, n: int, has_converted: bool,
                      has_value: bool) -> pd.DataFrame:
    """The columns of :func:`influence.reach.referral_metrics`, from executor aggregates."""
    from .frames import scatter

    table = pd.DataFrame({
        "referrals_sent": scatter(source, "referrals_sent", n, fill=0),
        "referrals_converted": (scatter(source, "referrals_converted", n, fill=0)
                                .astype(np.float64) if has_converted else np.full(n, np.nan)),
        "referral_downstream": forest.downstream,
        "referral_depth": forest.height,
        "referral_value": (scatter(source, "referral_value", n, fill=0.0)
                           if has_value else np.full(n, np.nan)),
        "downstream_conversions": (forest.downstream_conversions.astype(np.float64)
                                   if has_converted else np.full(n, np.nan)),
        "downstream_value": forest.downstream_value if has_value else np.full(n, np.nan),
    })
    referrer = np.where(forest.parent >= 0, ids.to_numpy()[np.maximum(forest.parent, 0)], None)
    table["referred_by"] = pd.array(referrer, dtype="str")
    return table


def _cycle_days(source, forest, n: int, has_time: bool) -> np.ndarray:
    """Days from the referral that brought each referrer to their own first referral."""
    from .frames import scatter

    cycle = np.full(n, np.nan)
    if not has_time or forest.referral_events == 0:
        return cycle
    sent = scatter(source, "referrals_sent", n, fill=0)
    first_sent = scatter(source, "first_referral_ns", n, fill=np.iinfo(np.int64).max,
                         dtype=np.int64)
    ok = (sent > 0) & (forest.parent >= 0)
    gap = (first_sent[ok] - forest.time[ok]) / 86_400e9
    cycle[np.flatnonzero(ok)] = np.where(gap >= 0, gap, np.nan)
    return cycle


def _profiles(membership: np.ndarray, rank: np.ndarray, ids: pd.Index, sums: pd.DataFrame,
              segment: np.ndarray, segment_names: list[str], top: int = 5) -> pd.DataFrame:
    """Community profiles above the hand-off threshold: edge sums from the executors,
    members (size, leader, top members, segment shares) from the driver's table."""
    n_comm = int(membership.max()) + 1 if len(membership) else 0
    size = np.bincount(membership, minlength=n_comm)
    pairs = size.astype(np.float64) * (size - 1)
    internal_edges = sums["internal_edges"].to_numpy(dtype=np.float64)
    density = np.divide(internal_edges, pairs, out=np.zeros(n_comm), where=pairs > 0)
    order = np.lexsort((rank, membership))
    ordered = membership[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ranked = ids.to_numpy()[order]
    ends = np.r_[starts[1:], len(order)]
    table = pd.DataFrame({
        "community": np.arange(n_comm, dtype=np.int64),
        "size": size.astype(np.int64),
        "internal_weight": sums["internal_weight"].to_numpy(dtype=np.float64),
        "external_weight": sums["external_weight"].to_numpy(dtype=np.float64),
        "density": density,
        "leader": pd.array(ranked[starts], dtype="str"),
        "top_members": pd.array([";".join(ranked[s:min(e, s + top)])
                                 for s, e in zip(starts, ends)], dtype="str"),
        "dominant_type": pd.array(sums["dominant_type"].astype(str).to_numpy(), dtype="str"),
    })
    sizes = np.maximum(size, 1).astype(np.float64)
    for name in segment_names:
        table[f"share_{name}"] = np.round(
            np.bincount(membership[segment == name], minlength=n_comm) / sizes, 6)
    return table


def _manifest(locals_: dict[str, Any]) -> dict[str, Any]:
    from .. import __version__
    from .. import analysis as local

    v = locals_
    clean, config, sc = v["clean"], v["config"], v["config"].spark
    cascades, kfactor, segments_table = v["cascades"], v["kfactor"], v["segments_table"]
    forest, roles, plans = v["forest"], v["roles"], v["plans"]
    customers, table = v["customers"], v["table"]
    window = config.window
    pr = config.centrality
    manifest = {
        "influence_version": __version__,
        "input": v["info"],
        "customers_input": (None if customers is None else
                            {"path": str(customers) if isinstance(customers, (str, Path))
                             else None, "rows": len(table)}),
        "rows_read": clean.rows_read,
        "rows_used": clean.rows_used,
        "dropped": clean.dropped,
        "events_by_type": clean.events_by_type,
        "customers": v["n"],
        "customers_from_table": 0 if table is None else len(table),
        "edges": v["n_edges"],
        "total_weight": float(np.sum(v["out_strength"])),
        "has_timestamps": clean.has_timestamps,
        "window": {
            "since": None if window.since is None else window.since.isoformat(),
            "until": None if window.until is None else window.until.isoformat(),
            "first_event": None if clean.start_ns is None else
            _stamp(clean.start_ns).isoformat(),
            "end_date": None if clean.end_ns is None else _stamp(clean.end_ns).isoformat(),
        },
        "seed": config.communities.seed,
        "communities": {"count": int(len(v["profiles"])), "modularity": round(v["q"], 10),
                        "backend": config.communities.backend
                        if v["handoff"] else "label propagation",
                        "objective": "modularity" if v["handoff"] else
                        "label propagation (modularity reported)",
                        "resolution": config.communities.resolution,
                        "stability_runs": config.communities.stability_runs
                        if v["handoff"] else 0,
                        "iterations": config.communities.iterations,
                        "process": "main" if v["handoff"] else "executors",
                        "roles": {role: int(count) for role, count in sorted(
                            roles["community_role"].value_counts().items())}},
        "betweenness": v["between_info"],
        "hits": v["hits_info"],
        "segments": {
            "rules": [plan.to_dict() for plan in plans],
            "default": config.segments.default,
            "sizes": {row.segment: int(row.size) for row in segments_table.itertuples()},
            "suppressed": [row.segment for row in segments_table.itertuples()
                           if row.suppressed],
        },
        "attribute_columns": [c for c in v["customers_table"].columns
                              if c not in v["metrics"].columns],
        "pagerank": ({"graph": "reversed influence flow", "damping": pr.damping,
                      "solver": "igraph prpack, 1 thread (on the driver, hand-off)"}
                     if v["pr_info"] is None else
                     v["pr_info"].describe(pr.damping, sc.pagerank_tolerance,
                                           sc.checkpoint_every)),
        "referrals": {
            "events": forest.referral_events, "referred": forest.referred,
            "referred_more_than_once": forest.double_referred,
            "referrer_rule": "earliest referral in time, ties by smallest referrer id",
            "cycles_broken": forest.cycles_broken,
            "cascades": int(len(cascades)),
            "largest_cascade": int(cascades["size"].max()) if len(cascades) else 0,
            "deepest_cascade": int(cascades["depth"].max()) if len(cascades) else 0,
            "has_converted": clean.has_converted, "has_value": clean.has_value,
        },
        "kfactor": {k: local._plain(x) for k, x in kfactor.iloc[0].items()
                    if k not in ("group", "key")},
        "reach": {"reach_2": f"approximate: HyperLogLog++ (approx_count_distinct) over the "
                             f"pairs within two hops, relative standard deviation "
                             f"{sc.reach_rsd} ([spark] reach_rsd)",
                  "reach_2_rsd": sc.reach_rsd},
        "lifecycle": ("rules relative to the end date, see docs/reach.md"
                      if clean.has_timestamps else "absent: no timestamps"),
        "propagators": v["propagator_info"],
        "config": config.to_dict(),
        "versions": _versions(v["spark"]),
        "warnings": list(clean.warnings),
        "timings": {k: round(x, 4) for k, x in v["clock"].timings.items()},
        "engine": {
            "name": ENGINE_NAME,
            "spark_version": v["spark"].version,
            "master": v["spark"].sparkContext.master,
            "shuffle_partitions": int(v["spark"].conf.get("spark.sql.shuffle.partitions")),
            "driver_handoff": v["handoff"],
            "driver_edges_max": sc.driver_edges_max,
            "stages": v["placement"],
            "communities": v["community_method"]["method"] if v["handoff"] else
            "label propagation on DataFrames",
            "methods": {
                "validation": "local rules: rows parsed by influence.validation."
                              "parse_timestamps and pandas in the executors' Python workers",
                "edges": "per (pair, type) weights sorted and summed in numpy's order; "
                         "exact for integer weights",
                "pagerank": ("driver hand-off (igraph prpack)" if v["pr_info"] is None
                             else "power iteration on DataFrames, fixed-point sums"),
                "reach_2": f"HyperLogLog++ rsd {sc.reach_rsd}",
                "communities": v["community_method"],
                "transfer": "Arrow (DataFrame.toArrow / createDataFrame(pyarrow.Table))",
            },
        },
    }
    if not v["handoff"]:
        manifest["engine"]["left_empty"] = {
            "columns": ["coreness", "betweenness", "hub", "authority", "expected_spread",
                        "propagator_rank", "community_confidence"],
            "reason": f"{v['n_edges']} edges > [spark] driver_edges_max "
                      f"({sc.driver_edges_max}): these need the whole graph on one machine",
            "files": "edges.csv is not written (the edge list does not fit the driver)"}
    return manifest
