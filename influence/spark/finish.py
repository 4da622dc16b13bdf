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

__all__ = ["kth_largest", "tier_cuts", "tier_column"]

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
