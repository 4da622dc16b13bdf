"""The expected-influence score on the Spark executors (influence.spark.score) agrees
with the local one (influence.metrics.score.score_arrays) on the same events.

Skipped, with the reason, where pyspark or Java is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from influence.config import AnalysisConfig, config_from_dict
from influence.metrics.score import DAY_NS, score_arrays
from influence.synth import generate_events

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")


#: customers with no event at all, after the generated ones (scored 0, as locally)
QUIET = 3


def _events(customers: int, seed: int, days: int):
    """Generated events as vertex codes, plus a few events without a target."""
    events, _ = generate_events(customers, seed=seed, days=days)
    ids = np.unique(np.r_[events["source"].to_numpy(dtype=str),
                          events["target"].dropna().to_numpy(dtype=str)])
    n = len(ids) + QUIET
    s = np.searchsorted(ids, events["source"].to_numpy(dtype=str)).astype(np.int64)
    has = events["target"].notna().to_numpy()
    t = np.full(len(events), -1, dtype=np.int64)
    t[has] = np.searchsorted(ids, events["target"][has].to_numpy(dtype=str))
    stamps = pd.to_datetime(events["timestamp"].astype(str), utc=True)
    ts_ns = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    converted = events["converted"].astype(str).eq("true").to_numpy()
    kind = events["type"].astype(str).to_numpy()
    return {"s": s, "t": t, "kind": kind, "ts_ns": ts_ns, "conv": converted, "n": n}


def _local(ev: dict, config: AnalysisConfig, end_ns: int):
    flows = {name: spec.flow == "reverse" for name, spec in config.types.items()}
    reverse = pd.Series(ev["kind"]).map(flows).fillna(False).to_numpy(dtype=bool)
    return score_arrays(ev["s"], ev["t"], reverse, ev["ts_ns"] / DAY_NS,
                        pd.Timestamp(end_ns), config.score, converted=ev["conv"], n=ev["n"])


def _coded(spark, ev: dict):
    import pyarrow as pa

    table = pa.table({"s": pa.array(ev["s"]),
                      "t": pa.array(ev["t"], mask=ev["t"] < 0),
                      "kind": pa.array(ev["kind"].tolist(), type=pa.string()),
                      "ts_ns": pa.array(ev["ts_ns"]),
                      # null converted counts as not converted, as locally
                      "conv": pa.array(ev["conv"], mask=~ev["conv"] & (ev["s"] % 7 == 0))})
    return spark.createDataFrame(table).repartition(3)


def _compare(spark, customers: int, seed: int, days: int, config: AnalysisConfig):
    from influence.spark.score import score_frame

    ev = _events(customers, seed, days)
    end_ns = int(ev["ts_ns"].max())
    local = _local(ev, config, end_ns)
    with _jobs(spark) as jobs:
        got = score_frame(_coded(spark, ev), config, end_ns, ev["n"], has_converted=True)
        table = got.customers.toArrow().to_pandas().sort_values("vid", ignore_index=True)
    got.release()
    run = got.run
    assert run.features is None
    # the model: every field, the weights within 1e-9 relative
    mine, theirs = run.model.to_dict(), local.model.to_dict()
    for key in ("weights", "fitted"):
        a, b = mine.pop(key), theirs.pop(key)
        assert (a is None) == (b is None), key
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=key)
    assert abs(mine.pop("intercept") - theirs.pop("intercept")) <= 1e-9 * max(
        1.0, abs(local.model.intercept))
    assert mine == theirs
    # the check table and its summary
    pd.testing.assert_frame_equal(run.check[["score", "k"]], local.check[["score", "k"]])
    for column in ("capture", "precision"):
        np.testing.assert_allclose(run.check[column].to_numpy(dtype=float),
                                   local.check[column].to_numpy(dtype=float),
                                   rtol=0, atol=1e-12, equal_nan=True)
    summary, expected_summary = dict(run.check_summary), dict(local.check_summary)
    if "model" in summary:
        past, local_past = summary.pop("model"), expected_summary.pop("model")
        np.testing.assert_allclose(past.pop("weights"), local_past.pop("weights"), rtol=1e-9)
        np.testing.assert_allclose(past.pop("fitted"), local_past.pop("fitted"), rtol=1e-9)
        assert abs(past.pop("intercept") - local_past.pop("intercept")) <= 1e-9
        assert past == local_past
    assert summary == expected_summary
    # one row per vertex, the same expected influence, ranks and reasons
    assert table["vid"].tolist() == list(range(ev["n"]))
    expected = local.features @ np.asarray(local.model.weights)
    expected = np.round(expected, 9)
    # both are rounded to 9 decimals: weights ~1e-13 apart may round a value either
    # way, one unit of the 9th decimal and no more
    np.testing.assert_allclose(table["expected_influence"], expected, rtol=0, atol=1.000001e-9)
    assert (table["expected_influence"].iloc[-QUIET:] == 0).all()
    np.testing.assert_array_equal(np.lexsort((np.arange(ev["n"]), -table["expected_influence"])),
                                  np.lexsort((np.arange(ev["n"]), -expected)))
    from influence.metrics.score import contributions, reason_text

    model = local.model
    texts = reason_text(expected, contributions(local.features, model.weights),
                        horizon_days=model.horizon_days, half_lives=model.half_lives,
                        reach_half_lives=model.reach_half_lives)
    assert table["score_text"].tolist() == list(texts)
    return run, local, jobs


class _jobs:
    """The Spark jobs run inside the block (a job group of its own)."""

    used = 0

    def __init__(self, spark):
        self.sc = spark.sparkContext
        self.count = None
        _jobs.used += 1
        self.group = f"score_frame_test_{_jobs.used}"

    def __enter__(self):
        self.sc.setJobGroup(self.group, "score_frame")
        return self

    def __exit__(self, *exc):
        self.count = len(self.sc.statusTracker().getJobIdsForGroup(self.group))
        self.sc.setLocalProperty("spark.jobGroup.id", None)
        return False


def test_score_frame_agrees_with_the_local_score_and_check(spark):
    run, local, jobs = _compare(spark, 2000, 5, 180, AnalysisConfig())
    assert local.model.method == "fitted" and "skipped" not in local.check_summary
    assert len(local.check) == 12  # the check ran: six scores at two k
    assert jobs.count is not None and jobs.count > 0


def test_score_frame_agrees_without_enough_history(spark):
    run, local, _ = _compare(spark, 300, 7, 45, AnalysisConfig())
    assert local.model.method == "prior"
    assert run.check_summary == {"skipped": "history shorter than 2 x 30 days"}


def test_score_frame_agrees_with_the_self_check_off(spark):
    config = config_from_dict({"score": {"self_check": False, "check_k": [10, 50]}})
    run, local, _ = _compare(spark, 800, 11, 120, config)
    assert local.model.method == "fitted"
    assert run.check.empty and run.check_summary["skipped"].startswith("turned off")
