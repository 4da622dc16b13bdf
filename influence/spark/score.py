"""The expected-influence score and its self-check on the Spark executors.

:func:`score_frame` computes what :func:`influence.metrics.score.fit_and_check`
computes, with nothing per customer on the driver:

* **per-customer aggregates** (one Spark SQL ``groupBy`` over each event's
  source and target): the first time seen, the events taken part in before the
  check (the ``events`` baseline), and the last time each customer *sent* an
  event before each scoring time (``end``, ``check``, ``split``): the
  "followed by activity" test of an influence event reads its influenced
  customer's last sent time, so that aggregate is joined onto the influence
  events by the influenced customer;
* **per-influencer features** (the influence events repartitioned by
  influencer, then the local numpy functions :func:`~influence.metrics.score.decayed_influence`,
  :func:`~influence.metrics.score.decayed_reach` and the later-influence count in
  ``mapInArrow`` on each partition with local vertex codes): the features at
  ``end``, ``check`` and ``split``, the later influence of the two periods and
  the baselines ``received``, ``received_7d``, ``out_degree``. Each decayed
  term is rounded to ``2 ** -30`` before it is summed (as locally), so these
  sums are exact whatever the partitioning: the features equal the local
  engine's bit for bit;
* **the fits**: scipy's L-BFGS-B on the driver
  (:func:`~influence.metrics.score.minimize_poisson`, the local start point,
  bounds and scaling), each loss and gradient ONE Spark aggregate over the
  cached judged customers with a non-zero feature, the zero-feature customers
  folded into one weighted term as locally (what Spark MLlib does for GLMs).
  Only these sums are taken in another order than numpy's, so the weights
  agree with the local ones to about 1e-12 relative, not bit for bit;
* **the self-check**: for each score the top ``max(check_k)`` rows (ties by the
  smaller vertex id, as :func:`~influence.metrics.score.top_k_metrics`) come to
  the driver, one Spark job per score.

The driver holds the model, the small check table and at most ``6 x
max(check_k)`` rows of the self-check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..metrics import score as sc
from ..metrics.score import DAY_NS, ScoreRun

__all__ = ["SparkScore", "score_frame"]


@dataclass(frozen=True)
class SparkScore:
    """What :func:`score_frame` returns.

    Attributes
    ----------
    customers : pyspark.sql.DataFrame
        ``vid`` (long), ``expected_influence`` (double), ``score_text``
        (string): one row per vertex ``0 .. n - 1``, computed on the executors.
    run : influence.metrics.score.ScoreRun
        The model, check table and check summary (as the local engine's);
        ``features`` is ``None``: the features stay on the executors.
    frames : tuple
        The persisted DataFrames ``customers`` is computed from;
        :meth:`release` unpersists them once ``customers`` is written.
    """

    customers: Any
    run: ScoreRun
    frames: tuple = ()

    def release(self) -> None:
        """Unpersist the cached per-customer frames."""
        for frame in self.frames:
            frame.unpersist()


_WHEN = ("end", "check", "split")


def _table_of(batches):
    """A partition's Arrow batches as one table (``None`` when it has no row)."""
    import pyarrow as pa

    batches = list(batches)
    if not batches:
        return None
    table = pa.Table.from_batches(batches)
    return table if table.num_rows else None


def _feature_names(config) -> list[str]:
    p = len(config.half_lives) + len(config.reach_half_lives)
    return [f"f{j}" for j in range(p)]


def _by_influencer(batches, *, ends: dict[str, float], n: int, half_lives, reach_half_lives,
                   has_converted: bool, followed: bool):
    """``mapInArrow`` over the influence events of whole influencers: per influencer
    the features at each scoring time, the later influence of the two periods and
    the baselines, by the local functions on local vertex codes."""
    import pyarrow as pa

    from ..arrays import sorted_unique

    table = _table_of(batches)
    if table is None:
        return

    def column(name: str, fill: Any = None) -> np.ndarray:
        values = table.column(name)
        if fill is not None and values.null_count:
            values = values.fill_null(fill)
        return values.to_numpy()

    by = column("by").astype(np.int64)
    to = column("to").astype(np.int64)
    days = column("days").astype(np.float64)
    reverse = column("rev", False).astype(bool)
    converted = column("conv", False).astype(bool) if has_converted else None
    vids, local = np.unique(by, return_inverse=True)
    local = local.astype(np.int64)
    m = len(vids)
    pairs = sc._pairs(local, to, n)
    end, check, split = ends["end"], ends["check"], ends["split"]
    out: dict[str, np.ndarray] = {"vid": vids}
    last_sent = {w: column(f"ls_{w}", -np.inf).astype(np.float64) for w in _WHEN}
    for w in _WHEN:
        at = ends[w]
        keep = np.ones(len(by), dtype=bool)
        if followed:  # features_at: followed by activity before `at`
            keep = reverse | (last_sent[w] > days)
            if converted is not None:
                keep |= converted
        r = sc.decayed_influence(local[keep], days[keep], at, m, half_lives=half_lives)
        d = sc.decayed_reach(local, to, days, at, m, half_lives=reach_half_lives, pairs=pairs)
        for j, values in enumerate(np.hstack([r, d]).T):
            out[f"{w}_f{j}"] = values
    # later_influence: the period's last sent time is the last before its end
    for name, start, stop, seen in (("later", check, end, last_sent["end"]),
                                    ("earlier", split, check, last_sent["check"])):
        counted = reverse | (seen > days)
        if converted is not None:
            counted |= converted
        counted &= (days >= start) & (days < stop)
        out[name] = np.bincount(local[counted], minlength=m).astype(np.int64)
    # baseline_scores at check
    counts = sc.decayed_influence(local, days, check, m, half_lives=(None, 7.0))
    out["received"], out["received_7d"] = counts[:, 0], counts[:, 1]
    before = days < check
    reached = sorted_unique(local[before] * np.int64(n) + to[before])
    out["out_degree"] = np.bincount(reached // n, minlength=m).astype(np.float64)
    yield pa.RecordBatch.from_pydict(out)


def _scored(batches, *, weights: np.ndarray, features: list[str], horizon_days: float,
            half_lives, reach_half_lives):
    """``mapInArrow``: ``expected_influence`` and ``score_text`` of each row, by the
    local functions."""
    import pyarrow as pa

    for batch in batches:
        if batch.num_rows == 0:
            continue
        x = np.column_stack([batch.column(f).to_numpy() for f in features])
        expected = sc.expected_influence(x, weights)
        text = sc.reason_text(expected, sc.contributions(x, weights),
                              horizon_days=horizon_days, half_lives=half_lives,
                              reach_half_lives=reach_half_lives)
        yield pa.RecordBatch.from_pydict({
            "vid": batch.column("vid"), "expected_influence": expected,
            "score_text": pa.array(text.tolist(), type=pa.string())})


def _expected_at_check(batches, *, weights: np.ndarray, features: list[str], keep: list[str]):
    """``mapInArrow``: the checked score (``expected_influence`` of the features at
    ``check`` with the weights fitted one horizon earlier), the other columns kept."""
    import pyarrow as pa

    for batch in batches:
        if batch.num_rows == 0:
            continue
        x = np.column_stack([batch.column(f).to_numpy() for f in features])
        columns = {name: batch.column(name) for name in keep}
        columns["expected_influence"] = sc.expected_influence(x, weights)
        yield pa.RecordBatch.from_pydict(columns)


def score_frame(coded, config, end_ns: int, n: int, *, has_converted: bool,
                storage=None) -> SparkScore:
    """The expected-influence score and its self-check, computed on the executors.

    What :func:`influence.metrics.score.score_arrays` computes on the events
    collected to the driver, with nothing per customer on the driver (see the
    module's text for how).

    Parameters
    ----------
    coded : pyspark.sql.DataFrame
        The engine's coded events (:func:`influence.spark.graph.code_events`):
        ``s``, ``t`` (null: no target), ``kind``, ``ts_ns`` and, when
        ``has_converted``, ``conv``.
    config : influence.config.AnalysisConfig
        ``config.score`` and each type's flow (``config.types``).
    end_ns : int
        The analysis end (nanoseconds); the score is set one second after it.
    n : int
        Number of customers (vertex ids ``0 .. n - 1``).
    has_converted : bool
        Whether ``coded`` has a ``conv`` column.
    storage : pyspark.StorageLevel, optional
        How the per-customer frames are persisted (default memory and disk).

    Returns
    -------
    SparkScore
        ``customers`` (one row per vertex) and ``run`` (model, check table and
        summary as the local engine's; ``features`` ``None``).

    Notes
    -----
    Spark jobs: about 2 to build the cached per-customer table and its counts,
    one per loss evaluation of each fit (L-BFGS-B, typically 10 to 40 each;
    two fits with the self-check), and one per score of the self-check (6).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spark = coded.sparkSession
    storage = StorageLevel.MEMORY_AND_DISK if storage is None else storage
    cfg = config.score
    half_lives, reach_half_lives = tuple(cfg.half_lives), tuple(cfg.reach_half_lives)
    horizon = cfg.horizon_days
    end = end_ns / DAY_NS + 1.0 / 86_400.0
    check = end - horizon
    split = check - horizon
    ends = {"end": end, "check": check, "split": split}
    features = _feature_names(cfg)

    days = (F.col("ts_ns").cast("double") / F.lit(DAY_NS)).alias("days")
    has_target = F.col("t").isNotNull()
    # per customer, over both roles: first seen, events before check, last sent times
    roles = coded.select(F.col("s").cast("long").alias("vid"), days,
                         F.lit(True).alias("sent")).unionByName(
        coded.filter(has_target).select(F.col("t").cast("long").alias("vid"), days,
                                        F.lit(False).alias("sent")))
    per = roles.groupBy("vid").agg(
        F.min("days").alias("first"),
        F.count(F.when(F.col("days") < F.lit(check), True)).cast("double").alias("events"),
        *[F.max(F.when(F.col("sent") & (F.col("days") < F.lit(at)), F.col("days")))
          .alias(f"ls_{w}") for w, at in ends.items()])
    reverse_types = [name for name, spec in config.types.items() if spec.flow == "reverse"]
    rev = (F.coalesce(F.col("kind").isin(reverse_types), F.lit(False)) if reverse_types
           else F.lit(False))
    influence = coded.filter(has_target).select(
        F.when(rev, F.col("t")).otherwise(F.col("s")).cast("long").alias("by"),
        F.when(rev, F.col("s")).otherwise(F.col("t")).cast("long").alias("to"),
        days, rev.alias("rev"),
        *([F.coalesce(F.col("conv"), F.lit(False)).alias("conv")] if has_converted else []))
    influence = influence.join(
        per.select(F.col("vid").alias("to"), *[f"ls_{w}" for w in _WHEN]), "to", "left")
    out_columns = (["vid long"] + [f"{w}_{f} double" for w in _WHEN for f in features]
                   + ["later long", "earlier long", "received double", "received_7d double",
                      "out_degree double"])

    def by_influencer(batches):
        return _by_influencer(batches, ends=ends, n=n, half_lives=half_lives,
                              reach_half_lives=reach_half_lives,
                              has_converted=has_converted, followed=sc.FOLLOWED)

    influencers = (influence.repartition("by")
                   .mapInArrow(by_influencer, ", ".join(out_columns)))
    zero = {c.split()[0]: 0 for c in out_columns[1:]}
    customers = (spark.range(n).select(F.col("id").alias("vid"))
                 .join(influencers, "vid", "left")
                 .join(per.select("vid", "first", "events"), "vid", "left")
                 .fillna(zero).fillna({"events": 0.0, "first": float("inf")})
                 .persist(storage))

    # one job: the history and every count the fits and the check need
    first = F.col("first")
    stats_columns = [F.min(F.when(first < F.lit(end), first)).alias("seen"),
                     F.count(F.lit(1)).alias("rows")]
    fits = {"check": ("check", "later", check), "split": ("split", "earlier", split)}
    for name, (w, y, at) in fits.items():
        judged = first < F.lit(at)
        some = F.lit(False)
        for f in features:
            some = some | (F.col(f"{w}_{f}") != 0)
        stats_columns += [
            F.count(F.when(judged, True)).alias(f"{name}_judged"),
            F.count(F.when(judged & (F.col(y) > 0), True)).alias(f"{name}_spreaders"),
            F.count(F.when(judged & ~some, True)).alias(f"{name}_zero_count"),
            F.sum(F.when(judged & ~some, F.col(y))).alias(f"{name}_zero_later"),
            F.count(F.when(judged & some, True)).alias(f"{name}_some"),
            F.sum(F.when(judged & some, F.col(y))).alias(f"{name}_some_later"),
            F.sum(F.when(judged, F.col(y))).alias(f"{name}_later_total"),
            *[F.sum(F.when(judged, F.col(f"{w}_{f}"))).alias(f"{name}_sum_{f}")
              for f in features]]
    stats = customers.agg(*stats_columns).first().asDict()

    def scored(weights) -> Any:
        w = np.asarray(weights, dtype=np.float64)

        def run(batches):
            return _scored(batches, weights=w, features=[f"end_{f}" for f in features],
                           horizon_days=horizon, half_lives=half_lives,
                           reach_half_lives=reach_half_lives)
        return customers.select("vid", *[f"end_{f}" for f in features]).mapInArrow(
            run, "vid long, expected_influence double, score_text string")

    def result(model, check_table, summary) -> SparkScore:
        return SparkScore(scored(model.weights), ScoreRun(model, None, check_table, summary),
                          (customers,))

    fit_args = dict(horizon_days=horizon, half_lives=half_lives, shrinkage=cfg.shrinkage,
                    reach_half_lives=reach_half_lives)
    history = end - stats["seen"] if stats["seen"] is not None else 0.0
    if history < 2 * horizon:
        return result(sc._short(horizon, half_lives, 2, reach_half_lives), sc._empty_check(),
                      {"skipped": f"history shorter than 2 x {horizon:g} days"})

    def fit(name: str) -> Any:
        w, y, at = fits[name]
        return sc.shrunk_model(
            lambda: _fit_weights(customers, stats, name, features, column=w, later=y,
                                 before=at, storage=storage),
            judged=int(stats[f"{name}_judged"]), spreaders=int(stats[f"{name}_spreaders"]),
            split=at, **fit_args)

    model = fit("check")
    if not cfg.self_check:
        return result(model, sc._empty_check(),
                      {"skipped": "turned off ([score] self_check = false)"})
    if history < 3 * horizon:
        return result(model, sc._empty_check(),
                      {"skipped": f"history shorter than 3 x {horizon:g} days"})
    if not stats["check_later_total"]:
        return result(model, sc._empty_check(),
                      {"skipped": "nobody exerted influence in the last period"})
    past = fit("split")
    table, truth = _self_check(customers, past, features, check, cfg.check_k)
    summary = {"check": check, "horizon_days": horizon, "judged": int(stats["check_judged"]),
               "spreaders": int(stats["check_spreaders"]), "later_total": int(truth),
               "model": past.to_dict()}
    return result(model, table, summary)


def _fit_weights(customers, stats: dict, name: str, features: list[str], *, column: str,
                 later: str, before: float, storage) -> tuple[np.ndarray, float]:
    """:func:`influence.metrics.score.fit_weights` on the customers first seen before
    ``before`` (features ``{column}_{feature}``, target ``later``; ``stats`` the counts
    and sums of fit ``name``): the same scaling, start point, bounds and zero-feature
    term, each loss and gradient one Spark job over the cached rows with a non-zero
    feature."""
    from pyspark.sql import functions as F

    x = [f"{column}_{f}" for f in features]
    y, at = later, before
    p = len(x)
    judged = int(stats[f"{name}_judged"])
    if judged == 0 or not stats[f"{name}_later_total"]:
        return np.zeros(p), 0.0
    scale = np.array([float(stats[f"{name}_sum_{f}"] or 0.0) for f in features]) / judged
    scale[scale <= 0] = 1.0
    zero_count = float(stats[f"{name}_zero_count"])
    zero_later = float(stats[f"{name}_zero_later"] or 0.0)
    some = int(stats[f"{name}_some"])
    mean_later = float(stats[f"{name}_some_later"] or 0.0) / some if some else float("nan")
    some_column = F.lit(False)
    for c in x:
        some_column = some_column | (F.col(c) != 0)
    rows = (customers.filter((F.col("first") < F.lit(at)) & some_column)
            .select(*[F.col(c).alias(f"x{j}") for j, c in enumerate(x)],
                    F.col(y).cast("double").alias("y"))
            .mapInArrow(lambda batches: _scaled(batches, scale=scale, p=p),
                        ", ".join([f"x{j} double" for j in range(p)] + ["y double"]))
            .persist(storage))
    floor = sc.POISSON_FLOOR
    schema = "part long, " + ", ".join(f"s{j} double" for j in range(p + 3))

    def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
        at = np.asarray(v, dtype=np.float64).copy()

        def run(batches):
            return _loss_partials(batches, v=at, p=p, floor=floor)
        # one row of partial sums per partition, combined exactly (math.fsum) in any
        # order: the same value whatever the order the partitions come back in
        got = rows.mapInArrow(run, schema).toArrow()
        sums = np.array([math.fsum(got.column(f"s{j}").to_numpy()) for j in range(p + 3)])
        b = max(float(v[p]), floor)
        value = sums[0] - sums[1] + zero_count * b - zero_later * np.log(b)
        return float(value), np.r_[sums[2:2 + p], sums[2 + p] + zero_count - zero_later / b]

    try:
        weights, intercept = sc.minimize_poisson(loss, p=p, mean_later=mean_later)
    finally:
        rows.unpersist()
    return weights / scale, intercept


def _scaled(batches, *, scale: np.ndarray, p: int):
    """``mapInArrow``: the features divided by their scale, as numpy divides them."""
    import pyarrow as pa

    for batch in batches:
        if batch.num_rows == 0:
            continue
        x = np.column_stack([batch.column(f"x{j}").to_numpy() for j in range(p)]) / scale
        yield pa.RecordBatch.from_pydict({**{f"x{j}": x[:, j] for j in range(p)},
                                          "y": batch.column("y")})


def _loss_partials(batches, *, v: np.ndarray, p: int, floor: float):
    """``mapInArrow``: one row per partition, the partial sums of the Poisson loss and
    gradient of :func:`influence.metrics.score.fit_weights` (``sum mu``, ``y @ log mu``,
    ``ratio @ xs``, ``sum ratio``) over its rows, by numpy as there."""
    import pyarrow as pa
    from threadpoolctl import threadpool_limits

    table = _table_of(batches)
    if table is None:
        return
    xs = np.column_stack([table.column(f"x{j}").to_numpy() for j in range(p)])
    y = table.column("y").to_numpy()
    with threadpool_limits(limits=1, user_api="blas"):
        mu = np.maximum(xs @ v[:p] + v[p], floor)
        ratio = 1.0 - y / mu
        sums = np.r_[mu.sum(), y @ np.log(mu), ratio @ xs, ratio.sum()]
    from pyspark import TaskContext

    context = TaskContext.get()
    part = context.partitionId() if context is not None else 0
    yield pa.RecordBatch.from_pydict({"part": [part],
                                      **{f"s{j}": [float(s)] for j, s in enumerate(sums)}})


def _self_check(customers, past, features: list[str], check: float, ks) -> tuple[Any, int]:
    """The check table of :func:`influence.metrics.score.fit_and_check`: each score's
    top ``max(ks)`` judged customers (ties by the smaller vertex id) on the driver."""
    import pandas as pd
    from pyspark.sql import functions as F

    names = ["expected_influence", "received", "received_7d", "out_degree", "events"]
    keep = ["vid", "received", "received_7d", "out_degree", "events", "later"]
    judged = customers.filter(F.col("first") < F.lit(check)).select(
        *keep, *[f"check_{f}" for f in features])
    weights = np.asarray(past.weights, dtype=np.float64)

    def run(batches):
        return _expected_at_check(batches, weights=weights,
                                  features=[f"check_{f}" for f in features], keep=keep)

    frame = judged.mapInArrow(run, "vid long, received double, received_7d double, "
                              "out_degree double, events double, later long, "
                              "expected_influence double")
    frame = frame.withColumn("oracle", F.col("later").cast("double"))
    top = int(max(ks))
    picks = {}
    for name in names + ["oracle"]:
        got = frame.orderBy(F.col(name).desc(), F.col("vid").asc()).limit(top) \
            .select("later").toArrow()
        picks[name] = got.column("later").to_numpy().astype(np.float64)
    stats = frame.agg(F.count(F.lit(1)), F.sum("later")).first()
    judged_count, total = int(stats[0]), int(stats[1] or 0)
    ranked_truth = picks["oracle"]  # the later influence, largest first
    out = []
    for name in names + ["oracle"]:
        for k in ks:
            k = int(min(k, judged_count))
            if k == 0 or total <= 0:
                row = {"k": k, "capture": float("nan"), "precision": float("nan")}
            else:
                cut = ranked_truth[k - 1]
                chosen = picks[name][:k]
                relevant = (chosen >= cut) & (chosen > 0)
                row = {"k": k, "capture": float(chosen.sum() / float(total)),
                       "precision": float(relevant.mean())}
            out.append({"score": name, **row})
    return pd.DataFrame(out)[["score", "k", "capture", "precision"]], total
