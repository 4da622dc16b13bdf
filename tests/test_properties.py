"""Property tests (Hypothesis) for the pipeline's invariants."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
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
    if not usable(events):
        return
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
    if not usable(events):
        return
    order = list(range(len(events)))
    rnd.shuffle(order)
    a = analyze(events)
    b = analyze(events.iloc[order].reset_index(drop=True))
    for name in ("customers", "communities", "segments", "edges", "cascades", "kfactor"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True,
                                      obj=name)


@given(event_tables)
def test_weights_conserved(events):
    if not usable(events):
        return
    result = analyze(events)
    c = result.customers
    assert np.isclose(c["in_strength"].sum(), c["out_strength"].sum())
    assert np.isclose(c["out_strength"].sum(), result.manifest["total_weight"])
    prof = result.communities
    assert np.isclose(prof["internal_weight"].sum() + prof["external_weight"].sum() / 2,
                      result.manifest["total_weight"])
