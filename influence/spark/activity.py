"""Per-customer aggregates of the events as DataFrame jobs: activity, events by
type, the lifecycle windows and referral counts.

The event-scale work of :func:`influence.metrics.activity_metrics`,
:func:`influence.metrics.events_by_type`, :func:`influence.lifecycle.lifecycle_stages`
and :func:`influence.reach.referral_metrics`: counts, first and last times and
window counts per customer. The per-customer formulas on top of them (recency,
frequency, lifecycle rules) run on the driver (:mod:`influence.spark.customers`).
Times are nanoseconds since the epoch, as in the local engine.
"""

from __future__ import annotations

from ..config import LifecycleConfig

__all__ = ["by_source", "by_target", "contacts", "active_days", "first_seen", "DAY_NS"]

DAY_NS = 86_400 * 10**9


def _day_of(column: str):
    """UTC day number of a nanosecond timestamp column (exact integer floor division)."""
    from pyspark.sql import functions as F

    return F.expr(f"({column} - pmod({column}, {DAY_NS})) div {DAY_NS}")


def by_source(coded, types: list[str], end_ns: int | None, lifecycle: LifecycleConfig,
              has_value: bool, has_converted: bool):
    """One row per customer who sent an event.

    Columns: ``vid``, ``events_sent``, ``sent_<type>`` for each of ``types``,
    ``first_ns``, ``last_ns`` (timestamps only), ``n_recent``, ``n_before`` (events
    sent in the two lifecycle windows), ``referrals_sent``, ``referrals_converted``,
    ``referral_value`` (added from 0.0 in ascending order, like
    :func:`influence.arrays.sum_by_group`),
    ``first_referral_ns``.
    """
    from pyspark.sql import functions as F

    referral = (F.col("kind") == "referral") & F.col("t").isNotNull()
    aggs = [F.count(F.lit(1)).alias("events_sent")]
    aggs += [F.sum((F.col("kind") == name).cast("long")).alias(f"sent_{name}") for name in types]
    aggs += [F.sum(referral.cast("long")).alias("referrals_sent")]
    if has_converted:
        aggs.append(F.sum((referral & F.coalesce(F.col("conv"), F.lit(False))).cast("long"))
                    .alias("referrals_converted"))
    if has_value:
        value = F.when(F.isnan("val") | F.col("val").isNull(), F.lit(0.0)).otherwise(F.col("val"))
        ordered = F.array_sort(F.collect_list(F.when(referral, value)))
        aggs.append(sum_values(ordered).alias("referral_value"))
    if end_ns is not None:
        window = lifecycle.recent_days * DAY_NS
        ts = F.col("ts_ns")
        aggs += [F.min("ts_ns").alias("first_ns"), F.max("ts_ns").alias("last_ns"),
                 F.sum(((ts > F.lit(end_ns - window)) & (ts <= F.lit(end_ns))).cast("long"))
                 .alias("n_recent"),
                 F.sum(((ts > F.lit(end_ns - 2 * window)) & (ts <= F.lit(end_ns - window)))
                       .cast("long")).alias("n_before"),
                 F.min(F.when(referral, ts)).alias("first_referral_ns")]
    return coded.groupBy(F.col("s").alias("vid")).agg(*aggs)


def sum_values(ordered):
    from pyspark.sql import functions as F

    return F.aggregate(ordered, F.lit(0.0), lambda acc, x: acc + x)


def by_target(coded):
    """``vid``, ``events_received`` of customers who were the target of an event."""
    from pyspark.sql import functions as F

    return (coded.filter(F.col("t").isNotNull()).groupBy(F.col("t").alias("vid"))
            .agg(F.count(F.lit(1)).alias("events_received")))


def contacts(coded):
    """``vid``, ``distinct_contacts``: distinct counterparts in either role."""
    from pyspark.sql import functions as F

    pairs = coded.filter(F.col("t").isNotNull()).select("s", "t")
    both = (pairs.select(F.col("s").alias("vid"), F.col("t").alias("other"))
            .unionByName(pairs.select(F.col("t").alias("vid"), F.col("s").alias("other"))))
    return (both.distinct().groupBy("vid").agg(F.count(F.lit(1)).alias("distinct_contacts")))


def active_days(coded):
    """``vid``, ``active_days``: distinct UTC days with an event sent."""
    from pyspark.sql import functions as F

    days = coded.select(F.col("s").alias("vid"), _day_of("ts_ns").alias("day"))
    return days.distinct().groupBy("vid").agg(F.count(F.lit(1)).alias("active_days"))


def first_seen(coded):
    """``vid``, ``first_seen_ns``: each customer's first event in either role."""
    from pyspark.sql import functions as F

    either = (coded.select(F.col("s").alias("vid"), "ts_ns")
              .unionByName(coded.filter(F.col("t").isNotNull())
                           .select(F.col("t").alias("vid"), "ts_ns")))
    return either.groupBy("vid").agg(F.min("ts_ns").alias("first_seen_ns"))
