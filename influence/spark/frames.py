"""Moving tables between Spark and the driver: Arrow only, never pandas conversion.

pyspark converts through pandas in ``toPandas()``/``createDataFrame(pandas)``
and warns that pandas 3 is not fully supported; these helpers use
``DataFrame.toArrow()`` and ``createDataFrame(pyarrow.Table)`` (pyspark >= 4.0)
and the local engine gets its numpy arrays from Arrow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["collect_arrow", "frame_from_arrow", "scatter", "checkpoint",
           "iteration_checkpoint", "sum_in_order", "numpy_sum"]


def collect_arrow(frame) -> pa.Table:
    """The DataFrame on the driver as a pyarrow Table (``DataFrame.toArrow``)."""
    return frame.toArrow()


def frame_from_arrow(spark, table: pa.Table):
    """A Spark DataFrame from a pyarrow Table (no pandas)."""
    return spark.createDataFrame(table)


def scatter(table: pa.Table, column: str, n: int, *, key: str = "vid", fill: Any = 0,
            dtype=None) -> np.ndarray:
    """One value per vertex: ``table[column]`` placed at ``table[key]``, ``fill`` elsewhere.

    Missing values in ``column`` become ``fill`` as well.
    """
    values = table.column(column)
    keys = table.column(key).to_numpy(zero_copy_only=False).astype(np.int64)
    if dtype is None:
        dtype = np.float64 if pa.types.is_floating(values.type) else (
            np.int64 if pa.types.is_integer(values.type) else object)
    out = np.full(n, fill, dtype=dtype)
    if len(keys):
        filled = values.fill_null(fill) if values.null_count and fill is not None else values
        array = filled.to_numpy(zero_copy_only=False)
        out[keys] = np.asarray(array, dtype=dtype) if dtype is not object else array
    return out


def checkpoint(frame, directory: str | None):
    """Materialise ``frame`` and cut its lineage: a reliable checkpoint into
    ``directory`` when given (``SparkContext.setCheckpointDir`` is set by the
    engine), else a local checkpoint."""
    if directory:
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)


def iteration_checkpoint(frame, step: int, every: int, directory: str | None):
    """Materialise one iteration of an iterative stage and cut its lineage.

    Every iteration is checkpointed locally (executor storage): an iteration
    reads the previous one several times, so without a cut the query plan
    grows geometrically. Every ``every``-th iteration goes to the reliable
    ``directory`` instead, when one is configured, so a lost executor costs at
    most ``every`` iterations.
    """
    if directory and step % every == 0:
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)


def sum_in_order(values):
    """Sum of an array column from 0.0, left to right (``np.bincount``'s order)."""
    from pyspark.sql import functions as F

    return F.aggregate(values, F.lit(0.0), lambda acc, x: acc + x)


def numpy_sum(values):
    """Sum of a non-empty array column in exactly the order ``np.add.reduceat`` sums a
    segment: the first element plus numpy's pairwise sum of the rest (8 interleaved
    accumulators, combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the tail).

    Bit-identical to the local engine for segments of up to 129 values; longer ones
    (over 128 events of one type on one pair) fall back to a left-to-right sum and
    may differ in the last bits (numpy splits them recursively).
    """
    from pyspark.sql import functions as F

    n = F.size(values)
    first = F.element_at(values, 1)
    rest = F.slice(values, 2, F.greatest(n - 1, F.lit(0)))
    m = n - 1
    full = m - m % 8
    def lane(j: int):
        return F.aggregate(F.filter(rest, lambda x, i: (i < full) & (i % 8 == j)),
                           F.lit(0.0), lambda acc, x: acc + x)

    lanes = [lane(j) for j in range(8)]
    blocks = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + (
        (lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    tail = F.aggregate(F.filter(rest, lambda x, i: i >= full), blocks,
                       lambda acc, x: acc + x)
    pairwise = F.when(m < 8, sum_in_order(rest)).when(m <= 128, tail).otherwise(
        sum_in_order(rest))
    return F.when(n == 1, first).otherwise(first + pairwise)
