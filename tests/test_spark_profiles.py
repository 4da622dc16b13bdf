"""K-factor and community profiles on the Spark executors (issue 17) equal the local ones.

Each test builds the per-customer arrays from a real local run (300 generated
customers) and compares :mod:`influence.spark.profiles`' tables, computed from a
Spark DataFrame of those arrays in 3 partitions, with the local functions given
the same arrays. Skipped, with the reason, where pyspark or Java is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from spark_support import why_no_spark

from influence.communities import profiles_from_sums
from influence.config import AnalysisConfig
from influence.local import run_local
from influence.pipeline import finish
from influence.progress import StageClock
from influence.reach.cascades import kfactor_table
from influence.synth import generate_events

WHY = why_no_spark()
pytestmark = [
    pytest.mark.skipif(WHY is not None, reason=WHY or ""),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def _local(events: pd.DataFrame):
    """A local run and its finish, and the per-customer arrays both tables read (vertex
    order): what the Spark engine holds per customer as a DataFrame."""
    config = AnalysisConfig()
    run = run_local(events, config=config, clock=StageClock())
    local = finish(run, config, StageClock())
    finished = local.customers.set_index("customer_id").loc[list(run.ids)]
    frame = pd.DataFrame({
        "customer_id": np.asarray(run.ids, dtype=object),
        "community": run.membership.astype(np.int64),
        "influence_rank": finished["influence_rank"].to_numpy(np.int64),
        "segment": finished["segment"].to_numpy(object),
        "referrals_sent": np.asarray(run.invites, dtype=np.int64),
        "_cycle_days": run.cycle_days.astype(np.float64),
    })
    if run.conversions is not None:
        frame["referrals_converted"] = np.asarray(run.conversions, dtype=np.int64)
    if run.cohort_month is not None:
        frame["cohort_month"] = run.cohort_month
    names = [c.removeprefix("share_") for c in local.communities.columns
             if c.startswith("share_")]
    return run, frame, names


@pytest.fixture(scope="module")
def generated():
    """300 generated customers with timestamps, ``converted`` and referrals."""
    events, _ = generate_events(300, seed=5)
    assert {"timestamp", "converted"} <= set(events.columns)
    return events


@pytest.fixture(scope="module")
def referred(generated):
    return _local(generated)


def _spark_frame(spark, frame: pd.DataFrame, *, nan_as_null: bool = True):
    """``frame`` as a Spark DataFrame in 3 partitions; missing floats as null, or kept
    as NaN (``nan_as_null=False``): the engine's frames may hold either."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if not nan_as_null:
        index = table.schema.get_field_index("_cycle_days")
        table = table.set_column(index, "_cycle_days",
                                 pa.array(frame["_cycle_days"].to_numpy(), from_pandas=False))
        assert pa.compute.is_nan(table["_cycle_days"]).to_numpy().any()
    return spark.createDataFrame(table).repartition(3)


def _groups(frame: pd.DataFrame) -> dict:
    groups = {"community": frame["community"].to_numpy(),
              "segment": frame["segment"].to_numpy(object)}
    if "cohort_month" in frame:
        groups["cohort_month"] = frame["cohort_month"].to_numpy(object)
    return groups


def _want_kfactor(frame: pd.DataFrame) -> pd.DataFrame:
    conversions = (frame["referrals_converted"].to_numpy() if "referrals_converted" in frame
                   else None)
    return kfactor_table(frame["referrals_sent"].to_numpy(), conversions,
                         frame["_cycle_days"].to_numpy(), _groups(frame))


def _jobs(spark, fn):
    """``fn()`` and the number of Spark jobs it ran."""
    import uuid

    group = f"influence-profiles-{uuid.uuid4().hex}"  # a group's jobs are kept: a new one
    context = spark.sparkContext
    context.setJobGroup(group, "count the jobs")
    try:
        result = fn()
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    return result, len(context.statusTracker().getJobIdsForGroup(group))


