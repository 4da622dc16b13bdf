"""The referral forest as DataFrame jobs: kept referrers, cycles, generations, subtree totals.

The rules are those of :mod:`influence.reach.cascades`: a customer referred more
than once keeps the earliest referral (ties, and events without timestamps: the
smallest referrer id, then a converted referral first, then the larger value;
exact ties left are identical links); in each cycle of kept links the
link made last (ties: into the largest id) is cut. The kept referrals are chosen
on the executors and come to the driver (one row per referred customer). With
``on_driver`` (the engine's hand-off, where the graph is on the driver too) the
local engine's :func:`influence.reach.cascades.forest_from_links` finishes the
forest there: no Spark job per round. Otherwise roots and generations come
from pointer doubling (one join per doubling, so ``log2(depth)`` rounds) and
the subtree totals from one join per generation, deepest first, summing
children in id order as the local engine does, so money totals are
bit-identical. :func:`influence.reach.cascades_table` then builds
``cascades.csv`` on the driver.
"""

from __future__ import annotations

import logging

import numpy as np

from ..reach.cascades import ReferralForest, cut_links, cycle_cuts, forest_from_links
from .frames import collect_arrow, iteration_checkpoint

__all__ = ["referral_forest"]

logger = logging.getLogger(__name__)
_NAT = np.iinfo(np.int64).min


