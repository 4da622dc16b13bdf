"""The global numbers of the finish, computed on the executors (issue 17, first part).

:func:`influence.pipeline.finish` computes tiers from the whole per-customer
table on the driver. Their only global input is one cut point per tier and
axis: with :func:`influence.segments.assign_tiers`' definition a customer is
``high`` when fewer than ``ceil(high_share * n)`` customers have a strictly
larger value (and its value is above zero), which is the same as its value
being at least the ``ceil(high_share * n)``-th largest value. This module finds
that k-th largest value exactly without collecting the column: an
``approxQuantile`` bracket, then one pass that counts the values above the
bracket and collects only those inside it. Tiers from these cut points are
:func:`~influence.segments.assign_tiers`' tiers exactly (tested), so a Spark
finisher can compute them with one broadcast number per tier
(``docs/architecture.md``, "The finish at cluster scale"). Not wired into the
engine yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import SegmentConfig
from ..schema import CAPPED_SEGMENTS
from ..segments import SegmentGlobals

__all__ = ["kth_largest", "tier_cuts", "tier_column", "count_before", "rank_customers",
           "finish_segments", "SegmentFinish", "segment_profiles", "write_customers", "ROW",
           "SCORE_TEXT"]

#: Relative rank error of the first bracket; widened fourfold while the k-th
#: value falls outside it (it cannot, by approxQuantile's guarantee, except for
#: rounding at the ends).
_FIRST_ERROR = 1e-3


def _values(frame, column: str):
    """``column`` as doubles, missing and NaN as 0.0 (``assign_tiers`` does the same)."""
    from pyspark.sql import functions as F

    value = F.col(column).cast("double")
    return frame.select(F.when(value.isNull() | F.isnan(value), F.lit(0.0))
                        .otherwise(value).alias("_x"))


def kth_largest(frame, column: str, k: int, *, n: int | None = None) -> float | None:
    """The ``k``-th largest value of ``column`` (1 = the maximum), exactly.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    column : str
        Numeric; missing values and NaN count as 0.0.
    k : int
    n : int, optional
        Rows of ``frame`` (counted when not given).

    Returns
    -------
    float or None
        ``None`` when ``k < 1`` or ``k > n``.

    Notes
    -----
    Two small actions whatever the size: ``approxQuantile`` for a bracket
    ``[lo, hi]`` around rank ``k`` (relative error 0.1%), then one aggregate
    that counts the values above ``hi`` and collects those inside the bracket
    (about 0.4% of the rows), sorted on the driver.
    """
    from pyspark.sql import functions as F

    values = _values(frame, column).cache()
    try:
        if n is None:
            n = values.count()
        if k < 1 or k > n:
            return None
        p = 1.0 - k / n  # the k-th largest is the (n - k + 1)-th smallest
        error = _FIRST_ERROR
        while True:
            if error >= 0.25:
                lo, hi = -math.inf, math.inf
            else:
                lo, hi = values.approxQuantile(
                    "_x", [max(0.0, p - 2 * error), min(1.0, p + 2 * error)], error)
            row = values.agg(
                F.count(F.when(F.col("_x") > F.lit(hi), 1)).alias("above"),
                F.collect_list(F.when((F.col("_x") >= F.lit(lo)) & (F.col("_x") <= F.lit(hi)),
                                      F.col("_x"))).alias("inside")).first()
            inside = sorted(row["inside"], reverse=True)
            at = k - int(row["above"]) - 1
            if 0 <= at < len(inside):
                return float(inside[at])
            error *= 4
    finally:
        values.unpersist()


def tier_cuts(frame, column: str, *, n: int, high_share: float, mid_share: float
              ) -> tuple[float | None, float | None]:
    """The smallest value of the ``high`` and of the ``mid`` tier (``None``: the tier
    holds nobody), as :func:`influence.segments.assign_tiers` counts them."""
    n_high = math.ceil(high_share * n - 1e-9)
    n_mid = math.ceil((high_share + mid_share) * n - 1e-9)
    return (kth_largest(frame, column, n_high, n=n) if n_high >= 1 else None,
            kth_largest(frame, column, n_mid, n=n) if n_mid >= 1 else None)


def tier_column(column: str, cuts: tuple[float | None, float | None]):
    """The tier of each row from :func:`tier_cuts` (a Spark column expression)."""
    from pyspark.sql import functions as F

    value = F.col(column).cast("double")
    value = F.when(value.isNull() | F.isnan(value), F.lit(0.0)).otherwise(value)
    high, mid = cuts
    tier = F.lit("low")
    if mid is not None:
        tier = F.when((value >= F.lit(mid)) & (value > 0), F.lit("mid")).otherwise(tier)
    if high is not None:
        tier = F.when((value >= F.lit(high)) & (value > 0), F.lit("high")).otherwise(tier)
    return tier


# --- the finish on the executors: ranks, globals, rows by the local code -------------

#: The row number in customer-id order (the vertex id), carried by the finisher's frames.
ROW = "_row"
#: Per-customer text of what drove the expected influence (the reasons show it).
SCORE_TEXT = "_score_text"


def _clean(value, *, missing: float):
    """``value`` as a double: null and NaN as ``missing``, -0.0 as 0.0 (one sort key)."""
    from pyspark.sql import functions as F

    value = value.cast("double")
    return (F.when(value.isNull() | F.isnan(value), F.lit(missing))
            .when(value == 0.0, F.lit(0.0)).otherwise(value))


def _partitions(frame) -> int:
    return int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions"))


def count_before(frame, keys: list[tuple[str, bool]], name: str, *,
                 partitions: int | None = None, carry: tuple = ()):
    """``frame`` (``_row`` and the key columns, no nulls) with ``name``: how many rows come
    strictly before each in the order of ``keys`` (``(column, ascending)``; equal keys
    share the count, as ``pandas.Series.rank(method="min") - 1``).

    Exact, without bringing a row to the driver: a range partitioning on the keys
    (equal keys land in one partition), the partitions' sizes (one number each) to
    the driver, then each partition counts its own rows and adds the sizes of the
    partitions before it. Returns a DataFrame of ``_row``, ``name`` (double) and the
    ``carry`` columns (key columns, passed through).
    """
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import functions as F

    order = [F.col(c).asc() if up else F.col(c).desc() for c, up in keys]
    parts = (frame.select(ROW, *[c for c, _ in keys if c != ROW])
             .repartitionByRange(partitions or _partitions(frame), *order)
             .withColumn("_p", F.spark_partition_id()).persist())
    sizes = {r["_p"]: r["count"] for r in parts.groupBy("_p").count().collect()}
    start, total = {}, 0
    for p in sorted(sizes):
        start[p] = total
        total += sizes[p]
    columns = [c for c, _ in keys]
    ascending = [up for _, up in keys]

    def count(batches):
        batches = list(batches)
        if not batches:
            return
        table = pa.Table.from_batches(batches).to_pandas()
        if table.empty:
            return
        table = table.sort_values(columns, ascending=ascending, kind="mergesort")
        values = table[columns].to_numpy()
        new = np.ones(len(table), dtype=bool)
        new[1:] = (values[1:] != values[:-1]).any(axis=1)
        position = np.arange(len(table))
        first = np.maximum.accumulate(np.where(new, position, 0))
        offset = start[int(table["_p"].iloc[0])]
        yield pa.RecordBatch.from_arrays(
            [pa.array(table[ROW].to_numpy(np.int64)),
             pa.array((first + offset).astype(np.float64)),
             *[pa.array(table[c].to_numpy()) for c in carry]],
            names=[ROW, name, *carry])

    types = dict(parts.dtypes)
    out = parts.mapInArrow(count, ", ".join([f"{ROW} long", f"{name} double"]
                                            + [f"{c} {types[c]}" for c in carry])).persist()
    out.count()
    parts.unpersist()
    return out


def _active(frame):
    from pyspark.sql import functions as F

    active = F.coalesce(F.col("events_sent").cast("double"), F.lit(0.0))
    if "events_received" in frame.columns:
        active = active + F.coalesce(F.col("events_received").cast("double"), F.lit(0.0))
    return active > 0


def _rank_spec(frame, kind: str, column: str, name: str):
    """One rank column of :func:`influence.segments.rank_column`: (name, rows, value,
    ascending) for :func:`_with_counts`."""
    from pyspark.sql import functions as F

    if kind == "tier":
        value = F.when(_active(frame), _clean(F.col(column), missing=0.0)).otherwise(0.0)
        return name, frame, value, False
    if kind == "top":  # missing values last
        return name, frame, _clean(F.col(column), missing=-math.inf), False
    raw = F.col(column).cast("double")
    among = frame.filter(_active(frame) & raw.isNotNull() & ~F.isnan(raw))
    return name, among, _clean(F.col(column), missing=0.0), True


def _with_counts(frame, specs):
    """``frame`` with one column per spec ``(name, rows, value, ascending)``: for each
    row of ``rows`` (``frame`` or a filter of it), how many rows of ``rows`` have a
    strictly larger (smaller, ``ascending``) ``value``; missing outside ``rows``.

    All in one range-partitioned pass (:func:`count_before` on ``(spec, value)``,
    the values of descending specs negated), then one aggregate back to a row per
    customer; the result is checkpointed (its lineage cut)."""
    from functools import reduce

    from pyspark.sql import functions as F

    if not specs:
        return frame
    pieces = []
    for i, (_, rows, value, ascending) in enumerate(specs):
        v = value if ascending else -value
        v = F.when(v == 0.0, F.lit(0.0)).otherwise(v)  # -0.0 sorts as 0.0
        pieces.append(rows.select(F.lit(i).alias("_k"), ROW, v.alias("_v")))
    long = reduce(lambda a, b: a.unionByName(b), pieces)
    sizes = {r["_k"]: r["count"] for r in long.groupBy("_k").count().collect()}
    offsets, total = {}, 0
    for i in range(len(specs)):
        offsets[i] = total
        total += sizes.get(i, 0)
    ranked = count_before(long, [("_k", True), ("_v", True)], "_b", carry=("_k",))
    offset = F.lit(0.0)
    for i, start in offsets.items():
        offset = F.when(F.col("_k") == i, F.lit(float(start))).otherwise(offset)
    wide = (ranked.withColumn("_b", F.col("_b") - offset).groupBy(ROW)
            .agg(*[F.max(F.when(F.col("_k") == i, F.col("_b"))).alias(name)
                   for i, (name, *_) in enumerate(specs)]))
    out = frame.join(wide, on=ROW, how="left").localCheckpoint(eager=True)
    ranked.unpersist()
    return out


def _with_ranks(frame, specs):
    """``frame`` with the rank columns ``specs`` (``(kind, column, name)``)."""
    return _with_counts(frame, [_rank_spec(frame, *spec) for spec in specs])


def _with_values_ranked(frame, values: dict):
    """``frame`` with, per name, how many rows have a strictly larger value of the
    expression (null-free doubles)."""
    return _with_counts(frame, [(name, frame, value, False) for name, value in values.items()])


def _with_ascending(frame, columns: dict):
    """``frame`` with, per name, how many rows have a strictly smaller value of the
    column (as ``pandas.Series.rank(method="min") - 1``)."""
    from pyspark.sql import functions as F

    return _with_counts(frame, [(name, frame, _clean(F.col(c), missing=math.inf), True)
                                for name, c in columns.items()])


def _map_rows(frame, fn, added: list[tuple[str, str]]):
    """``frame.mapInArrow``: every input column kept as it is, ``added`` (name, Spark
    type) computed by ``fn(pandas table) -> dict of arrays`` on each Arrow batch."""
    import pyarrow as pa
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    kept = [f for f in frame.schema.fields if f.name not in {n for n, _ in added}]
    schema = StructType(kept + [StructField(n, _parse_datatype_string(t), True)
                                for n, t in added])
    arrow_types = {"string": pa.string(), "double": pa.float64(), "long": pa.int64()}
    names = [f.name for f in kept]

    def run(batches):
        for batch in batches:
            if batch.num_rows == 0:
                continue
            got = fn(batch.to_pandas())
            arrays = [batch.column(batch.schema.get_field_index(n)) for n in names]
            for n, t in added:
                values = got[n]
                arrays.append(pa.array(list(values) if t == "string" else values,
                                       type=arrow_types[t], from_pandas=True))
            yield pa.RecordBatch.from_arrays(arrays, names=names + [n for n, _ in added])

    return frame.mapInArrow(run, schema)


@dataclass(frozen=True)
class SegmentFinish:
    """What :func:`finish_segments` returns.

    Attributes
    ----------
    customers : pyspark.sql.DataFrame
        The input's columns with the RFM tiers, the tiers, ``tenure_days``,
        ``influence_rate``, ``segment`` and ``segment_reason`` (``_row`` kept).
    caps : dict
        The manifest's record of the caps (as :func:`influence.segments.assign_segments`'
        ``attrs["caps"]``).
    globals : SegmentGlobals
    """

    customers: Any
    caps: dict
    globals: SegmentGlobals


def finish_segments(frame, config: SegmentConfig, *, has_timestamps: bool,
                    end: pd.Timestamp | None = None) -> SegmentFinish:
    """RFM tiers, tiers, segments and reasons of a per-customer Spark DataFrame, with
    the local engine's code and without bringing a customer to the driver.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        One row per customer: the ranked metrics (``influence_score``,
        ``influence_rank``, ...), customer attributes named as the rules read them,
        ``_row`` (the row number in customer-id order) and optionally ``_score_text``
        (what drove the expected influence, shown in the reasons).
    config : SegmentConfig
    has_timestamps : bool
    end : pandas.Timestamp, optional
        The analysis end date (``tenure_days``); else the latest ``last_active``.

    Returns
    -------
    SegmentFinish

    Notes
    -----
    What depends on the whole table is computed on the executors and comes to
    the driver as a few numbers: the ranks behind the tiers, ``top N%`` and
    ``pct()`` (:func:`count_before`, exact; all rank columns of a stage in one
    range-partitioned pass), the counts of
    :class:`~influence.segments.SegmentGlobals`, the end date and each capped
    rule's cut point (one probe pass, plus one after each rule whose cap binds:
    the rules run on each partition, then the position of the last kept row).
    The rows are then finished by :func:`influence.segments.segment_rows` and
    :func:`influence.lifecycle.rfm_tiers` in ``mapInArrow``, so tiers, segments
    and reason texts are the local engine's, character for character.
    """
    from pyspark.sql import functions as F

    from ..lifecycle import rfm_axes, rfm_tiers
    from ..segments import (
        _TIME_COLUMNS,
        _tier_axes,
        plan_rules,
        rank_column,
        rank_needs,
        segment_inputs,
        segment_rows,
    )

    temporary = []
    columns = frame.columns
    n = frame.count()
    if end is None and "first_active" in columns and "last_active" in columns \
            and has_timestamps:
        latest = frame.agg(F.max(F.unix_micros(F.col("last_active")))).first()[0]
        end = None if latest is None else pd.Timestamp(latest, unit="us", tz="UTC")

    # RFM: the value basis (the first referral column not all missing), then its ranks
    basis = None
    candidates = [c for c in ("referral_value", "referrals_converted", "referrals_sent")
                  if c in columns]
    if candidates:
        present = frame.agg(*[F.count(F.when(~F.isnan(F.col(c).cast("double")), 1)).alias(c)
                              for c in candidates]).first()
        basis = next((c for c in candidates if present[c] > 0), None)
    rfm_values = {"rfm_value": _clean(F.col(basis), missing=0.0) if basis else F.lit(0.0)}
    if has_timestamps:
        recency = F.col("recency_days").cast("double")
        rfm_values = {
            "rfm_recency": F.when(recency.isNull() | F.isnan(recency), F.lit(0.0))
            .otherwise(F.lit(1.0) / (F.lit(1.0) + recency)),
            "rfm_frequency": _clean(F.col("frequency"), missing=0.0), **rfm_values}
    frame = _with_values_ranked(frame, {f"_above_{name}": value
                                        for name, value in rfm_values.items()})
    rfm_names = list(rfm_values) + (["rfm_code"] if has_timestamps else [])
    seg = config

    def inputs(table):
        value = (table[basis].to_numpy(float) if basis else np.zeros(len(table)))
        axes = rfm_axes(table, has_timestamps, value=value)
        rfm = rfm_tiers(table, seg, has_timestamps, value=value, n=n,
                        above={a: table[f"_above_{a}"].to_numpy(float) for a in axes})
        got = {c: rfm[c].to_numpy(dtype=object) for c in rfm_names}
        derived = segment_inputs(table, has_timestamps, end=end)
        for c in ("tenure_days", "influence_rate"):
            if c in derived.columns:
                got[c] = derived[c].to_numpy(dtype=np.float64)
        return got

    added = [(c, "string") for c in rfm_names]
    probe = segment_inputs(pd.DataFrame({c: pd.Series(dtype=float) for c in columns}),
                           has_timestamps, end=end)
    added += [(c, "double") for c in ("tenure_days", "influence_rate") if c in probe.columns]
    frame = _map_rows(frame, inputs, added)
    frame = frame.drop(*[f"_above_{a}" for a in rfm_values])

    rule_columns = [c for c in frame.columns if c not in (ROW, SCORE_TEXT)
                    and not (not has_timestamps and c in _TIME_COLUMNS)]
    needs = rank_needs(rule_columns, seg)
    frame = _with_ranks(frame, [(k, c, rank_column(k, c)) for k, c in needs])
    temporary.append(frame)

    active = _active(frame)
    aggregates = [F.count(F.when(active, 1)).alias("active")]
    pct = [c for k, c in needs if k == "pct"]
    aggregates += [F.count(F.col(rank_column("pct", c))).alias(c) for c in pct]
    row = frame.agg(*aggregates).first()
    globals_ = SegmentGlobals(n=n, active=int(row["active"]),
                              pct_counts={c: int(row[c]) for c in pct}, cap_cuts={}, caps={})

    def rows_of(table, probe=None, cuts=None):
        text = table.pop(SCORE_TEXT).to_numpy(dtype=object) if SCORE_TEXT in table else None
        table = segment_inputs(table, has_timestamps, end=end)
        g = SegmentGlobals(globals_.n, globals_.active, globals_.pct_counts,
                           cap_cuts=cuts, caps={})
        return segment_rows(table, seg, g, score_text=text, probe=probe)

    # the capped rules' cut points, in rule order (each depends on the ones before)
    plans = plan_rules(seg, set(rule_columns) | set(_tier_axes(rule_columns)))
    cap = int(np.floor(seg.max_share * globals_.active + 1e-9))
    cuts: dict = {}
    caps: dict = {}
    pending = [p for p in plans if not p.skipped and p.rule.segment in CAPPED_SEGMENTS]
    while pending:
        # one pass gives every pending rule's eligible rows, right up to the first
        # rule whose cap binds; after its cut point the rest are probed again
        probed = frame.mapInArrow(_probe(rows_of, [p.rule.name for p in pending],
                                         dict(cuts)), "rule string, key double, row long")
        probed = probed.persist()
        counts = {r["rule"]: r["count"] for r in probed.groupBy("rule").count().collect()}
        rest: list = []
        for i, plan in enumerate(pending):
            name = plan.rule.name
            count = counts.get(name, 0)
            if count == 0:
                continue
            record = caps.setdefault(plan.rule.segment, {"eligible": 0, "kept": 0})
            record["eligible"] += count
            room = max(cap - record["kept"], 0)
            record["kept"] += min(count, room)
            if count > room:
                if room == 0:
                    cuts[name] = (-math.inf, -1)
                else:
                    mine = (probed.filter(F.col("rule") == name)
                            .select(F.col("row").alias(ROW), "key"))
                    at = count_before(mine, [("key", True), (ROW, True)], "_at")
                    last = at.filter(F.col("_at") == float(room - 1)).join(mine, on=ROW).first()
                    cuts[name] = (float(last["key"]), int(last[ROW]))
                    at.unpersist()
                rest = pending[i + 1:]
                break
        probed.unpersist()
        pending = rest
    globals_ = SegmentGlobals(globals_.n, globals_.active, globals_.pct_counts,
                              cap_cuts=cuts, caps=caps)

    tier_names = list(_tier_axes(rule_columns))
    out_columns = ["segment", "segment_reason", *tier_names]

    def finish(table):
        got = rows_of(table, cuts=cuts)
        return {c: got[c].to_numpy(dtype=object) for c in out_columns}

    customers = _map_rows(frame, finish, [(c, "string") for c in out_columns])
    customers = customers.drop(*[rank_column(k, c) for k, c in needs])
    if SCORE_TEXT in customers.columns:
        customers = customers.drop(SCORE_TEXT)
    customers = customers.persist()
    customers.count()
    for t in temporary:
        t.unpersist()
    record = {"max_share": seg.max_share, "customers_with_events": globals_.active,
              "cap": cap, "segments": caps}
    return SegmentFinish(customers=customers, caps=record, globals=globals_)


def _probe(rows_of, names: list[str], cuts: dict):
    """The ``mapInArrow`` function of the capped rules' probe: their eligible rows."""
    import pyarrow as pa

    def run(batches):
        for batch in batches:
            if batch.num_rows == 0:
                continue
            got = rows_of(batch.to_pandas(), probe=names, cuts=cuts)
            if len(got) == 0:
                continue
            yield pa.RecordBatch.from_arrays(
                [pa.array(got["rule"].astype(object).tolist(), type=pa.string()),
                 pa.array(got["key"].to_numpy(np.float64)),
                 pa.array(got["row"].to_numpy(np.int64))], names=["rule", "key", "row"])

    return run


