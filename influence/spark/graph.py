"""Influence-flow edges, weighted degrees, PageRank and k-hop reach as DataFrame jobs.

Same definitions as :mod:`influence.graph`, :mod:`influence.metrics.centrality`
and :func:`influence.reach.k_hop_reach`; vertices are the ``vid`` of
:func:`influence.spark.validate.customer_ids` (the position of the id in sorted
order, as in the local engine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..config import AnalysisConfig
from .frames import batched, checkpoint, numpy_sum, sum_in_order

__all__ = ["code_events", "build_edges", "strengths", "pagerank", "reach", "PageRankInfo"]

logger = logging.getLogger(__name__)

#: Fixed-point scale of the PageRank sums: integers add up in any order to the
#: same total, so scores are bit-identical whatever the partitioning.
_SCALE = float(2 ** 60)


def code_events(events, ids):
    """Events with vertex indices: ``s`` (source) and ``t`` (target, null if none)."""
    from pyspark.sql import functions as F

    source = ids.select(F.col("customer_id").alias("src"), F.col("vid").alias("s"))
    target = ids.select(F.col("customer_id").alias("dst"), F.col("vid").alias("t"))
    return (events.join(source, "src").join(target, "dst", "left")
            .select("_row", "s", "t", "kind", "ts_ns", "weight", "conv", "val"))


def build_edges(coded, config: AnalysisConfig):
    """Aggregate events into influence-flow edges, summed in the local engine's order.

    Returns
    -------
    edges : pyspark.sql.DataFrame
        ``a`` influenced ``b`` (vids), ``weight`` (float64), ``n_events`` (int64).
    edge_types : pyspark.sql.DataFrame
        ``a``, ``b``, ``kind``, ``weight``: the weight of each edge by event type.

    Notes
    -----
    Within a (pair, type) the weights are sorted ascending and summed as
    ``np.add.reduceat`` sums them; the per-type totals are then summed in type
    order. Integer-valued weights (the default types, no row weights, no
    decay) give the local engine's totals exactly whatever the order.
    """
    from pyspark.sql import functions as F

    reverse = [name for name, spec in config.types.items() if spec.flow == "reverse"]
    flipped = F.col("kind").isin(reverse) if reverse else F.lit(False)
    flows = (coded.filter(F.col("t").isNotNull())
             .select(F.when(flipped, F.col("t")).otherwise(F.col("s")).alias("a"),
                     F.when(flipped, F.col("s")).otherwise(F.col("t")).alias("b"),
                     "kind", "weight"))
    edge_types = (flows.groupBy("a", "b", "kind")
                  .agg(numpy_sum(F.array_sort(F.collect_list("weight"))).alias("weight"),
                       F.count(F.lit(1)).alias("n_events")))
    edges = (edge_types.groupBy("a", "b")
             .agg(F.array_sort(F.collect_list(F.struct("kind", "weight"))).alias("_types"),
                  F.sum("n_events").alias("n_events"))
             .select("a", "b", numpy_sum(F.transform("_types", lambda x: x["weight"]))
                     .alias("weight"), F.col("n_events").cast("long")))
    return edges, edge_types.select("a", "b", "kind", "weight")


def strengths(edges):
    """Weighted out- and in-degree: ``vid``, ``out_strength``, ``in_strength`` (only
    vertices with edges; summed in edge order, like ``np.bincount``)."""
    from pyspark.sql import functions as F

    out = (edges.groupBy(F.col("a").alias("vid"))
           .agg(sum_in_order(F.transform(F.array_sort(F.collect_list(F.struct("b", "weight"))),
                                         lambda x: x["weight"])).alias("out_strength"),
                F.count(F.lit(1)).alias("reach_1")))
    into = (edges.groupBy(F.col("b").alias("vid"))
            .agg(sum_in_order(F.transform(F.array_sort(F.collect_list(F.struct("a", "weight"))),
                                          lambda x: x["weight"])).alias("in_strength")))
    return out.join(into, "vid", "full")


@dataclass
class PageRankInfo:
    """How PageRank ran (for the manifest)."""

    iterations: int
    l1_change: float
    converged: bool

    def describe(self, damping: float, tolerance: float, every: int) -> dict[str, Any]:
        return {"graph": "reversed influence flow", "damping": damping,
                "solver": "power iteration on DataFrames (executors), dangling vertices "
                          "jump uniformly, sums in fixed point (2^-60) so scores do not "
                          "depend on partitioning",
                "iterations": self.iterations, "tolerance_l1": tolerance,
                "final_l1_change": self.l1_change, "converged": self.converged,
                "checkpoint_every": every}


def pagerank(spark, edges, in_strength, n: int, *, damping: float, max_iter: int,
             tol: float, every: int, checkpoint_dir: str | None, partitions: int, storage):
    """Weighted PageRank of influence: power iteration on the reversed influence graph.

    A customer ``u`` who influenced ``v`` (edge ``u -> v`` of weight ``w``)
    receives ``d * r(v) * w / in_strength(v)`` from ``v``; customers nobody
    influenced (dangling in the reversed graph) spread their score uniformly;
    everyone gets ``(1 - d) / n``. This is :func:`influence.metrics.pagerank`'s
    definition (igraph PRPACK on the reversed graph), solved iteratively.

    Iterations run ``every`` at a time in one Spark action (:func:`batched`):
    each iteration is a lazily cached step of the plan, the dangling mass is a
    one-row aggregate joined in (no driver round trip), and one checkpoint and
    one small aggregate per batch give every iteration's L1 change. The scores
    are those of the first iteration whose change is below ``tol`` (the later
    iterations of its batch are computed and discarded), so they do not depend
    on ``every``.

    Parameters
    ----------
    edges : pyspark.sql.DataFrame
        ``a``, ``b``, ``weight`` (from :func:`build_edges`).
    in_strength : pyspark.sql.DataFrame
        ``vid``, ``in_strength`` of vertices with incoming edges.
    n : int
        Number of customers (vids ``0 .. n-1``).
    damping, max_iter, tol, every
        Damping factor, most iterations, L1 stopping threshold, iterations per
        batch (one checkpoint each: reliable into ``checkpoint_dir`` when set).
    partitions : int
        Partitions of the loop (:func:`influence.spark.frames.loop_partitions`).

    Returns
    -------
    (pyspark.sql.DataFrame, PageRankInfo)
        ``vid``, ``pagerank`` for every customer (summing to 1), and how it ran.
    """
    from pyspark.sql import functions as F

    if n == 0:
        return spark.createDataFrame([], "vid long, pagerank double"), PageRankInfo(0, 0.0, True)
    fixed = lambda c: F.round(c * F.lit(_SCALE)).cast("long")  # noqa: E731
    share = (edges.join(in_strength, edges["b"] == in_strength["vid"])
             .select(F.col("b").alias("j"), F.col("a").alias("i"),
                     (F.col("weight") / F.col("in_strength")).alias("p")))
    share = checkpoint(share.repartition(partitions, "j"), checkpoint_dir)
    has_in = in_strength.select("vid", F.lit(True).alias("_in"))
    ranks = (spark.range(n).withColumnRenamed("id", "vid").join(has_in, "vid", "left")
             .select("vid", F.col("_in").isNull().alias("dangling"),
                     F.lit(1.0 / n).alias("r")))
    ranks = checkpoint(ranks.repartition(partitions, "vid"), checkpoint_dir)
    base = (1.0 - damping) / n

    def step(frame, k):
        """Iteration ``k`` from ``frame`` (``vid``, ``dangling``, ``r``): adds ``r<k>``
        and ``d<k>`` (its fixed-point change), ``r`` becomes the new score."""
        mass = frame.agg(F.coalesce(F.sum(F.when(F.col("dangling"), fixed(F.col("r")))),
                                    F.lit(0)).alias("_m"))
        gathered = (share.join(frame.select(F.col("vid").alias("j"), "r"), "j")
                    .groupBy(F.col("i").alias("vid"))
                    .agg(F.sum(fixed(F.col("r") * F.col("p"))).alias("_c")))
        jump = F.lit(base) + F.lit(damping) * (F.col("_m").cast("double") / F.lit(_SCALE)) / n
        new = jump + F.lit(damping) * (F.coalesce(F.col("_c"), F.lit(0)).cast("double")
                                       / F.lit(_SCALE))
        kept = [c for c in frame.columns if c != "r"]
        return (frame.join(gathered, "vid", "left").crossJoin(mass)
                .select(*kept, new.alias("r"), fixed(F.abs(new - F.col("r"))).alias(f"d{k}"))
                .withColumn(f"r{k}", F.col("r")))

    def measure(frame, ks):
        row = frame.agg(*[F.sum(f"d{k}").alias(f"d{k}") for k in ks]).first()
        return [float(row[f"d{k}"] or 0) / _SCALE for k in ks]

    result, iterations, l1 = batched(
        ranks, step, measure, max_iter=max_iter, every=every, stop=lambda d: d < tol,
        state=("vid", "dangling", "r"), checkpoint_dir=checkpoint_dir, partitions=partitions)
    logger.debug("pagerank: %d iterations, L1 change %.3g", iterations, l1)
    chosen = F.col(f"r{iterations}")
    total = result.agg(F.sum(fixed(chosen)).alias("t")).first()["t"]
    norm = float(total) / _SCALE
    ranks = result.select("vid", (chosen / F.lit(norm)).alias("pagerank"))
    return ranks, PageRankInfo(iterations, l1, l1 < tol)


def reach(edges, rsd: float):
    """``reach_2``: distinct customers within two influence hops, estimated with
    HyperLogLog++ (``approx_count_distinct`` with relative standard deviation ``rsd``).

    Returns
    -------
    pyspark.sql.DataFrame
        ``vid``, ``reach_2`` for vertices with out-edges (others reach nobody).
    """
    from pyspark.sql import functions as F

    one = edges.select(F.col("a").alias("u"), F.col("b").alias("w"))
    hop = edges.select(F.col("a").alias("v"), F.col("b").alias("w2"))
    two = (one.join(hop, one["w"] == hop["v"])
           .select("u", F.col("w2").alias("w")).filter(F.col("w") != F.col("u")))
    pairs = one.unionByName(two)
    return (pairs.groupBy(F.col("u").alias("vid"))
            .agg(F.approx_count_distinct("w", rsd).cast("long").alias("reach_2")))