@pytest.mark.parametrize("nan_as_null", [True, False], ids=["null", "nan"])
def test_kfactor_frame_equals_the_local_table(spark, referred, nan_as_null):
    from influence.spark.profiles import kfactor_frame

    _, frame, _ = referred
    want = _want_kfactor(frame)
    assert (want["group"] == "cohort_month").any() and want["cycle_time_days"].notna().any()
    # medians of even-sized groups: the midpoint rule is exercised
    referrers = frame[frame["referrals_sent"] > 0]
    assert (referrers.groupby("community")["_cycle_days"].count() % 2 == 0).any()
    got = kfactor_frame(_spark_frame(spark, frame, nan_as_null=nan_as_null),
                        groups=("community", "segment", "cohort_month"), has_converted=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    # the medians are bit for bit the local ones (percentile's 0.5 * a + 0.5 * b)
    np.testing.assert_array_equal(got["cycle_time_days"], want["cycle_time_days"])


def test_kfactor_frame_drops_missing_keys_and_spells_them_as_str(spark, referred):
    from influence.spark.profiles import kfactor_frame

    _, frame, _ = referred
    frame = frame.copy()
    segment = frame["segment"].to_numpy(object).copy()
    segment[::3] = None
    frame["segment"] = segment
    cohort = frame["cohort_month"].to_numpy(object).copy()
    cohort[1::4] = None
    frame["cohort_month"] = cohort
    want = _want_kfactor(frame)
    got = kfactor_frame(_spark_frame(spark, frame), has_converted=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    # fewer referrers by segment than overall: the missing keys are dropped, not a key
    by = want.groupby("group")["referrers"].sum()
    assert by["segment"] < by["overall"]
    assert not want["key"].isin(["None", "nan", ""]).any()


def test_kfactor_frame_without_conversions(spark, generated):
    from influence.spark.profiles import kfactor_frame

    run, frame, _ = _local(generated.drop(columns=["converted"]))
    assert run.conversions is None and "referrals_converted" not in frame
    want = _want_kfactor(frame)
    assert want["conversions"].isna().all() and (want["invites"] > 0).all()
    got = kfactor_frame(_spark_frame(spark, frame), has_converted=False)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


def test_kfactor_frame_when_nobody_referred(spark, generated):
    from influence.spark.profiles import kfactor_frame

    run, frame, _ = _local(generated[generated["type"] != "referral"])
    assert (frame["referrals_sent"] == 0).all()
    want = _want_kfactor(frame)
    assert want[["group", "key"]].values.tolist() == [["overall", "all"]]
    got = kfactor_frame(_spark_frame(spark, frame), has_converted=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


def test_kfactor_frame_is_one_spark_job_on_the_engines_columns(spark, referred):
    # as the engine's per-customer frame has them: the cohort in ``_cohort_month``,
    # conversions as doubles
    from influence.spark.profiles import kfactor_frame

    _, frame, _ = referred
    want = _want_kfactor(frame)
    engine = frame.rename(columns={"cohort_month": "_cohort_month"}).astype(
        {"referrals_converted": np.float64})
    data = _spark_frame(spark, engine)
    got, jobs = _jobs(spark, lambda: kfactor_frame(data, groups={
        "community": "community", "segment": "segment", "cohort_month": "_cohort_month"},
        has_converted=True))
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert jobs == 1


@pytest.mark.parametrize("top", [5, 1, 0])
def test_community_profiles_frame_equals_the_local_table(spark, referred, top):
    from influence.spark.profiles import community_profiles_frame

    run, frame, names = referred
    assert len(names) > 3 and len(run.community_sums) > 2
    want = profiles_from_sums(frame["community"].to_numpy(),
                              frame["influence_rank"].to_numpy(), run.ids, run.community_sums,
                              top=top, segment=frame["segment"].to_numpy(object),
                              segment_names=names)
    assert (want["size"] > top).any()
    got = community_profiles_frame(_spark_frame(spark, frame), run.community_sums, top=top,
                                   segment_names=names)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    if top:
        assert got["leader"].tolist() == [t.split(";")[0] for t in got["top_members"]]


def test_community_profiles_frame_without_segments_is_one_job(spark, referred):
    from influence.spark.profiles import community_profiles_frame

    run, frame, _ = referred
    want = profiles_from_sums(frame["community"].to_numpy(),
                              frame["influence_rank"].to_numpy(), run.ids, run.community_sums)
    data = _spark_frame(spark, frame.drop(columns=["segment"]))
    got, jobs = _jobs(spark, lambda: community_profiles_frame(data, run.community_sums))
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert jobs == 1


def test_community_profiles_frame_refuses_numbers_the_sums_do_not_have(spark, referred):
    from influence.spark.profiles import community_profiles_frame

    run, frame, _ = referred
    frame = frame.assign(community=frame["community"] + 1)
    with pytest.raises(ValueError, match="numbered 0 .. "):
        community_profiles_frame(_spark_frame(spark, frame), run.community_sums)


def test_kfactor_frame_refuses_a_floating_group_key(spark, referred):
    # Spark spells doubles unlike str() (1.0E20 for 1e+20): refused, not mis-keyed
    from influence.spark.profiles import kfactor_frame

    _, frame, _ = referred
    data = _spark_frame(spark, frame.assign(community=frame["community"].astype(float)))
    with pytest.raises(TypeError, match="'community' is floating point"):
        kfactor_frame(data, has_converted=True)