def rank_customers(frame, *, n: int | None = None):
    """``influence_score`` and ``influence_rank`` of a per-customer Spark DataFrame, as
    :func:`influence.pipeline.rank_customers` computes them, on the executors.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        ``_row`` (customer-id order), ``pagerank``, ``out_strength`` and, with
        timestamps, ``expected_influence`` (the score is then its percentile).
    n : int, optional
        Rows of ``frame``.

    Returns
    -------
    pyspark.sql.DataFrame
        ``frame`` with ``influence_score`` (double) and ``influence_rank`` (long),
        checkpointed.

    Notes
    -----
    The percentiles are ``count_before`` ranks (exact); the rounding (to 15
    decimals for PageRank, 6 for the score) is numpy's, per row in
    ``mapInArrow``, so the scores are the local engine's bit for bit. The rank is
    the position in the order (expected influence, composite score, both
    descending, then customer id).
    """
    from pyspark.sql import functions as F

    if n is None:
        n = frame.count()
    expected = "expected_influence" in frame.columns
    denominator = float(max(n - 1, 1))
    frame = _map_rows(frame, lambda t: {"_pr15": np.round(t["pagerank"].to_numpy(float), 15)},
                      [("_pr15", "double")])
    frame = _with_ascending(frame, {"_below_pr": "_pr15", "_below_out": "out_strength",
                                    **({"_below_exp": "expected_influence"}
                                       if expected else {})})

    def scores(table):
        # influence.metrics.influence_score's arithmetic on the executors' ranks
        # (percentile = below / (n - 1); n <= 1 gives 0 as there)
        pct_pr = table["_below_pr"].to_numpy(float) / denominator
        pct_out = table["_below_out"].to_numpy(float) / denominator
        if n <= 1:
            pct_pr = pct_out = np.zeros(len(table))
        composite = np.round((pct_pr + pct_out) / 2.0, 6)
        got = {"_composite": composite}
        if expected:
            got["influence_score"] = (np.zeros(len(table)) if n <= 1 else np.round(
                table["_below_exp"].to_numpy(float) / denominator, 6))
        else:
            got["influence_score"] = composite
        return got

    frame = _map_rows(frame, scores, [("_composite", "double"), ("influence_score", "double")])
    keys = ([("_e", False)] if expected else []) + [("_c", False), (ROW, True)]
    keyed = frame.select(ROW, *([_clean(F.col("expected_influence"), missing=-math.inf)
                                 .alias("_e")] if expected else []),
                         F.col("_composite").alias("_c"))
    position = count_before(keyed, keys, "_position")
    out = (frame.join(position, on=ROW)
           .withColumn("influence_rank", (F.col("_position") + 1).cast("long"))
           .drop("_position", "_composite", "_pr15", "_below_pr", "_below_out",
                 *(["_below_exp"] if expected else [])))
    out = out.localCheckpoint(eager=True)
    position.unpersist()
    return out


