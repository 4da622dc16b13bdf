import numpy as np
import pandas as pd
import pytest

from influence.config import SegmentConfig
from influence.segments import SEGMENTS, assign_segments, assign_tiers, plan_rules, segment_profiles


def test_tiers_by_rank_with_ties_and_zeros():
    assert assign_tiers([5, 0, 3, 3, 1], 0.2, 0.4).tolist() == ["high", "low", "mid", "mid",
                                                                 "low"]
    assert assign_tiers([0, 0, 0]).tolist() == ["low"] * 3
    assert assign_tiers([7]).tolist() == ["high"]
    assert assign_tiers([]).tolist() == []
    # ties that straddle a cut share the better tier
    assert assign_tiers([2, 2, 2, 1], 0.25, 0.25).tolist() == ["high"] * 3 + ["low"]


def test_share_parameters_have_effect():
    values = np.arange(1, 101)
    assert (assign_tiers(values, 0.1, 0.4) == "high").sum() == 10
    assert (assign_tiers(values, 0.3, 0.4) == "high").sum() == 30
    assert (assign_tiers(values, 0.1, 0.2) == "mid").sum() == 20


def table(**columns):
    return pd.DataFrame(columns)


def test_rules_in_priority_order():
    customers = table(
        influence_score=[0.99, 0.95, 0.9, 0.5, 0.1, 0.0, 0.2, 0.3, 0.15, 0.05],
        events_sent=[50, 0, 30, 2, 100, 0, 1, 1, 1, 1],
        events_received=[5, 5, 5, 1, 0, 0, 1, 1, 1, 1],
        recency_days=[1, np.nan, 200, 3, 1, np.nan, 4, 5, 6, 7],
        out_strength=[90, 5, 40, 3, 100, 0, 1, 1, 1, 1],
        influence_rate=[9, np.nan, 30, 1, 2, np.nan, 1, 1, 1, 1],
    )
    # max_share=1: no cap on ten customers (the caps have their own tests)
    got = assign_segments(customers, SegmentConfig(high_share=0.3, mid_share=0.3,
                                                   dormant_days=60, max_share=1.0),
                          has_timestamps=True)
    assert got["segment"].tolist()[:6] == ["champions", "quiet_influencers",
                                           "dormant_advocates", "contributors",
                                           "engaged_members", "isolated"]
    assert set(got["segment"]) <= set(SEGMENTS)
    assert "last active 200 days ago (rule: > 60)" in got.loc[2, "segment_reason"]
    assert "score 0.990" in got.loc[0, "segment_reason"]


def test_dormant_days_has_effect_and_no_dormancy_without_time():
    customers = table(influence_score=[0.9, 0.1], events_sent=[10, 1],
                      events_received=[1, 1], recency_days=[45, 1], out_strength=[20, 2],
                      influence_rate=[20, 2])
    strict = assign_segments(customers, SegmentConfig(dormant_days=30, max_share=1.0), True)
    loose = assign_segments(customers, SegmentConfig(dormant_days=60, max_share=1.0), True)
    assert strict.loc[0, "segment"] == "dormant_advocates"
    assert loose.loc[0, "segment"] == "champions"
    timeless = assign_segments(customers.drop(columns="recency_days"),
                               SegmentConfig(dormant_days=30, max_share=1.0), False)
    assert timeless.loc[0, "segment"] == "champions"
    assert "last active" not in timeless.loc[0, "segment_reason"]


