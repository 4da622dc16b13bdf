"""The Spark engine's finish on the executors, when the hand-off is off (issue 17).

Above ``[spark] driver_edges_max`` the graph does not come to the driver, and
neither does the per-customer table. The stages' per-customer aggregates (Spark
DataFrames keyed by the vertex id) are joined into **one per-customer
DataFrame** (:func:`customer_frame`); the formulas the local engine applies to
them per row (recency, frequency, lifecycle, the referral columns) run in
``mapInArrow`` with the local code; then :mod:`influence.spark.finish` ranks,
tiers and segments it with global numbers computed on the executors; the
segment and community profiles and the K-factor come to the driver as one row
per segment, community or group (:mod:`influence.spark.profiles`); and the
executors write the customers as Parquet part files in rank order
(:func:`finish_on_executors`). The :class:`~influence.result.Analysis` returned
holds those parts (:class:`~influence.result.CustomerParts`), which ``save``
copies into the results folder's ``customers/`` one part at a time.

What still comes to the driver per customer (arrays, not the table): the
community of each customer and its role (label propagation's result) and the
referral forest's arrays (kept referrer, generation, subtree totals);
``docs/scale-out.md`` says how much.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..columns import is_computed
from ..config import AnalysisConfig
from ..schema import COMMUNITY_COLUMNS, CUSTOMER_ID
from .finish import ROW, SCORE_TEXT

__all__ = ["ExecutorInputs", "customer_frame", "finish_on_executors", "exact_sum"]

_NAT = np.iinfo(np.int64).min


@dataclass
class ExecutorInputs:
    """The per-customer results of the Spark engine's stages, still on the executors.

    Every frame has ``vid`` (the vertex id) and one row per customer it concerns
    (customers missing from a frame get the local engine's fill: 0, or missing).
    ``driver`` holds the per-vertex arrays the stages left on the driver
    (community, role, referral forest), one row per vertex; ``score`` the
    expected influence and its reason text (:func:`influence.spark.score.score_frame`).
    """

    ids: Any  # vid, customer_id: every customer
    n: int
    degree: Any  # vid, in_strength, out_strength, reach_1
    ranks: Any  # vid, pagerank
    source: Any  # spark.activity.by_source
    target: Any  # vid, events_received
    contact: Any  # vid, distinct_contacts
    days: Any  # vid, active_days (timestamps only)
    first_seen: Any  # vid, first_seen_ns (timestamps only)
    reach_2: Any  # vid, reach_2
    driver: pa.Table
    types: list[str]
    has_time: bool
    has_converted: bool
    has_value: bool
    end_ns: int | None
    score: Any = None  # vid, expected_influence, score_text (timestamps only)
    attributes: pd.DataFrame | None = None
    spread: bool = False


def _arrow_type(spark_type: str) -> pa.DataType:
    return {"long": pa.int64(), "double": pa.float64(), "string": pa.string(),
            "timestamp": pa.timestamp("us", tz="UTC")}[spark_type]


def _map_table(frame, fn, columns: list[tuple[str, str]]):
    """``frame.mapInArrow`` with the columns ``columns`` (name, Spark type) of
    ``fn(batch)``, a mapping of name to pandas column, numpy or Arrow array (``batch``:
    a :class:`pyarrow.RecordBatch`, so 64-bit integers with nulls stay integers);
    nothing of ``frame`` kept but what ``fn`` returns."""
    from pyspark.sql.types import (
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    spark_types = {"long": LongType(), "double": DoubleType(), "string": StringType(),
                   "timestamp": TimestampType()}
    schema = StructType([StructField(n, spark_types[t], True) for n, t in columns])
    arrow = pa.schema([(n, _arrow_type(t)) for n, t in columns])

    def run(batches):
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = fn(batch)
            arrays = []
            for name, kind in columns:
                values = table[name]
                if isinstance(values, pa.Array):
                    arrays.append(values.cast(arrow.field(name).type))
                elif kind == "timestamp":
                    arrays.append(pa.array(values, type=pa.timestamp("ns", tz="UTC"),
                                           from_pandas=True).cast(arrow.field(name).type,
                                                                  safe=False))
                elif kind == "string":
                    arrays.append(pa.array(list(values), type=pa.string(), from_pandas=True))
                else:
                    arrays.append(pa.array(np.asarray(values), type=arrow.field(name).type,
                                           from_pandas=True))
            yield pa.RecordBatch.from_arrays(arrays, schema=arrow)

    return frame.mapInArrow(run, schema)


def customer_frame(spark, inputs: ExecutorInputs, config: AnalysisConfig):
    """One row per customer with every column ``pipeline.finish`` ranks and segments
    (``run.metrics`` of the local engine with the attributes beside it, as
    :func:`influence.pipeline.with_attributes` names them), ``_row`` (the vertex id)
    and ``_score_text``; plus ``_cycle_days`` and ``_cohort_month`` for the K-factor.

    The per-row formulas are the local engine's own functions in ``mapInArrow``
    (:func:`influence.spark.customers.activity_columns`, :func:`lifecycle`), so the
    values are the local ones to the bit.
    """
    from pyspark.sql import functions as F

    from .customers import activity_columns, lifecycle

    i = inputs
    types = i.types

    def keyed(frame, columns):
        return frame.select(F.col("vid").alias(ROW), *columns)

    source_columns = ["events_sent", *[f"sent_{t}" for t in types], "referrals_sent"]
    source_columns += ["referrals_converted"] if i.has_converted else []
    source_columns += ["referral_value"] if i.has_value else []
    if i.has_time:
        source_columns += ["first_ns", "last_ns", "n_recent", "n_before", "first_referral_ns"]
    frame = (i.ids.select(F.col("vid").alias(ROW), CUSTOMER_ID)
             .join(keyed(i.degree, ["in_strength", "out_strength", "reach_1"]), ROW, "left")
             .join(keyed(i.ranks, ["pagerank"]), ROW, "left")
             .join(keyed(i.source, source_columns), ROW, "left")
             .join(keyed(i.target, ["events_received"]), ROW, "left")
             .join(keyed(i.contact, ["distinct_contacts"]), ROW, "left")
             .join(keyed(i.reach_2, ["reach_2"]), ROW, "left")
             .join(spark.createDataFrame(i.driver).withColumnRenamed("vid", ROW), ROW, "left"))
    if i.score is not None:
        frame = frame.join(i.score.select(F.col("vid").alias(ROW), "expected_influence",
                                          F.col("score_text").alias(SCORE_TEXT)), ROW, "left")
    if i.has_time:
        frame = (frame.join(keyed(i.days, ["active_days"]), ROW, "left")
                 .join(keyed(i.first_seen, ["first_seen_ns"]), ROW, "left"))
    # the kept referrer's name (referred_by)
    parents = i.ids.select(F.col("vid").alias("_parent"), F.col(CUSTOMER_ID).alias("referred_by"))
    frame = frame.join(parents, "_parent", "left")
    end_ns = i.end_ns
    lc = config.lifecycle
    has_time, has_converted, has_value = i.has_time, i.has_converted, i.has_value

    def rows(t: pa.RecordBatch) -> pd.DataFrame:
        def ints(column, fill=0):
            values = pc.fill_null(t.column(column), pa.scalar(fill, pa.int64()))
            return values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)

        def floats(column):
            values = pc.fill_null(t.column(column), pa.scalar(0.0, pa.float64()))
            return values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)

        sent = ints("events_sent")
        days = first_ns = last_ns = None
        if has_time:
            days = ints("active_days")
            first_ns, last_ns = ints("first_ns", _NAT), ints("last_ns", _NAT)
        out = activity_columns(sent, ints("events_received"), ints("distinct_contacts"),
                               days, first_ns, last_ns, end_ns)
        if has_time:
            assert end_ns is not None  # timestamped input has an end date
            out["lifecycle_stage"] = lifecycle(out, ints("n_recent"), ints("n_before"),
                                               end_ns, lc).astype(str)
        n = t.num_rows
        missing = np.full(n, np.nan)
        for typ in types:
            out[f"sent_{typ}"] = ints(f"sent_{typ}")
        invites = ints("referrals_sent")
        out["referrals_sent"] = invites
        out["referrals_converted"] = (ints("referrals_converted").astype(np.float64)
                                      if has_converted else missing)
        out["referral_downstream"] = ints("_downstream")
        out["referral_depth"] = ints("_height")
        out["referral_value"] = (floats("referral_value")
                                 if has_value else missing.copy())
        out["downstream_conversions"] = (ints("_downstream_conversions").astype(np.float64)
                                         if has_converted else missing.copy())
        out["downstream_value"] = (floats("_downstream_value")
                                   if has_value else missing.copy())
        # the viral cycle (reach.cascades.cycle_days) and the cohort, for the K-factor
        cycle = np.full(n, np.nan)
        if has_time:
            parent = ints("_parent", -1)
            kept = ints("_referral_ns", _NAT)
            ok = (invites > 0) & (parent >= 0)
            first_sent = ints("first_referral_ns", np.iinfo(np.int64).max)
            gap = (first_sent[ok] - kept[ok]) / 86_400e9
            cycle[np.flatnonzero(ok)] = np.where(gap >= 0, gap, np.nan)
            from ..metrics import cohort_months

            out["_cohort_month"] = cohort_months(ints("first_seen_ns", _NAT))
        out["_cycle_days"] = cycle
        return out

    activity = [("events_sent", "long"), ("events_received", "long"),
                ("distinct_contacts", "long")]
    if has_time:
        activity += [("active_days", "long"), ("first_active", "timestamp"),
                     ("last_active", "timestamp"), ("recency_days", "double"),
                     ("frequency", "double"), ("lifecycle_stage", "string")]
    computed = activity + [(f"sent_{t}", "long") for t in types] + [
        ("referrals_sent", "long"), ("referrals_converted", "double"),
        ("referral_downstream", "long"), ("referral_depth", "long"),
        ("referral_value", "double"), ("downstream_conversions", "double"),
        ("downstream_value", "double"), ("_cycle_days", "double")]
    if has_time:
        computed.append(("_cohort_month", "string"))
    kept = [ROW, CUSTOMER_ID, "pagerank", "in_strength", "out_strength", "reach_1",
            "reach_2", "community", "community_role", "referred_by"]
    kept += ["expected_influence", SCORE_TEXT] if i.score is not None else []
    kept_types = dict(frame.select(*kept).dtypes)

    def both(t: pa.RecordBatch) -> dict:
        out: dict = dict(rows(t).items())
        for column in kept:
            out[column] = t.column(column)  # passed through as Arrow
        return out

    spark_types = {"bigint": "long", "int": "long", "double": "double", "string": "string"}
    frame = _map_table(frame, both, [(c, spark_types[kept_types[c]]) for c in kept] + computed)
    nan = F.lit(float("nan"))
    frame = frame.select(
        ROW, CUSTOMER_ID,
        F.coalesce("pagerank", F.lit(0.0)).alias("pagerank"),
        F.coalesce("in_strength", F.lit(0.0)).alias("in_strength"),
        F.coalesce("out_strength", F.lit(0.0)).alias("out_strength"),
        F.lit(None).cast("long").alias("coreness"),
        nan.alias("betweenness"), nan.alias("hub"), nan.alias("authority"),
        "community", "community_role",
        F.coalesce("reach_1", F.lit(0)).cast("long").alias("reach_1"),
        F.coalesce("reach_2", F.lit(0)).cast("long").alias("reach_2"),
        nan.alias("cross_influence"),
        *[name for name, _ in activity],
        "referrals_sent", "referrals_converted", "referral_downstream", "referral_depth",
        "referral_value", "downstream_conversions", "downstream_value", "referred_by",
        *[f"sent_{t}" for t in types],
        *(["expected_influence", SCORE_TEXT] if SCORE_TEXT in kept else []),
        *([nan.alias("expected_spread"), nan.alias("expected_spread_se"),
           F.lit(None).cast("long").alias("propagator_rank")] if i.spread else []),
        "_cycle_days", *(["_cohort_month"] if has_time else []))
    if i.attributes is not None and i.attributes.shape[1] > 1:
        attrs = i.attributes
        clash = {c: f"attribute_{c}" for c in attrs.columns if c != CUSTOMER_ID and (
            c in frame.columns or is_computed(c) or c in ("segment", "segment_reason"))}
        table = pa.Table.from_pandas(attrs.rename(columns=clash), preserve_index=False)
        frame = frame.join(spark.createDataFrame(table), CUSTOMER_ID, "left")
    return frame


def exact_sum(frame, column: str) -> float:
    """The correctly rounded sum of a double column (``math.fsum``'s value), in any
    order: each partition sums its distinct values exactly as fractions, the driver
    adds one fraction per partition."""
    def sums(batches):
        total = Fraction(0)
        for batch in batches:
            values = batch.column(0).to_numpy(zero_copy_only=False)
            values = values[~np.isnan(values)]
            distinct, counts = np.unique(values, return_counts=True)
            total += sum((Fraction(float(v)) * int(c) for v, c in zip(distinct, counts)),
                         Fraction(0))
        yield pa.RecordBatch.from_arrays(
            [pa.array([str(total.numerator)]), pa.array([str(total.denominator)])],
            names=["num", "den"])

    got = frame.select(column).mapInArrow(sums, "num string, den string").collect()
    total = sum((Fraction(int(r["num"]), int(r["den"])) for r in got), Fraction(0))
    return float(total)


def finish_on_executors(spark, inputs: ExecutorInputs, run, config: AnalysisConfig,
                        clock, *, parts_dir: str | None = None):
    """Rank, segments, profiles, K-factor and the customers' part files, on the
    executors; the manifest on the driver. ``run`` is the engine's
    :class:`~influence.engine.EngineRun` without per-customer tables (accounting,
    stages, forest counts, cascades, community sums). Returns the
    :class:`~influence.result.Analysis`."""
    from ..pipeline import finished_manifest
    from ..result import PART_ROWS, Analysis, CustomerParts
    from ..segments import check_rule_columns, plan_rules, suppress_segments
    from .finish import finish_segments, rank_customers, segment_profiles, write_customers
    from .profiles import community_profiles_frame, kfactor_frame

    check_rule_columns(config.segments, types=config.types,
                       attributes=() if run.attributes is None else run.attributes.columns)
    with clock.stage("rank"):
        frame = customer_frame(spark, inputs, config).localCheckpoint(eager=True)
        ranked = rank_customers(frame, n=inputs.n)
    propagators = None
    if run.propagation is not None:
        propagators = {"skipped": run.propagation.skipped}
    with clock.stage("segments"):
        got = finish_segments(ranked, config.segments, has_timestamps=inputs.has_time,
                              end=run.accounting.end)
        customers = got.customers.localCheckpoint(eager=True)
        plans = plan_rules(config.segments, set(customers.columns))
        segment_order = [cast(str, p.rule.segment) for p in plans] + [config.segments.default]
        segment_names = list(dict.fromkeys(segment_order))
        kfactor = kfactor_frame(customers, has_converted=inputs.has_converted, groups={
            "community": "community", "segment": "segment",
            **({"cohort_month": "_cohort_month"} if inputs.has_time else {})})
    with clock.stage("profiles"):
        profiles = community_profiles_frame(customers, run.community_sums,
                                            segment_names=segment_names)
        segments = segment_profiles(customers, min_segment_size=config.privacy.min_segment_size,
                                    order=segment_order)
        kfactor, profiles = suppress_segments(segments, kfactor=kfactor, communities=profiles)
        attributes = _attribute_names(inputs.attributes, frame.columns)
        keep = tempfile.TemporaryDirectory(prefix="influence-customers-", dir=parts_dir)
        folder = f"{keep.name}/customers"
        write_customers(customers, folder, by_type=tuple(f"sent_{t}" for t in inputs.types),
                        attributes=attributes, part_rows=PART_ROWS)
        names = sorted(p.name for p in Path(folder).glob("part-*.parquet"))
    run = dataclasses.replace(run, total_weight=exact_sum(customers, "out_strength"))
    manifest = finished_manifest(run, config, plans=plans, segments=segments, kfactor=kfactor,
                                 attribute_columns=attributes, propagators=propagators,
                                 caps=got.caps, timings=clock.timings)
    assert profiles is not None  # suppress_segments returns the communities it was given
    community_columns = list(COMMUNITY_COLUMNS) + [f"share_{name}" for name in segment_names]
    return Analysis(customers=None, communities=profiles[community_columns], manifest=manifest,
                    graph=None, segments=segments, cascades=run.cascades, kfactor=kfactor,
                    customer_parts=CustomerParts(folder, names, keep=keep))


def _attribute_names(attributes: pd.DataFrame | None, columns) -> list[str]:
    """The customers-table attributes as the frame names them (``attribute_<name>``
    where a name clashes), in the table's order."""
    if attributes is None or attributes.shape[1] <= 1:
        return []
    present = set(columns)
    return [name for name in (f"attribute_{c}" if f"attribute_{c}" in present else c
                              for c in attributes.columns if c != CUSTOMER_ID)
            if name in present]