def segment_profiles(customers, *, min_segment_size: int = 1, order=None) -> pd.DataFrame:
    """:func:`influence.segments.segment_profiles` of a Spark DataFrame, from one
    aggregate by segment (sizes, exact medians, referral sums): a table with one row
    per segment comes to the driver, no customer.

    The medians are Spark's exact ``median`` (the middle value, or the midpoint of
    the two middle values, as pandas): equal to the local ones up to the last bit of
    the midpoint's rounding.
    """
    from pyspark.sql import functions as F

    from ..segments import _MEDIANS, profile_table

    columns = set(customers.columns)
    referral = {"referrals_sent", "referrals_converted"} <= columns
    aggregates = [F.count(F.lit(1)).alias("size")]
    metrics = [m for m in _MEDIANS if m in columns]
    for metric in metrics:
        value = F.col(metric).cast("double")
        aggregates.append(F.median(F.when(~F.isnan(value), value)).alias(metric))
    if referral:
        sent = F.coalesce(F.when(~F.isnan(F.col("referrals_sent").cast("double")),
                                 F.col("referrals_sent").cast("double")), F.lit(0.0))
        converted = F.coalesce(F.when(~F.isnan(F.col("referrals_converted").cast("double")),
                                      F.col("referrals_converted").cast("double")),
                               F.lit(0.0))
        aggregates += [F.count(F.when(sent > 0, 1)).alias("_referrers"),
                       F.sum(sent).alias("_sent"), F.sum(converted).alias("_converted")]
    got = customers.groupBy(F.col("segment").cast("string").alias("segment")) \
        .agg(*aggregates).toArrow().to_pylist()
    total = sum(r["size"] for r in got)
    rows = []
    for r in got:
        row: dict = {"segment": r["segment"], "size": r["size"],
                     "share": r["size"] / max(total, 1),
                     "suppressed": r["size"] < min_segment_size}
        for metric in metrics:
            row[f"median_{metric}"] = np.nan if r[metric] is None else float(r[metric])
        if referral:
            referrers, sent_sum = int(r["_referrers"]), float(r["_sent"])
            per = sent_sum / referrers if referrers else np.nan
            rate = float(r["_converted"]) / sent_sum if sent_sum > 0 else np.nan
            row.update(referrers=referrers, invites_per_referrer=per, conversion_rate=rate,
                       k_factor=per * rate if referrers and sent_sum > 0 else np.nan)
        rows.append(row)
    return profile_table(rows, order=order)