def full_table():
    """A table with the columns of issues #4/#5 too (community_role, reach, lifecycle...)."""
    return table(
        customer_id=[f"c{i}" for i in range(10)],
        influence_score=[0.99, 0.2, 0.3, 0.95, 0.5, 0.6, 0.1, 0.05, 0.0, 0.4],
        events_sent=[40, 1, 2, 30, 3, 9, 1, 1, 0, 2],
        events_received=[5, 1, 1, 5, 1, 2, 1, 1, 0, 1],
        out_strength=[80, 2, 3, 60, 6, 12, 1, 1, 0, 4],
        recency_days=[1, 2, 3, 90, 4, 5, 6, 7, np.nan, 8],
        first_active=pd.to_datetime(["2026-01-01"] * 6 + ["2026-06-20"] * 2 + [None]
                                    + ["2026-06-25"], utc=True),
        community_role=["member", "connector", "local_leader", "member", "member", "member",
                        "peripheral", "peripheral", "peripheral", "member"],
        reach_2=[300, 50, 40, 200, 10, 20, 1, 1, 0, 5],
        propagator_rank=[np.nan, np.nan, np.nan, np.nan, 1, np.nan, np.nan, np.nan, np.nan,
                         np.nan],
        referrals_sent=[10, 0, 1, 4, 2, 0, 0, 0, 0, 1],
        referrals_converted=[4, 0, 1, 1, 1, 0, 0, 0, 0, 0],
        influence_rate=[8, 1, 1, 30, 2, 3, 1, 1, np.nan, 2],
        cross_influence=[0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
    )


#: Ten customers: the caps would keep one per action segment (they have their own tests).
UNCAPPED = dict(max_share=1.0, connector_share=1.0, rising_share=0.6)


def test_rules_light_up_with_columns_from_other_stages():
    customers = full_table()
    end = pd.Timestamp("2026-07-01", tz="UTC")
    got = assign_segments(customers, SegmentConfig(high_share=0.2, mid_share=0.3,
                                                   **UNCAPPED), True, end=end)
    assert got["segment"].tolist() == [
        "champions", "connectors", "local_leaders", "dormant_advocates", "champions",
        "contributors", "newcomers", "newcomers", "isolated", "rising_stars"]
    assert "key propagator #1" in got.loc[4, "segment_reason"]
    assert "connector of community" not in got.loc[1, "segment_reason"]  # no community col
    assert "community role connector" in got.loc[1, "segment_reason"]
    assert "first active 6 days ago (rule: <= 30)" in got.loc[9, "segment_reason"]
    assert got["reach_tier"].tolist()[:2] == ["high", "mid"]
    assert got.loc[8, "tenure_days"] != got.loc[8, "tenure_days"]  # NaN: never sent


def test_rules_with_absent_columns_are_skipped_and_reported():
    customers = full_table().drop(columns=["community_role", "propagator_rank",
                                           "first_active"])
    got = assign_segments(customers, SegmentConfig(high_share=0.2, mid_share=0.3), True)
    assert not {"connectors", "local_leaders", "rising_stars", "newcomers"} & set(
        got["segment"])
    assert "tenure_days" not in got.columns
    columns = list(customers.columns) + ["influence_tier", "activity_tier"]
    plans = {p.rule.name: p for p in plan_rules(SegmentConfig(), columns)}
    assert plans["connectors"].missing == ("community_role",)
    assert plans["key_propagators"].to_dict()["status"] == "skipped"
    assert plans["champions"].to_dict()["status"] == "applied"


def test_every_customer_gets_exactly_one_segment_on_odd_inputs():
    for customers in (table(influence_score=[], events_sent=[], events_received=[]),
                      table(influence_score=[0.0], events_sent=[0], events_received=[0]),
                      table(influence_score=[0.5] * 7, events_sent=[3] * 7,
                            events_received=[1] * 7)):
        got = assign_segments(customers, SegmentConfig(), False)
        assert len(got) == len(customers)
        assert got["segment"].notna().all() and got["segment_reason"].str.len().gt(0).all()


def test_custom_rules_order_disable_and_default():
    customers = full_table()
    config = SegmentConfig(
        high_share=0.2, mid_share=0.3, **UNCAPPED,
        rules=({"name": "vip_referrers", "when": "referrals_converted >= 4 and "
                                                 "recency_days <= 30"},
               {"name": "champions", "when": "pct(reach_2) >= 80"}),
        disable=("isolated",), order=("dormant_advocates",), default="everyone_else")
    names = [p.rule.name for p in plan_rules(config)]
    assert names[:3] == ["dormant_advocates", "vip_referrers", "key_propagators"]
    assert "isolated" not in names and names.index("champions") == 3
    got = assign_segments(customers, config, True)
    assert got.loc[0, "segment"] == "vip_referrers"
    assert "referrals converted 4 (rule: >= 4)" in got.loc[0, "segment_reason"]
    assert got.loc[3, "segment"] == "dormant_advocates"
    assert got.loc[8, "segment"] == "everyone_else"
    assert got.loc[8, "segment_reason"].startswith("no rule matched")


def test_thresholds_have_effect():
    customers = full_table()
    end = pd.Timestamp("2026-07-01", tz="UTC")
    short = assign_segments(customers, SegmentConfig(new_days=5, **UNCAPPED), True, end=end)
    long = assign_segments(customers, SegmentConfig(new_days=30, **UNCAPPED), True, end=end)
    assert short.loc[9, "segment"] != "rising_stars"
    assert long.loc[9, "segment"] in ("rising_stars", "newcomers")
    assert short.loc[9, "tenure_days"] == 6
    # dormant advocates: influence rate while active in the top dormant_share
    few = table(influence_score=[0.9, 0.0, 0.0, 0.0], events_sent=[10, 2, 1, 1],
                events_received=[1, 1, 1, 1], recency_days=[1, 90, 1, 1],
                out_strength=[5, 1, 1, 1], influence_rate=[5, 3, 2, 4])
    assert assign_segments(few, SegmentConfig(dormant_share=0.8, max_share=1.0), True).loc[
        1, "segment"] == "dormant_advocates"
    assert assign_segments(few, SegmentConfig(dormant_share=0.5, max_share=1.0), True).loc[
        1, "segment"] != "dormant_advocates"


def test_profiles_k_factor_and_suppression():
    customers = full_table()
    customers["segment"] = ["a"] * 4 + ["b"] * 6
    profiles = segment_profiles(customers, min_segment_size=5, order=["b", "a"])
    assert profiles["segment"].tolist() == ["b", "a"]
    b = profiles.iloc[0]
    # b: referrals sent [2, 0, 0, 0, 0, 1] -> 2 referrers, 1.5 invites each, 1/3 convert
    assert b["size"] == 6 and b["referrers"] == 2
    assert b["invites_per_referrer"] == pytest.approx(1.5)
    assert b["conversion_rate"] == pytest.approx(1 / 3)
    assert b["k_factor"] == pytest.approx(0.5)
    a = profiles.iloc[1]
    assert a["suppressed"] and np.isnan(a["k_factor"]) and np.isnan(a["median_pagerank"]
                                                                    if "median_pagerank"
                                                                    in a else np.nan)
    assert a["size"] == 4 and a["share"] == pytest.approx(0.4)
    plain = segment_profiles(customers.drop(columns=["referrals_sent"]))
    assert "k_factor" not in plain.columns and not plain["suppressed"].any()


def _crowd(n=100):
    """``n`` customers who all sent events and exerted influence, ranked by id."""
    rank = np.arange(1, n + 1)
    return table(influence_score=1.0 - rank / n, influence_rank=rank,
                 events_sent=np.full(n, 10), events_received=np.full(n, 1),
                 out_strength=np.full(n, 5.0), recency_days=np.full(n, 1.0))


def test_action_segments_are_capped_and_rules_only_narrow():
    """Issue 16: each action segment holds at most max_share of the customers with events,
    the best by its ranking; the rest fall through. Before: 50 champions of 100."""
    got = assign_segments(_crowd(), SegmentConfig(high_share=0.5), True)
    counts = got["segment"].value_counts()
    assert counts["champions"] == 10 and counts["quiet_influencers"] == 10
    assert got["segment"].tolist()[:10] == ["champions"] * 10        # ranks 1-10
    assert (got["segment"].iloc[10:20] == "quiet_influencers").all()  # the next ones
    caps = got.attrs["caps"]
    assert caps["cap"] == 10 and caps["segments"]["champions"] == {"eligible": 50, "kept": 10}
    # a custom rule can narrow a capped segment, never widen it past the cap
    wide = SegmentConfig(high_share=0.5, rules=({"name": "champions", "when": "events_sent > 0"},))
    assert (assign_segments(_crowd(), wide, True)["segment"] == "champions").sum() == 10
    narrow = SegmentConfig(high_share=0.5, max_share=0.3,
                           rules=({"name": "champions", "when": "influence_rank <= 3"},))
    assert (assign_segments(_crowd(), narrow, True)["segment"] == "champions").sum() == 3
    # the cap is a share of the customers with events, not of everyone listed
    crowd = pd.concat([_crowd(), table(influence_score=[0.0] * 100, influence_rank=range(101, 201),
                                       events_sent=[0] * 100, events_received=[0] * 100,
                                       out_strength=[0.0] * 100, recency_days=[np.nan] * 100)],
                      ignore_index=True)
    got = assign_segments(crowd, SegmentConfig(high_share=0.5), True)
    assert (got["segment"] == "champions").sum() == 10
    assert (got["segment"] == "isolated").sum() == 100


def test_dormant_advocates_ranked_by_influence_rate():
    crowd = _crowd(40).assign(recency_days=200.0, influence_rate=np.arange(40.0))
    got = assign_segments(crowd, SegmentConfig(), True)
    dormant = np.flatnonzero(got["segment"] == "dormant_advocates")
    assert dormant.tolist() == [36, 37, 38, 39]                      # the 4 highest rates
    assert "influence rate 39 (rule: percentile >= 50)" in got.loc[39, "segment_reason"]


def test_nobody_who_never_acted_is_champion_dormant_or_key_propagator():
    """Issue 16: customers with no event sent or no influence exerted became champions
    through the key-propagator rule, and every customer of a tiny input was one."""
    crowd = _crowd(100)
    crowd.loc[:9, "events_sent"] = 0         # the ten best never sent anything
    crowd.loc[10:19, "out_strength"] = 0.0   # the next ten moved nobody
    crowd["propagator_rank"] = pd.array([1, 2, 3, 4, 5] + [pd.NA] * 6 + [6] + [pd.NA] * 88,
                                        dtype="Int64")
    crowd["influence_rate"] = 1.0
    crowd.loc[:19, "recency_days"] = 200.0
    got = assign_segments(crowd, SegmentConfig(high_share=0.5, max_share=1.0), True)
    acted = (crowd["events_sent"] > 0) & (crowd["out_strength"] > 0)
    for name in ("champions", "dormant_advocates"):
        assert acted[got["segment"] == name].all(), name
    assert not got.loc[:19, "segment"].isin(["champions", "dormant_advocates"]).any()


def test_rules_on_attributes_with_missing_values_give_reasons():
    # customers without the attribute (not in --customers) have no value: a rule reading it
    # used to fail while writing the reasons ("can only concatenate str (not float)")
    from influence.segments import _Facts

    table = pd.DataFrame({"influence_score": [0.9, 0.5, 0.1, 0.0],
                          "out_strength": [5.0, 3.0, 1.0, 0.0],
                          "events_sent": [12, 6, 1, 0], "events_received": [3, 2, 1, 0],
                          "plan": ["pro", None, "free", None]})
    config = SegmentConfig(max_share=1.0, rules=[
        {"name": "pros", "when": "plan == 'pro'"},
        {"name": "unknown_plan", "when": "events_sent > 0 and influence_score > 0.2"}])
    out = assign_segments(table, config)
    assert out["segment"].tolist()[:2] == ["pros", "unknown_plan"]
    assert out["segment_reason"][0] == ("plan pro; influence high (score 0.900, top 25%); "
                                        "activity high (12 events sent)")
    assert _Facts(table).get("plan").to_pylist() == ["plan pro", "plan missing", "plan free",
                                                     "plan missing"]
    assert out["segment_reason"].notna().all()
