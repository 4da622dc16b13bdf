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

from .session import run_settings

__all__ = ["collect_arrow", "frame_from_arrow", "scatter", "checkpoint",
           "iteration_checkpoint", "batched", "loop_partitions", "sum_in_order", "numpy_sum"]


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


#: Edges per partition that the iterative stages aim at (each iteration joins and
#: aggregates the edge list once).
EDGES_PER_PARTITION = 1_000_000


def loop_partitions(spark, n_edges: int) -> int:
    """Partitions of the iterative stages: about :data:`EDGES_PER_PARTITION` edges
    each, at least one per core of the cluster, at most the run's shuffle partitions.

    Adaptive execution (which would coalesce small partitions) is off inside the
    loops (:func:`batched`), so on small graphs this, not the run's 4 per core,
    keeps each iteration at a task per core.
    """
    run = int(spark.conf.get("spark.sql.shuffle.partitions"))
    try:
        cores = int(spark.sparkContext.defaultParallelism)
    except Exception:  # no SparkContext (Spark Connect)
        cores = 1
    wanted = max(cores, -(-n_edges // EDGES_PER_PARTITION))
    return max(1, min(run, wanted))


def batched(start, step, measure, *, max_iter: int, every: int, stop, state,
            checkpoint_dir, partitions: int):
    """Run an iterative stage with one Spark action per iteration and one check per batch.

    Parameters
    ----------
    start : pyspark.sql.DataFrame
        The state before the first iteration (materialised).
    step : callable
        ``step(frame, k) -> frame``: iteration ``k`` (1-based), lazily; it must
        add the columns ``measure`` reads for ``k`` and keep the other columns.
    measure : callable
        ``measure(frame, ks) -> list of float``: one number per iteration of
        the batch ``ks``, in one action at the end of the batch.
    max_iter, every : int
        Most iterations; iterations per batch (``[spark] checkpoint_every``).
    stop : callable
        ``stop(number) -> bool``: whether an iteration's number ends the run
        (called in iteration order).
    state : sequence of str
        The columns a batch starts from (the previous batch's others are dropped).
    checkpoint_dir : str or None
        Where the last iteration of each batch is checkpointed reliably; the
        others are checkpointed locally.
    partitions : int
        ``spark.sql.shuffle.partitions`` inside the loop (:func:`loop_partitions`);
        the frames the steps join should be hash-partitioned the same way.

    Returns
    -------
    (frame, k, number)
        The frame of the last batch (its columns of iteration ``k`` are the
        result), the iteration that stopped the run (or ``max_iter``) and its
        number.

    Notes
    -----
    Each iteration is one local checkpoint: an iteration reads the previous
    one several times, and without a cut the plan grows geometrically (a
    chain of cached, uncheckpointed iterations made the query planner itself
    the bottleneck: minutes per batch at 200 customers). The convergence check
    of every iteration is an aggregate over the batch's last frame, once per
    batch, instead of an action per iteration. Adaptive execution is off
    inside the loop: its coalescing gains nothing on frames partitioned by the
    engine, and it runs every shuffle stage as a job of its own; so are
    broadcast joins (each broadcast is a job). So each iteration is one job.
    """
    spark = start.sparkSession
    frame = start
    done = 0
    number = float("inf")
    # no broadcast joins either: each broadcast is a job of its own, and the one-row
    # aggregates joined into an iteration (PageRank's dangling mass) would be one
    settings = {"spark.sql.adaptive.enabled": "false",
                "spark.sql.autoBroadcastJoinThreshold": "-1",
                "spark.sql.shuffle.partitions": str(partitions)}
    with run_settings(spark, settings):
        while done < max_iter:
            ks = list(range(done + 1, min(done + every, max_iter) + 1))
            current = frame.select(*state)
            for k in ks:
                last = k == ks[-1]
                current = checkpoint(step(current, k), checkpoint_dir if last else None)
            numbers = measure(current, ks)
            frame = current
            for k, number in zip(ks, numbers):
                if stop(number):
                    return frame, k, number
            done = ks[-1]
        return frame, max_iter, number


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
