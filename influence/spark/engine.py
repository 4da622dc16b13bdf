"""The Spark engine: events -> :class:`~influence.result.Analysis`, with the
event-scale stages as Spark DataFrame jobs.

Stages, each timed once (the manifest's ``engine.stages`` says where each ran):
read -> validate -> graph -> centrality -> activity -> score -> referrals ->
reach -> communities -> propagators, then the finish. Events never come to the
driver. Below ``[spark] driver_edges_max`` (the hand-off) the aggregated edge
list and the per-customer results come to the driver through Arrow, and the
finish (rank, spread, segments, profiles, manifest) is the shared pipeline's
(:mod:`influence.pipeline`), as for the local engine. Above it, the per-customer
results stay on the executors, which rank, segment and write the customers as
part files (:mod:`influence.spark.outputs`).
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from ..communities import (
    community_confidence,
    community_edge_sums,
    community_roles,
    cross_community_influence,
    detect_communities,
    modularity,
)
from ..config import AnalysisConfig
from ..engine import Accounting, EngineRun, Propagation, Stage, customer_table
from ..errors import ConfigError
from ..manifest import HITS_SECTION, communities_section, customers_input, versions
from ..metrics import betweenness, cohort_months, coreness, hits
from ..metrics import pagerank as local_pagerank
from ..progress import StageClock
from ..reach import cascades_table
from ..reach.cascades import cycle_days, referral_columns
from ..reach.propagators import seed_set
from ..result import Analysis
from ..schema import CUSTOMER_ID

__all__ = ["run_spark", "ENGINE_NAME"]

ENGINE_NAME = "spark"


def run_spark(events: Any, *, spark: Any = None, customers: Any = None,
              config: AnalysisConfig, input_format: str | None = None,
              clock: StageClock) -> Analysis:
    """Run the analysis on Spark: see :func:`influence.analyze` (``engine="spark"``)
    and ``docs/scale-out.md``. The finish runs inside the Spark session (above the
    hand-off threshold it runs on the executors, which need the session).

    Raises
    ------
    ConfigError
        pyspark or Java missing, Spark failed to start, a setting this engine
        does not support.
    """
    from .session import require_pyspark

    require_pyspark()
    if config.propagators.k > 0 and config.propagators.probabilities == "learned":
        raise ConfigError("propagators.probabilities = 'learned' is not available with "
                          "--engine spark yet; use probabilities = 'weight' or the local "
                          "engine", key="propagators.probabilities", expected="'weight'",
                          got="learned", hint="use probabilities = 'weight' or the local "
                                              "engine")
    with warnings.catch_warnings():
        # pyspark 4 warns that pandas 3 is not fully supported; no pyspark pandas
        # conversion runs here (Arrow only)
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        return _session_run(events, spark, customers, config, input_format, clock)


def _session_run(events, spark, customers, config, input_format, clock):
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
            return _run(spark, events, customers, config, input_format, clock)
    finally:
        if created:
            spark.stop()


def _versions(spark) -> dict[str, str]:
    found = versions()
    try:
        found["pyspark"] = metadata.version("pyspark")
    except metadata.PackageNotFoundError:  # pragma: no cover - a pyspark without metadata
        import pyspark

        found["pyspark"] = pyspark.__version__
    found["spark"] = spark.version
    return found


def _read_customers(spark, customers):
    from pyspark.sql import DataFrame

    from ..sources import read_customers

    if customers is None:
        return None
    if isinstance(customers, DataFrame):
        customers = customers.toArrow().to_pandas()
    return read_customers(customers)


def _stamp(nanos: int | None) -> pd.Timestamp | None:
    return None if nanos is None else pd.Timestamp(nanos, tz="UTC")


def _run(spark, events, customers, config: AnalysisConfig, input_format,
         clock: StageClock) -> Analysis:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from . import activity as act
    from .communities import community_parts, handoff_graph, label_propagation
    from .frames import collect_arrow, loop_partitions, scatter
    from .graph import build_edges, code_events, pagerank, reach, strengths
    from .referrals import referral_forest
    from .validate import clean_events, customer_ids, read_events

    sc = config.spark
    storage = StorageLevel.MEMORY_AND_DISK
    directory = sc.checkpoint_dir
    placement: dict[str, str] = {}

    with clock.stage("read"):
        raw, info = read_events(spark, events, columns=config.columns,
                                input_format=input_format)
        table = _read_customers(spark, customers)
    placement["read"] = "executors"
    with clock.stage("validate"):
        clean = clean_events(spark, raw, config, info, storage=storage)
        ids_frame, n = customer_ids(spark, clean.universe, table, storage=storage)
    placement["validate"] = ("executors (row parsing in Python workers, accounting as "
                             "DataFrame jobs)")
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
        graph: Any = None  # the InfluenceGraph under the hand-off (mypy cannot follow `handoff`)
        # customer ids come to the driver only with the graph
        ids = _collect_ids(ids_frame, n) if handoff else pd.RangeIndex(n)
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
        if handoff:
            got = collect_arrow(degree)
            out_strength = scatter(got, "out_strength", n, fill=0.0)
            in_strength = scatter(got, "in_strength", n, fill=0.0)
            reach_1 = scatter(got, "reach_1", n, fill=0)
        cen = config.centrality
        if handoff and sc.pagerank_on_driver:
            pr = local_pagerank(graph, damping=cen.damping)
            pr_info = None
        else:
            ranks, pr_info = pagerank(
                spark, edges, degree.filter(F.col("in_strength").isNotNull())
                .select("vid", "in_strength"), n, damping=cen.damping,
                max_iter=sc.pagerank_iterations, tol=sc.pagerank_tolerance,
                every=sc.checkpoint_every, checkpoint_dir=directory,
                partitions=loop_partitions(spark, n_edges), storage=storage)
            if handoff:
                pr = scatter(collect_arrow(ranks), "pagerank", n, fill=0.0)
        if handoff:
            degree.unpersist()  # above the threshold the finish reads it
            core = coreness(graph)
            hub, authority = hits(graph)
            between = betweenness(graph, budget=cen.betweenness_budget,
                                  min_pivots=cen.betweenness_min_pivots,
                                  seed=cen.seed, enabled=cen.betweenness)
            between_scores, between_info = between.scores, between.describe(n)
            hits_info = HITS_SECTION
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
    types = sorted(config.types)
    with clock.stage("activity"):
        if handoff:
            source, activity, by_type = _driver_activity(coded, types, end_ns, config, clean,
                                                         n)
        else:
            frames = _activity_frames(coded, types, end_ns, config, clean, storage)
    placement["activity"] = ("executors (per-customer aggregates); recency, frequency and "
                             "lifecycle rules on the driver" if handoff else
                             "executors (per-customer aggregates, kept there; recency, "
                             "frequency and lifecycle rules in the finish)")
    score_run = spark_score = None
    if has_time:
        assert end_ns is not None  # every timestamped input has an end date
        with clock.stage("score"):
            if handoff:
                score_run = _score(coded, config, end_ns, n, has_converted=clean.has_converted)
            else:
                from .score import score_frame

                spark_score = score_frame(coded, config, end_ns, n,
                                          has_converted=clean.has_converted, storage=storage)
                score_run = spark_score.run
        placement["score"] = ("driver: the events with a target (vertex codes, type, time, "
                              "converted) collected through Arrow, the local engine's "
                              "expected influence and self-check on them" if handoff else
                              "executors: features per influencer (the local functions in "
                              "mapInArrow), one Spark job per L-BFGS-B evaluation of the fit "
                              "on the driver, the self-check's top k to the driver")
    with clock.stage("referrals"):
        forest = referral_forest(spark, coded, n, has_time=has_time, on_driver=handoff,
                                 every=sc.checkpoint_every, checkpoint_dir=directory,
                                 storage=storage)
        cascades = cascades_table(forest, ids, has_converted=clean.has_converted,
                                  has_value=clean.has_value)
        if not handoff:  # roots named by the executors: one row per cascade
            cascades["root"] = _names(spark, ids_frame, cascades["root"])
        else:
            invites = scatter(source, "referrals_sent", n, fill=0)
            conversions = (scatter(source, "referrals_converted", n, fill=0)
                           if clean.has_converted else None)
            referrals = referral_columns(
                forest, ids, sent=invites, converted=conversions,
                value=(scatter(source, "referral_value", n, fill=0.0) if clean.has_value
                       else None))
            cycle = np.full(n, np.nan)
            if has_time and forest.referral_events:
                cycle = cycle_days(invites, scatter(source, "first_referral_ns", n,
                                                    fill=np.iinfo(np.int64).max,
                                                    dtype=np.int64), forest)
            cohort = None
            if has_time:
                cohort = cohort_months(scatter(collect_arrow(act.first_seen(coded)),
                                               "first_seen_ns", n,
                                               fill=np.iinfo(np.int64).min, dtype=np.int64))
    placement["referrals"] = ("executors (kept referrer); roots, generations and subtree "
                              "totals on the driver (local engine), as the cascades table"
                              if handoff else
                              "executors (kept referrer, pointer doubling, one job per "
                              "generation for subtree totals); cascades table on the driver")
    with clock.stage("reach"):
        if handoff:
            reach_2 = scatter(collect_arrow(reach(edges, sc.reach_rsd)), "reach_2", n, fill=0)
        else:
            frames["reach_2"] = reach(edges, sc.reach_rsd).persist(storage)
    placement["reach"] = "executors (reach_1 exact, reach_2 HyperLogLog++)"
    with clock.stage("communities"):
        cc = config.communities
        rc = config.roles
        confidence = None
        if handoff:
            membership = detect_communities(graph, resolution=cc.resolution, seed=cc.seed,
                                            iterations=cc.iterations, backend=cc.backend)
            q = modularity(graph, membership, resolution=cc.resolution)
            roles = community_roles(graph, membership, hub_z=rc.hub_z,
                                    hub_participation=rc.hub_participation,
                                    connector_participation=rc.connector_participation,
                                    peripheral_z=rc.peripheral_z)
            if cc.stability_runs:
                confidence = community_confidence(graph, membership, runs=cc.stability_runs,
                                                  resolution=cc.resolution, seed=cc.seed,
                                                  iterations=cc.iterations, backend=cc.backend)
            community_method = {"method": f"driver hand-off ({cc.backend} Leiden)"}
            edge_sums = community_edge_sums(graph, membership)
            cross = cross_community_influence(graph, membership)
        else:
            cross = None  # needs the graph on the driver: left empty
            membership, community_method = label_propagation(
                spark, edges, n, max_iter=sc.label_propagation_iterations,
                every=sc.checkpoint_every, checkpoint_dir=directory,
                partitions=loop_partitions(spark, n_edges), storage=storage)
            q, roles, edge_sums = community_parts(spark, edges, edge_types, membership,
                                                  resolution=cc.resolution, roles_config=rc)
    placement["communities"] = (community_method["method"] if handoff else
                                "executors: " + community_method["method"]
                                + "; modularity, roles and profile sums on the executors")
    propagation = None
    if config.propagators.k > 0 and n_edges > 0:
        if handoff:
            with clock.stage("propagators"):
                result, forward, prob_info = seed_set(graph, config)
            propagation = Propagation(result=result, forward=forward, prob_info=prob_info)
        else:
            propagation = Propagation(skipped=f"{n_edges} edges > [spark] driver_edges_max "
                                              f"({sc.driver_edges_max}); IMM and the Monte "
                                              "Carlo spread need the whole graph on one "
                                              "machine")
        placement["propagators"] = "driver (local engine)" if handoff else "skipped"
    if handoff:
        placement["segments"] = ("driver: tiers, rules and reasons by the local engine on the "
                                 "collected per-customer table; K-factor inputs from the "
                                 "executors")
        placement["profiles"] = "driver"
    else:
        placement["rank"] = ("executors: one per-customer DataFrame (the stages' aggregates "
                             "joined on the vertex id; recency, frequency, lifecycle and "
                             "referral columns by the local code in mapInArrow), ranks by "
                             "range partitioning")
        placement["segments"] = ("executors: tiers, rules and reasons by the local code in "
                                 "mapInArrow from global counts; customers written as Parquet "
                                 "part files by the executors")
        placement["profiles"] = ("executors (segment profiles: one aggregate); community "
                                 "profiles and K-factor on the driver from four columns")
    accounting = Accounting(
        input=info, rows_read=clean.rows_read, rows_used=clean.rows_used,
        dropped=clean.dropped, events_by_type=clean.events_by_type,
        has_timestamps=has_time, has_converted=clean.has_converted,
        has_value=clean.has_value, start=_stamp(clean.start_ns), end=_stamp(end_ns),
        warnings=tuple(clean.warnings))
    cen = config.centrality
    stages = (
        Stage("read", placement["read"]), Stage("validate", placement["validate"]),
        Stage("graph", placement["graph"]),
        Stage("centrality", placement["centrality"], sections={
            "betweenness": between_info, "hits": hits_info,
            "pagerank": ({"graph": "reversed influence flow", "damping": cen.damping,
                          "solver": "igraph prpack, 1 thread (on the driver, hand-off)"}
                         if pr_info is None else
                         pr_info.describe(cen.damping, sc.pagerank_tolerance,
                                          sc.checkpoint_every))}),
        Stage("activity", placement["activity"]),
        *((Stage("score", placement["score"]),) if score_run is not None else ()),
        Stage("referrals", placement["referrals"]),
        Stage("reach", placement["reach"], sections={"reach": {
            "reach_2": f"approximate: HyperLogLog++ (approx_count_distinct) over the pairs "
                       f"within two hops, relative standard deviation {sc.reach_rsd} "
                       f"([spark] reach_rsd)",
            "reach_2_rsd": sc.reach_rsd}}),
        Stage("communities", placement["communities"], method=community_method["method"],
              sections={"communities": communities_section(
                  config, membership, q, roles,
                  backend=cc.backend if handoff else "label propagation",
                  objective="modularity" if handoff else
                  "label propagation (modularity reported)",
                  stability_runs=cc.stability_runs if handoff else 0,
                  process="main" if handoff else "executors")}),
    )
    section = _engine_section(spark, config, handoff=handoff, n_edges=n_edges,
                              placement=placement, pr_info=pr_info,
                              community_method=community_method)
    if not handoff:
        from .outputs import ExecutorInputs, finish_on_executors

        driver = _driver_columns(forest, membership, roles, has_time=has_time)
        inputs = ExecutorInputs(
            ids=ids_frame, n=n, degree=degree, ranks=ranks, driver=driver, types=types,
            score=None if spark_score is None else spark_score.customers,
            has_time=has_time, has_converted=clean.has_converted, has_value=clean.has_value,
            end_ns=end_ns, attributes=table, spread=propagation is not None, **frames)
        run = EngineRun(
            engine=ENGINE_NAME, ids=ids, metrics=pd.DataFrame(),
            by_type=tuple(f"sent_{t}" for t in types), attributes=table,
            customers_input=customers_input(customers, table), forest=forest,
            cascades=cascades, membership=membership, modularity=q, community_sums=edge_sums,
            graph=None, n_edges=n_edges, invites=np.empty(0, np.int64), conversions=None,
            cycle_days=np.empty(0), cohort_month=None, propagation=propagation,
            accounting=accounting, stages=stages, timings=clock.timings,
            versions=_versions(spark), score=score_run, engine_section=section)
        try:
            return finish_on_executors(spark, inputs, run, config, clock,
                                       parts_dir=sc.checkpoint_dir)
        finally:
            for frame in (coded, edges, edge_types, ids_frame, degree, *frames.values()):
                if frame is not None:
                    frame.unpersist()
            if spark_score is not None:
                spark_score.release()
    for frame in (coded, edges, edge_types, ids_frame):
        frame.unpersist()

    metrics = customer_table(
        ids, pagerank=pr, in_strength=in_strength, out_strength=out_strength, coreness=core,
        betweenness=between_scores, hub=hub, authority=authority, membership=membership,
        roles=roles, reach_1=reach_1, reach_2=reach_2, confidence=confidence,
        cross_influence=cross, parts=(activity, referrals, by_type))
    from ..pipeline import finish

    return finish(EngineRun(
        engine=ENGINE_NAME, ids=ids, metrics=metrics, by_type=tuple(by_type.columns),
        attributes=table, customers_input=customers_input(customers, table), forest=forest,
        cascades=cascades, membership=membership, modularity=q, community_sums=edge_sums,
        graph=graph, n_edges=n_edges, invites=invites, conversions=conversions,
        cycle_days=cycle, cohort_month=cohort, propagation=propagation,
        accounting=accounting, stages=stages, timings=clock.timings,
        versions=_versions(spark), score=score_run, engine_section=section), config, clock)


def _collect_ids(ids_frame, n: int) -> pd.Index:
    """Every customer id, in vertex order, on the driver (the hand-off)."""
    from .frames import collect_arrow

    got = collect_arrow(ids_frame)
    names = np.empty(n, dtype=object)
    names[got.column("vid").to_numpy().astype(np.int64)] = \
        got.column(CUSTOMER_ID).to_numpy(zero_copy_only=False)
    return pd.Index(names.astype(str), dtype="str", name=CUSTOMER_ID)


def _names(spark, ids_frame, vids: pd.Series) -> pd.Series:
    """The customer ids of some vertices (given as text, as ``cascades_table`` writes
    them with a :class:`pandas.RangeIndex`), looked up on the executors."""
    import pyarrow as pa

    from .frames import collect_arrow

    wanted = vids.astype(np.int64).to_numpy()
    got = collect_arrow(ids_frame.join(
        spark.createDataFrame(pa.table({"vid": pa.array(np.unique(wanted))})), "vid"))
    lookup = pd.Series(got.column(CUSTOMER_ID).to_numpy(zero_copy_only=False),
                       index=got.column("vid").to_numpy())
    return pd.Series(pd.array(lookup.loc[wanted].to_numpy(), dtype="str"), index=vids.index,
                     name=vids.name)


def _activity_frames(coded, types, end_ns, config, clean, storage) -> dict:
    """The activity aggregates, kept on the executors (:class:`~influence.spark.outputs.
    ExecutorInputs`' ``source``, ``target``, ``contact``, ``days``, ``first_seen``)."""
    from . import activity as act

    frames = {"source": act.by_source(coded, types, end_ns, config.lifecycle,
                                      clean.has_value, clean.has_converted),
              "target": act.by_target(coded), "contact": act.contacts(coded),
              "days": None, "first_seen": None}
    if clean.has_timestamps:
        frames["days"] = act.active_days(coded)
        frames["first_seen"] = act.first_seen(coded)
    return {name: None if frame is None else frame.persist(storage)
            for name, frame in frames.items()}


def _driver_columns(forest, membership, roles, *, has_time: bool):
    """What the stages left on the driver, per vertex, as one Arrow table for the
    executors: the community and its role (label propagation), the referral forest."""
    import pyarrow as pa

    n = len(membership)
    columns = {"vid": pa.array(np.arange(n, dtype=np.int64)),
               "community": pa.array(np.asarray(membership, dtype=np.int64)),
               "community_role": pa.array(roles["community_role"].to_numpy(dtype=object),
                                          type=pa.string()),
               "_parent": pa.array(forest.parent.astype(np.int64)),
               "_downstream": pa.array(forest.downstream.astype(np.int64)),
               "_height": pa.array(forest.height.astype(np.int64)),
               "_downstream_conversions": pa.array(
                   forest.downstream_conversions.astype(np.int64)),
               "_downstream_value": pa.array(forest.downstream_value.astype(np.float64))}
    if has_time and forest.time is not None:
        columns["_referral_ns"] = pa.array(forest.time.astype(np.int64))
    return pa.table(columns)

def _driver_activity(coded, types, end_ns, config, clean, n):
    """The activity columns on the driver (the hand-off): per-customer aggregates from
    the executors, the formulas here. Returns ``(source, activity, by_type)``."""
    from . import activity as act
    from .customers import activity_columns, lifecycle
    from .frames import collect_arrow, scatter

    has_time = clean.has_timestamps
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
        assert end_ns is not None  # the events have times
        activity["lifecycle_stage"] = pd.array(
            lifecycle(activity, scatter(source, "n_recent", n, fill=0),
                      scatter(source, "n_before", n, fill=0), end_ns,
                      config.lifecycle).astype(str), dtype="str")
    return source, activity, by_type


def _score(coded, config: AnalysisConfig, end_ns: int, n: int, *, has_converted: bool):
    """The expected-influence score and its self-check
    (:func:`influence.metrics.score.score_arrays`) on the events collected to the
    driver: ~26 bytes per event (two vertex codes, a type, a time, converted)."""
    from pyspark.sql import functions as F

    from ..metrics.score import DAY_NS, score_arrays
    from .frames import collect_arrow

    columns = [F.col("s").cast("long"), F.coalesce(F.col("t"), F.lit(-1)).cast("long").alias("t"),
               "kind", "ts_ns"]
    if has_converted:
        columns.append(F.coalesce(F.col("conv"), F.lit(False)).alias("conv"))
    got = collect_arrow(coded.select(*columns))
    flows = {name: spec.flow == "reverse" for name, spec in config.types.items()}
    kinds = pd.Series(got.column("kind").to_numpy(zero_copy_only=False))
    reverse = kinds.map(flows).fillna(False).to_numpy(dtype=bool)
    times = got.column("ts_ns").to_numpy().astype(np.int64) / DAY_NS
    converted = (got.column("conv").to_numpy(zero_copy_only=False).astype(bool)
                 if has_converted else None)
    return score_arrays(got.column("s").to_numpy().astype(np.int64),
                        got.column("t").to_numpy().astype(np.int64), reverse, times,
                        _stamp(end_ns), config.score, converted=converted, n=n)


def _engine_section(spark, config: AnalysisConfig, *, handoff: bool, n_edges: int,
                    placement: dict[str, str], pr_info, community_method) -> dict[str, Any]:
    """``manifest["engine"]``: where each stage ran and how."""
    sc = config.spark
    section = {
        "name": ENGINE_NAME,
        "spark_version": spark.version,
        "master": spark.sparkContext.master,
        "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
        "driver_handoff": handoff,
        "driver_edges_max": sc.driver_edges_max,
        "stages": placement,
        "communities": community_method["method"] if handoff else
        "label propagation on DataFrames",
        "methods": {
            "validation": "local rules: rows parsed by influence.validation."
                          "parse_timestamps and pandas in the executors' Python workers",
            "edges": "per (pair, type) weights sorted and summed in numpy's order; "
                     "exact for integer weights",
            "pagerank": ("driver hand-off (igraph prpack)" if pr_info is None
                         else "power iteration on DataFrames, fixed-point sums"),
            "reach_2": f"HyperLogLog++ rsd {sc.reach_rsd}",
            "communities": community_method,
            "transfer": "Arrow (DataFrame.toArrow / createDataFrame(pyarrow.Table))",
        },
    }
    if not handoff:
        section["left_empty"] = {
            "columns": ["coreness", "betweenness", "hub", "authority", "expected_spread",
                        "propagator_rank", "community_confidence", "cross_influence"],
            "reason": f"{n_edges} edges > [spark] driver_edges_max "
                      f"({sc.driver_edges_max}): these need the whole graph on one machine",
            "files": "edges.csv is not written (the edge list does not fit the driver)"}
    return section
