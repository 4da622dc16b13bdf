"""Tests for influence.synth: the synthetic event generator and its planted truth."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from influence.synth import ROLES, SYNTH_EVENT_COLUMNS, TRUTH_COLUMNS, generate_events

N = 3000
SEED = 7
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def data():
    return generate_events(N, seed=SEED)


def _ts(series):
    return pd.to_datetime(series, format="%Y-%m-%dT%H:%M:%SZ", utc=True)


def _check_invariants(events, truth, n, *, start="2026-01-01", days=180):
    """Properties every generated dataset has, whatever the arguments."""
    assert list(events.columns) == list(SYNTH_EVENT_COLUMNS)
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert len(truth) == n
    assert truth["customer_id"].is_unique
    ids = set(truth["customer_id"])
    # No self-loops, no exact duplicates, no null sources.
    assert events["source"].notna().all()
    assert not (events["source"] == events["target"]).fillna(False).any()
    assert not events.duplicated().any()
    # Every customer is visible; every id in events is a known customer.
    seen = set(events["source"]) | set(events["target"].dropna())
    assert seen == ids
    # Timestamps inside [start, start + days).
    ts = _ts(events["timestamp"])
    stamp = pd.Timestamp(start)
    lo = pd.Timestamp(start, tz="UTC") if stamp.tzinfo is None else stamp
    assert ts.min() >= lo
    assert ts.max() < lo + pd.Timedelta(days=days)
    # Sorted by timestamp, then source, then target (missing last).
    key = events[["timestamp", "source", "target"]].fillna({"target": "\uffff"})
    assert key.equals(key.sort_values(["timestamp", "source", "target"], kind="stable"))
    # Referral events are exactly the planted forest.
    ref = events[events["type"] == "referral"]
    planted = truth.dropna(subset=["referred_by"])
    assert ref["target"].is_unique
    got = ref.set_index("target")[["source", "timestamp"]].sort_index()
    want = planted.set_index("customer_id")[["referred_by", "joined"]].sort_index()
    assert list(got.index) == list(want.index)
    assert (got["source"].to_numpy() == want["referred_by"].to_numpy()).all()
    assert (got["timestamp"].to_numpy() == want["joined"].to_numpy()).all()
    joined = truth.set_index("customer_id")["joined"]
    assert (joined[planted["referred_by"]].to_numpy() < planted["joined"].to_numpy()).all()
    # Dormant customers are silent as sources after 60% of the period.
    cut = lo + pd.Timedelta(days=days) * 0.6
    dormant = truth.loc[truth["role"] == "dormant", "customer_id"]
    assert not events.loc[ts >= cut, "source"].isin(dormant).any()


# ---------------------------------------------------------------------------
# determinism


def test_same_seed_gives_identical_frames(data):
    events, truth = generate_events(N, seed=SEED)
    pd.testing.assert_frame_equal(events, data[0])
    pd.testing.assert_frame_equal(truth, data[1])


def test_different_seed_differs(data):
    events, truth = generate_events(N, seed=SEED + 1)
    assert not events.equals(data[0])
    assert not truth.equals(data[1])


# ---------------------------------------------------------------------------
# schema


def test_event_columns_and_dtypes(data):
    events, _ = data
    assert list(events.columns) == ["source", "target", "type", "timestamp", "converted", "value"]
    for col in ("source", "target", "type", "timestamp", "converted"):
        assert isinstance(events[col].dtype, pd.StringDtype), col
        assert events[col].dtype.na_value is pd.NA
    assert events["value"].dtype == np.float64
    assert isinstance(events.index, pd.RangeIndex)


def test_event_values(data):
    events, _ = data
    assert set(events["type"]) == {"share", "referral", "comment"}
    assert events["source"].str.fullmatch(r"c\d{7}").all()
    assert events["target"].dropna().str.fullmatch(r"c\d{7}").all()
    assert events["timestamp"].str.fullmatch(TS_RE.pattern).all()
    empty = events["target"].isna().mean()
    assert 0.01 < empty < 0.03
    is_ref = events["type"] == "referral"
    assert events.loc[is_ref, "converted"].isin(["true", "false"]).all()
    assert events.loc[~is_ref, "converted"].isna().all()
    conv = events["converted"] == "true"
    conv = conv.fillna(False).astype(bool)
    assert 0.3 < conv[is_ref].mean() < 0.5
    assert events.loc[conv, "value"].gt(0).all()
    assert events.loc[~conv, "value"].isna().all()
    assert 35 < events.loc[conv, "value"].median() < 65


def test_truth_table(data):
    events, truth = data
    assert len(truth) == N
    assert list(truth["customer_id"]) == [f"c{i:07d}" for i in range(N)]
    assert truth["community"].dtype == np.int64
    k = max(2, N // 250)
    assert set(truth["community"]) == set(range(k))
    assert set(truth["role"]) == set(ROLES)
    for col in ("customer_id", "role", "referred_by", "joined"):
        assert isinstance(truth[col].dtype, pd.StringDtype), col
    assert truth["joined"].str.fullmatch(TS_RE.pattern).all()
    assert truth["referred_by"].dropna().isin(truth["customer_id"]).all()
    assert 0.2 < truth["referred_by"].notna().mean() < 0.35
    roles = truth["role"].value_counts()
    assert roles["propagator"] >= 1
    assert 0.003 * N <= roles["propagator"] <= 0.006 * N
    assert 0.04 * N <= roles["dormant"] <= 0.06 * N


def test_csv_round_trip_keeps_text(data, tmp_path):
    events, _ = data
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["source"].str.fullmatch(r"c\d{7}").all()
    assert set(back["converted"]) == {"true", "false", ""}
    assert (back["target"] == "").mean() == pytest.approx(events["target"].isna().mean())
    assert list(back["timestamp"]) == list(events["timestamp"])


def test_ids_padding_grows_with_n():
    from influence.synth import _customer_ids

    assert _customer_ids(3).to_pylist() == ["c0000000", "c0000001", "c0000002"]
    big = _customer_ids(10_000_001)
    assert big[0].as_py() == "c00000000"
    assert big[-2].as_py() == "c09999999"
    assert big[-1].as_py() == "c10000000"


# ---------------------------------------------------------------------------
# planted structure


def test_invariants_default(data):
    _check_invariants(*data, N)


@pytest.mark.parametrize(
    "n, kw",
    [
        (2, {}),
        (7, {"days": 1}),
        (60, {"n_communities": 1}),
        (500, {"mixing": 0.0, "days": 30, "start": "2025-12-31T18:30:15"}),
        (800, {"mixing": 1.0, "n_communities": 5, "seed": 3}),
        (400, {"start": "2026-02-01T10:00:00+02:00", "seed": 11}),
    ],
)
def test_invariants_other_arguments(n, kw):
    events, truth = generate_events(n, **kw)
    _check_invariants(events, truth, n, start=kw.get("start", "2026-01-01"),
                      days=kw.get("days", 180))


def test_referral_forest_has_no_cycles(data):
    _, truth = data
    parent = dict(zip(truth["customer_id"], truth["referred_by"].astype(object).where(
        truth["referred_by"].notna(), None)))
    for node in parent:
        seen = set()
        while node is not None:
            assert node not in seen
            seen.add(node)
            node = parent[node]


def test_dormant_were_active_then_silent(data):
    events, truth = data
    dormant = truth.loc[truth["role"] == "dormant", "customer_id"]
    ts = _ts(events["timestamp"])
    cut = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=180 * 0.6)
    late = events.loc[ts >= cut, "source"]
    assert not late.isin(dormant).any()
    early = events.loc[ts < cut, "source"]
    # Every dormant customer acted before going quiet.
    assert dormant.isin(early).all()
    # Some of them still receive after the cut.
    assert events.loc[ts >= cut, "target"].isin(dormant).any()


def test_propagators_are_far_more_active(data):
    events, truth = data
    out = events["source"].value_counts().reindex(truth["customer_id"], fill_value=0)
    role = truth.set_index("customer_id")["role"]
    mean_out = out.groupby(role.to_numpy()).mean()
    assert mean_out["propagator"] > 5 * mean_out["regular"]
    # Their referral subtrees are larger than other organic customers'.
    children = truth.dropna(subset=["referred_by"]).groupby("referred_by").size()
    kids = children.reindex(truth["customer_id"], fill_value=0)
    assert kids[role == "propagator"].mean() > 5 * kids[(role == "regular").to_numpy()].mean()


def test_activity_is_heavy_tailed(data):
    events, truth = data
    out = events["source"].value_counts().reindex(truth["customer_id"], fill_value=0)
    assert out.min() >= 1
    assert out.max() > 10 * out.median()
    indeg = events["target"].value_counts()
    assert indeg.max() > 10 * indeg.median()


@pytest.mark.parametrize("mixing", [0.15, 0.4])
def test_communities_hold_most_edges(mixing):
    events, truth = generate_events(4000, seed=5, mixing=mixing)
    comm = truth.set_index("customer_id")["community"]
    edges = events.dropna(subset=["target"])
    within = (comm[edges["source"]].to_numpy() == comm[edges["target"]].to_numpy()).mean()
    assert within >= 1 - mixing - 0.05
    assert within <= 1 - mixing + 0.05  # and mixing really happens


@pytest.mark.parametrize(
    "kw",
    [
        {"n_customers": 1},
        {"n_customers": 2.5},
        {"n_customers": 10, "days": 0},
        {"n_customers": 10, "mixing": 1.5},
        {"n_customers": 10, "n_communities": 11},
        {"n_customers": 10, "n_communities": 0},
        {"n_customers": 10, "start": "not a date"},
    ],
)
def test_bad_arguments_raise(kw):
    with pytest.raises(ValueError):
        generate_events(**kw)


def test_scale_20k():
    n = 20_000
    events, truth = generate_events(n, seed=2)
    assert len(truth) == n
    assert 7 <= len(events) / n <= 13
    assert not (events["source"] == events["target"]).fillna(False).any()
    assert not events.duplicated().any()
    sizes = truth["community"].value_counts()
    assert len(sizes) == n // 250
    assert sizes.max() > 3 * sizes.median()  # heavy-tailed community sizes
