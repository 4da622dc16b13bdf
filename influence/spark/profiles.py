"""``kfactor.csv`` and ``communities.csv`` from a per-customer Spark DataFrame (issue 17).

With the hand-off off (``[spark] driver_edges_max = 0``) no per-customer array
may come to the driver. The two tables the local finish makes from such arrays,
:func:`influence.reach.cascades.kfactor_table` and
:func:`influence.communities.profiles_from_sums`, are here aggregations on the
executors: one Spark job each, one row per (group, key) or per community to
the driver, then the local code's own table builders
(:func:`~influence.reach.cascades.kfactor_from_sums`,
:func:`~influence.communities.profiles_from_counts`), so the columns, dtypes and
derived rates are the local ones by construction. Equal to the local functions
on generated data (tested: counts and strings exactly, floats to 1e-12).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..communities import profiles_from_counts
from ..reach.cascades import kfactor_from_sums

__all__ = ["kfactor_frame", "community_profiles_frame", "KFACTOR_GROUPS", "CYCLE_DAYS"]

#: The K-factor's group columns, in the local order (each where present).
KFACTOR_GROUPS = ("community", "segment", "cohort_month")
#: Per-customer cycle time in days (NaN or null where none), as
#: :func:`influence.reach.cascades.cycle_days`.
CYCLE_DAYS = "_cycle_days"


def _key(frame, column: str):
    """``column`` as the string ``str(value)`` gives on the driver; null where the
    local code's ``pd.notna`` drops it (null, and NaN in a floating column)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    kind = frame.schema[column].dataType
    value = F.col(column)
    if isinstance(kind, T.StringType):
        return value
    if isinstance(kind, T.BooleanType):
        return F.when(value, F.lit("True")).when(~value, F.lit("False"))
    if isinstance(kind, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return value.cast("string")
    if isinstance(kind, (T.FloatType, T.DoubleType)):
        # Spark writes 3.0 as Python does, but not large or tiny values (1.0E20): the
        # group keys are integers and strings; a float key is refused, not mis-spelled
        raise TypeError(f"K-factor group column {column!r} is floating point; "
                        "give community numbers as integers")
    return value.cast("string")


def kfactor_frame(customers, *, groups: Sequence[str] | Mapping[str, str] = KFACTOR_GROUPS,
                  has_converted: bool) -> pd.DataFrame:
    """:func:`influence.reach.cascades.kfactor_table` of a per-customer Spark DataFrame.

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        One row per customer: ``referrals_sent``, ``referrals_converted`` (read only
        with ``has_converted``), ``_cycle_days`` (double, NaN or null where none) and
        the group columns.
    groups : sequence of str, or mapping of str to str
        Group columns, in the table's order, or group name -> column (e.g.
        ``{"cohort_month": "_cohort_month"}``); those ``customers`` lacks are left out
        (the local finish groups by ``community``, ``segment`` and, with timestamps,
        ``cohort_month``). Integer, string or boolean columns (a floating-point one
        raises ``TypeError``: Spark does not spell doubles as ``str`` does).
    has_converted : bool
        Whether the events have a ``converted`` column (without it conversions and
        rates are NaN).

    Returns
    -------
    pandas.DataFrame
        ``KFACTOR_COLUMNS``: the ``overall``/``all`` row (also when nobody referred),
        then each group's keys in ``str`` order; the same rows, dtypes and values as
        the local function given the same arrays.

    Notes
    -----
    One Spark job: the referrers (``referrals_sent > 0``) are exploded into one row
    per group they belong to, ``(group, str(key))``, and aggregated once (count,
    exact integer sums, and the two middle values of the non-NaN cycle times, each
    an exact ``percentile_disc(0.5)``, ascending and descending). The median is their
    mean ``(a + b) / 2`` taken on the driver, as the local code does, so it is the
    local one bit for bit (Spark's ``median`` interpolates and can differ in the last
    bit). Missing keys (null) are dropped from their group, as locally. One row per
    (group, key) comes to the driver.
    """
    from pyspark.sql import functions as F

    columns = dict(groups) if isinstance(groups, Mapping) else {g: g for g in groups}
    present = {g: c for g, c in columns.items() if c in customers.columns}
    sent = F.col("referrals_sent").cast("long")
    converted = (F.col("referrals_converted").cast("long") if has_converted
                 else F.lit(0).cast("long"))
    cycle = F.col(CYCLE_DAYS).cast("double")
    memberships = [F.struct(F.lit("overall").alias("g"), F.lit("all").alias("k"))]
    memberships += [F.struct(F.lit(g).alias("g"), _key(customers, c).alias("k"))
                    for g, c in present.items()]
    rows = (customers.where(sent > 0)
            .select(sent.alias("i"), converted.alias("c"),
                    F.when(~F.isnan(cycle), cycle).alias("t"),
                    F.explode(F.array(*memberships)).alias("m"))
            .where(F.col("m.k").isNotNull())
            .groupBy(F.col("m.g").alias("g"), F.col("m.k").alias("k"))
            .agg(F.count(F.lit(1)).alias("referrers"), F.sum("i").alias("invites"),
                 F.sum("c").alias("conversions"),
                 F.expr("percentile_disc(0.5) WITHIN GROUP (ORDER BY t)").alias("low"),
                 F.expr("percentile_disc(0.5) WITHIN GROUP (ORDER BY t DESC)").alias("high"))
            .toArrow().to_pylist())
    by_group: dict[str, list[dict]] = {"overall": [], **{g: [] for g in present}}
    for row in rows:
        by_group[row["g"]].append(row)
    if not by_group["overall"]:
        by_group["overall"] = [{"g": "overall", "k": "all", "referrers": 0, "invites": 0,
                                "conversions": 0, "low": None, "high": None}]
    ordered = [row for g in by_group for row in sorted(by_group[g], key=lambda r: r["k"])]
    return kfactor_from_sums(
        [r["g"] for r in ordered], [r["k"] for r in ordered],
        np.array([r["referrers"] for r in ordered], dtype=np.int64),
        np.array([r["invites"] for r in ordered], dtype=np.int64),
        np.array([r["conversions"] or 0 for r in ordered], dtype=np.int64),
        np.array([np.nan if r["low"] is None else (r["low"] + r["high"]) / 2
                  for r in ordered], dtype=np.float64),
        has_conversions=has_converted)


def community_profiles_frame(customers, sums: pd.DataFrame, *, top: int = 5,
                             segment_names: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`influence.communities.profiles_from_sums` of a per-customer Spark DataFrame.

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        One row per customer: ``community`` (integer, ``0 .. n - 1`` each with a
        member), ``influence_rank``, ``customer_id`` and, for the shares, ``segment``.
    sums : pandas.DataFrame
        The per-community edge sums (:func:`influence.communities.community_edge_sums`
        or the engine's executor sums), one row per community.
    top : int
        Members in ``top_members``.
    segment_names : sequence of str
        A ``share_<segment>`` column each, in this order (6 decimals).

    Returns
    -------
    pandas.DataFrame
        The local function's table: size, density, leader (best rank), top members
        (``;``-joined in rank order), dominant type, shares.

    Raises
    ------
    ValueError
        When the community numbers are not ``0 .. len(sums) - 1`` each with a member.

    Notes
    -----
    One Spark job: ``row_number`` over each community by ``influence_rank`` (ties,
    which the local ranks do not have, by ``customer_id``), then one aggregate by
    community: the size, the segment counts and the ids numbered ``<= max(top, 1)``.
    One row per community, with at most ``top`` ids, comes to the driver.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keep = max(top, 1)
    by_rank = Window.partitionBy("community").orderBy(F.col("influence_rank").asc(),
                                                      F.col("customer_id").asc())
    names = list(dict.fromkeys(segment_names))
    numbered = customers.select(
        F.col("community").cast("long").alias("community"),
        F.col("influence_rank"), F.col("customer_id").cast("string").alias("customer_id"),
        *([F.col("segment").cast("string").alias("segment")] if names else [])
    ).withColumn("_n", F.row_number().over(by_rank))
    aggregates = [F.count(F.lit(1)).alias("size"),
                  F.collect_list(F.when(F.col("_n") <= keep, F.struct(
                      F.col("_n").alias("n"), F.col("customer_id").alias("id")))).alias("top")]
    aggregates += [F.count(F.when(F.col("segment") == F.lit(name), 1)).alias(f"_s{i}")
                   for i, name in enumerate(names)]
    rows = numbered.groupBy("community").agg(*aggregates).toArrow().to_pylist()
    rows.sort(key=lambda r: r["community"])
    numbers = [r["community"] for r in rows]
    if numbers != list(range(len(sums))):
        raise ValueError(f"communities must be numbered 0 .. {len(sums) - 1}, each with a "
                         f"member (as the per-community sums); got {len(rows)} numbered "
                         f"{numbers[:1]} .. {numbers[-1:]}")
    ranked = [[m["id"] for m in sorted(r["top"], key=lambda m: m["n"])] for r in rows]
    return profiles_from_counts(
        np.array([r["size"] for r in rows], dtype=np.int64),
        [ids[0] for ids in ranked], [";".join(ids[:max(top, 0)]) for ids in ranked], sums,
        segment_counts={name: np.array([r[f"_s{i}"] for r in rows], dtype=np.int64)
                        for i, name in enumerate(names)} if names else None)
