"""Property tests (Hypothesis) for the pipeline's invariants."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from influence import analyze

ids = st.sampled_from([f"c{i}" for i in range(12)] + ["007", "=x", "a b", "é"])
event = st.tuples(ids, st.one_of(st.none(), ids),
                  st.sampled_from(["share", "referral", "comment"]),
                  st.sampled_from(["2026-01-01", "2026-01-02T10:00:00Z", "1767225600",
                                   "garbage", None]))
event_tables = st.lists(event, min_size=1, max_size=40).map(
    lambda rows: pd.DataFrame(rows, columns=["source", "target", "type", "timestamp"]))

settings.register_profile("influence", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("influence")


def usable(events):
    ok = events["source"].notna() & (events["source"] != events["target"]) & \
        (events["timestamp"].notna() & (events["timestamp"] != "garbage"))
    return ok.any()


@given(event_tables)
def test_every_customer_exactly_once_and_accounting(events):
    assume(usable(events))  # a table without any usable row is another test's case
    result = analyze(events)
    expected = set(events["source"].dropna()) | set(events["target"].dropna())
    got = result.customers["customer_id"]
    assert got.is_unique and set(got) == expected
    m = result.manifest
    assert m["rows_read"] == len(events) == m["rows_used"] + sum(m["dropped"].values())
    assert result.customers["influence_rank"].tolist() == list(range(1, len(got) + 1))
    assert result.communities["size"].sum() == len(got)
    assert np.isclose(result.customers["pagerank"].sum(), 1.0)


# weights and money that binary floats cannot hold exactly: sums depend on the order
money = st.sampled_from([0.1, 0.2, 0.3, 19.99, 7.07, 1.0])
money_tables = st.lists(st.tuples(event, money, money, st.booleans()), min_size=1,
                        max_size=40).map(lambda rows: pd.DataFrame(
                            [(*e, w, v, c) for e, w, v, c in rows],
                            columns=["source", "target", "type", "timestamp", "weight",
                                     "value", "converted"]))


@given(money_tables, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(events, rnd):
    """Every table of the analysis is the same, to the bit, with the rows shuffled."""
    assume(usable(events))  # a table without any usable row is another test's case
    order = list(range(len(events)))
    rnd.shuffle(order)
    a = analyze(events)
    b = analyze(events.iloc[order].reset_index(drop=True))
    for name in ("customers", "communities", "segments", "edges", "cascades", "kfactor"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True,
                                      obj=name)


@given(event_tables)
def test_weights_conserved(events):
    assume(usable(events))  # a table without any usable row is another test's case
    result = analyze(events)
    c = result.customers
    assert np.isclose(c["in_strength"].sum(), c["out_strength"].sum())
    assert np.isclose(c["out_strength"].sum(), result.manifest["total_weight"])
    prof = result.communities
    assert np.isclose(prof["internal_weight"].sum() + prof["external_weight"].sum() / 2,
                      result.manifest["total_weight"])


# --- any finite weights and values give finite scores and sane reasons ----------------

import re  # noqa: E402

import pytest  # noqa: E402

from influence.errors import InputError  # noqa: E402

_finite_positive = st.floats(min_value=0.0, max_value=1.7976931348623157e308, exclude_min=True,
                             allow_nan=False, allow_infinity=False)
_finite_nonnegative = st.floats(min_value=0.0, max_value=1.7976931348623157e308,
                                allow_nan=False, allow_infinity=False)
_weighted_event = st.tuples(ids, ids, st.sampled_from(["share", "referral", "comment"]),
                            st.sampled_from(["2026-01-01", "2026-01-05", "2026-02-01"]),
                            _finite_positive, _finite_nonnegative, st.booleans())
_SCORES = ("influence_score", "pagerank", "in_strength", "out_strength", "hub", "authority",
           "betweenness", "reach_1")


def _sane(reason: str) -> bool:
    percents = [int(p) for p in re.findall(r"top (-?\d+)%", reason)]
    return (all(1 <= p <= 100 for p in percents)
            and re.search(r"\b(nan|inf|NaN)\b", reason) is None
            and re.search(r"-\d{6,}", reason) is None)


@given(st.lists(_weighted_event, min_size=1, max_size=25), st.booleans())
def test_any_finite_weights_and_values_give_finite_scores_and_sane_reasons(rows, decay):
    events = pd.DataFrame(rows, columns=["source", "target", "type", "timestamp", "weight",
                                         "value", "converted"])
    events["weight"] = events["weight"].map(repr)  # as a file would hold them
    config = None
    if decay:  # weights decayed towards zero as well (1 day half-life, a century later)
        from influence.config import config_from_dict

        config = config_from_dict({"window": {"half_life_days": 1, "until": "2126-01-01"}})
    try:
        result = analyze(events, config=config)
    except InputError as exc:  # every row dropped: said so, with the counts
        assert "no usable events" in str(exc)
        return
    c = result.customers
    for column in _SCORES:
        assert np.isfinite(c[column].to_numpy(dtype=float)).all(), column
    numbers = c.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(numbers).any()
    assert all(_sane(r) for r in c["segment_reason"]), c["segment_reason"].tolist()
    # too large for sums to stay finite: dropped and counted (these reasons come first)
    big_weight = events["weight"].astype(float) > 1e15
    dropped = result.manifest["dropped"]
    assert dropped["bad_weight"] == big_weight.sum()
    assert dropped["bad_value"] == (~big_weight & (events["value"] > 1e15)).sum()


@pytest.mark.parametrize("weight", ["1e308", "1.7976931348623157e308", "1e16"])
def test_huge_weights_are_dropped_and_said_so(weight):
    events = pd.DataFrame({"source": ["a", "b", "c"], "target": ["b", "c", "a"],
                           "type": ["share"] * 3, "weight": [weight, weight, "1"]})
    result = analyze(events)
    assert result.manifest["dropped"]["bad_weight"] == 2
    assert any("bad_weight: 2 above 1e+15" in w for w in result.manifest["warnings"])
    assert np.isfinite(result.customers["influence_score"]).all()
    assert all(_sane(r) for r in result.customers["segment_reason"])