#: Row-group size of the customers' part files (bytes, before compression).
_ROW_GROUP_BYTES = 2 * 2**20


def write_customers(customers, folder, *, by_type=(), attributes=(),
                    part_rows: int | None = None) -> list[str]:
    """Write the finished customers as a Parquet dataset of part files, by the executors.

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        :func:`finish_segments`' ``customers``.
    folder : str or path
        A folder that does not exist yet (any Spark file system).
    by_type : sequence of str
        The ``sent_<type>`` columns, in order (as :func:`influence.columns.customer_order`).
    attributes : sequence of str
        Customers-table attributes, written last in this order.
    part_rows : int, optional
        About how many rows a part file holds at most (the parts are at least the
        shuffle partitions): what reads one part at a time needs memory for this
        many rows, whatever the number of customers.

    Returns
    -------
    list of str
        The columns, in the order written: the local engine's ``customers`` order.

    Notes
    -----
    The rows are range-partitioned by ``influence_rank`` and sorted within each
    part, so the parts in name order (``part-00000-...``) hold the customers sorted
    by rank, as ``customers.parquet`` does. Timestamps are written as microseconds
    (UTC); row groups are about 2 MiB, so a reader needs memory for one of them.
    """
    from pyspark.sql import functions as F

    from ..columns import customer_order

    attributes = [c for c in attributes if c in customers.columns]
    computed = [c for c in customers.columns if c not in attributes and not c.startswith("_")]
    columns = customer_order(computed, by_type=by_type) + attributes
    spark = customers.sparkSession
    parts = _partitions(customers)
    if part_rows:
        parts = max(parts, math.ceil(customers.count() / part_rows))
    previous = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    try:
        (customers.select(*columns)
         .repartitionByRange(parts, F.col("influence_rank"))
         .sortWithinPartitions("influence_rank")
         # small row groups: a reader holds one row group, not a whole part
         .write.mode("errorifexists").option("parquet.block.size", _ROW_GROUP_BYTES)
         .parquet(str(folder)))
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", previous)
    return columns