def _kept(coded, has_time: bool):
    """One row per referred customer: its kept referral (v, p, time, conv, value)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    referrals = coded.filter((F.col("kind") == "referral") & F.col("t").isNotNull())
    conv = F.coalesce(F.col("conv"), F.lit(False))
    value = F.when(F.isnan("val") | F.col("val").isNull(), F.lit(0.0)).otherwise(F.col("val"))
    order = ([F.col("ts_ns")] if has_time else []) + [F.col("s"), conv.desc(), value.desc(),
                                                      F.col("_row")]
    first = Window.partitionBy("t").orderBy(*order)
    ranked = referrals.select(
        F.col("t").alias("v"), F.col("s").alias("p"), "ts_ns", conv.alias("conv"),
        value.alias("value"),
        F.row_number().over(first).alias("_k"),
        F.count(F.lit(1)).over(Window.partitionBy("t")).alias("_times"))
    return referrals, ranked.filter(F.col("_k") == 1).drop("_k")


def referral_forest(spark, coded, n: int, *, has_time: bool, on_driver: bool, every: int,
                    checkpoint_dir: str | None, storage) -> ReferralForest:
    """Build the referral forest (rules in the module docstring).

    Parameters
    ----------
    coded : pyspark.sql.DataFrame
        Events with vertex indices (:func:`influence.spark.graph.code_events`).
    n : int
        Number of customers.
    has_time : bool
        Whether the events have timestamps.
    on_driver : bool
        Finish the forest on the driver from the collected kept referrals (the
        local engine's code) rather than with Spark jobs per doubling round and
        per generation. Same result either way.

    Returns
    -------
    ReferralForest
    """
    from pyspark.sql import functions as F

    referrals, kept = _kept(coded, has_time)
    links = kept.persist(storage)
    parent = np.full(n, -1, dtype=np.int64)
    converted = np.zeros(n, dtype=bool)
    value = np.zeros(n)
    time = np.full(n, _NAT, dtype=np.int64) if has_time else None
    arrays = collect_arrow(links.select("v", "p", "ts_ns", "conv", "value", "_times"))
    times = arrays.column("_times").to_numpy().astype(np.int64)
    referral_events = int(times.sum())
    double_referred = int((times > 1).sum())
    v = arrays.column("v").to_numpy().astype(np.int64)
    parent[v] = arrays.column("p").to_numpy().astype(np.int64)
    converted[v] = arrays.column("conv").to_numpy(zero_copy_only=False).astype(bool)
    value[v] = arrays.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    if time is not None:
        time[v] = arrays.column("ts_ns").to_numpy(zero_copy_only=False).astype(np.int64)
    if on_driver:
        links.unpersist()
        return forest_from_links(parent, converted, value, time,
                                 referral_events=referral_events,
                                 double_referred=double_referred)

    # pointer doubling on the executors: anc = p^(2^k) (stopping at a root), gen =
    # steps taken, done = anc is a root. Depths are contiguous (a vertex at depth d
    # has ancestors at every depth below d), so a round that finishes nobody means
    # the vertices still going lead into cycles.
    generation = np.zeros(n, dtype=np.int64)
    root = np.arange(n, dtype=np.int64)
    up0 = links.select(F.col("v").alias("p"), F.lit(True).alias("_has"))
    state = (links.select("v", "p").join(up0, "p", "left")
             .select("v", F.col("p").alias("anc"), F.lit(1).cast("long").alias("gen"),
                     F.col("_has").isNull().alias("done")))
    state = state.persist(storage)
    going = int(len(times) - np.isin(arrays.column("p").to_numpy(),
                                     arrays.column("v").to_numpy(), invert=True).sum())
    rounds = 0
    bound = None
    while going:
        rounds += 1
        up = state.select(F.col("v").alias("anc"), F.col("anc").alias("anc2"),
                          F.col("gen").alias("gen2"), F.col("done").alias("done2"))
        moved = (state.join(up, "anc", "left")
                 .select("v",
                         F.when(F.col("done"), F.col("anc")).otherwise(F.col("anc2"))
                         .alias("anc"),
                         F.when(F.col("done"), F.col("gen"))
                         .otherwise(F.col("gen") + F.col("gen2")).alias("gen"),
                         (F.col("done") | F.col("done2")).alias("done")))
        moved = iteration_checkpoint(moved, rounds, every, checkpoint_dir)
        still = moved.filter(~F.col("done")).count()
        state.unpersist()
        state = moved
        if still == going:
            bound = np.sort(collect_arrow(state.filter(~F.col("done")).select("v"))
                            .column("v").to_numpy().astype(np.int64))
            break
        going = still
    done = collect_arrow(state.filter(F.col("done")).select("v", "anc", "gen"))
    vv = done.column("v").to_numpy().astype(np.int64)
    root[vv] = done.column("anc").to_numpy().astype(np.int64)
    generation[vv] = done.column("gen").to_numpy().astype(np.int64)
    state.unpersist()
    cycles = 0
    if bound is not None:
        # the links that lead into cycles (rare, few): cut and finish on the driver
        cycles = _cut_cycles(bound, parent, converted, value, time)
        _finish_bound(bound, parent, root, generation)
    referred = int((parent >= 0).sum())

    down, height, conv_acc, value_acc = _subtree_totals(
        spark, parent, generation, converted, value, every=every,
        checkpoint_dir=checkpoint_dir, storage=storage)
    links.unpersist()
    logger.debug("referral forest: %d pointer-doubling rounds on the executors", rounds)
    return ReferralForest(
        parent=parent, converted=converted, value=value, time=time, generation=generation,
        root=root, downstream=down, height=height,
        downstream_conversions=conv_acc - converted, downstream_value=value_acc - value,
        referral_events=referral_events, referred=referred, double_referred=double_referred,
        cycles_broken=cycles)


def _cut_cycles(bound: np.ndarray, parent: np.ndarray, converted: np.ndarray,
                value: np.ndarray, time: np.ndarray | None) -> int:
    """Cut each cycle among ``bound`` at its last-made link (ties: into the largest id)."""
    index = {int(v): i for i, v in enumerate(bound)}
    local_parent = np.array([index[int(parent[v])] for v in bound], dtype=np.int64)
    cut = cycle_cuts(local_parent, np.arange(len(bound)), len(bound), bound, time)
    return cut_links(cut, parent, converted, value, time)


def _finish_bound(bound: np.ndarray, parent: np.ndarray, root: np.ndarray,
                  generation: np.ndarray) -> None:
    """Root and generation of the cycle-bound vertices once their cycles are cut."""
    for v in bound:
        steps, u = 0, int(v)
        while parent[u] >= 0:
            u = int(parent[u])
            steps += 1
        root[v] = u
        generation[v] = steps


def _subtree_totals(spark, parent: np.ndarray, generation: np.ndarray, converted: np.ndarray,
                    value: np.ndarray, *, every: int, checkpoint_dir: str | None, storage):
    """Descendants, height, converted links and money below each customer.

    One DataFrame job per generation, deepest first: a parent adds its children's
    totals in id order (the local engine's ``np.add.at`` order), so sums of money
    are bit-identical.
    """
    import pyarrow as pa
    from pyspark.sql import functions as F

    from .frames import frame_from_arrow

    n = len(parent)
    size = np.ones(n, dtype=np.int64)
    conv_acc = converted.astype(np.int64)
    value_acc = value.copy()
    height = np.zeros(n, dtype=np.int64)
    members = np.flatnonzero(parent >= 0)
    if not len(members):
        return size - 1, height, conv_acc, value_acc
    nodes = np.union1d(members, parent[members])
    table = pa.table({"v": nodes, "p": parent[nodes], "gen": generation[nodes],
                      "conv": converted[nodes].astype(np.int64), "value": value[nodes]})
    forest = frame_from_arrow(spark, table).persist(storage)
    deepest = int(generation[nodes].max())
    below = None
    levels = []
    for level in range(deepest, -1, -1):
        layer = forest.filter(F.col("gen") == level)
        if below is None:
            acc = layer.select("v", "p", F.lit(1).cast("long").alias("size"),
                               F.col("conv").alias("conv_acc"),
                               F.col("value").alias("value_acc"),
                               F.lit(0).cast("long").alias("height"))
        else:
            children = (below.groupBy(F.col("p").alias("v"))
                        .agg(F.array_sort(F.collect_list(F.struct(
                            F.col("v").alias("c"), "size", "conv_acc", "value_acc", "height")))
                            .alias("kids")))
            joined = layer.join(children, "v", "left")
            kids = F.coalesce(F.col("kids"), F.array())
            acc = joined.select(
                "v", "p",
                (F.lit(1) + F.aggregate(kids, F.lit(0).cast("long"),
                                        lambda a, x: a + x["size"])).alias("size"),
                (F.col("conv") + F.aggregate(kids, F.lit(0).cast("long"),
                                             lambda a, x: a + x["conv_acc"])).alias("conv_acc"),
                F.aggregate(kids, F.col("value"), lambda a, x: a + x["value_acc"])
                .alias("value_acc"),
                F.aggregate(kids, F.lit(0).cast("long"),
                            lambda a, x: F.greatest(a, x["height"] + 1)).alias("height"))
        step = deepest - level + 1
        # a level reads only the one below it, so the plan grows by one join per
        # generation: cached, and cut by a checkpoint every `every` generations
        acc = (iteration_checkpoint(acc, step, every, checkpoint_dir) if step % every == 0
               else acc.persist(storage))
        levels.append(acc)
        below = acc
    every_level = levels[0]
    for acc in levels[1:]:
        every_level = every_level.unionByName(acc)
    got = collect_arrow(every_level.select("v", "size", "conv_acc", "value_acc", "height"))
    vv = got.column("v").to_numpy().astype(np.int64)
    size[vv] = got.column("size").to_numpy().astype(np.int64)
    conv_acc[vv] = got.column("conv_acc").to_numpy().astype(np.int64)
    value_acc[vv] = got.column("value_acc").to_numpy().astype(np.float64)
    height[vv] = got.column("height").to_numpy().astype(np.int64)
    for acc in levels:
        acc.unpersist()
    forest.unpersist()
    return size - 1, height, conv_acc, value_acc
