import numpy as np
import pandas as pd
import pytest

from influence.config import SegmentConfig
from influence.segments import SEGMENTS, assign_segments, assign_tiers


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
        out_strength=[90, 0, 40, 3, 100, 0, 1, 1, 1, 1],
    )
    got = assign_segments(customers, SegmentConfig(high_share=0.3, mid_share=0.3,
                                                   dormant_days=60), has_timestamps=True)
    assert got["segment"].tolist()[:6] == ["champions", "quiet_influencers",
                                           "dormant_advocates", "contributors",
                                           "engaged_members", "isolated"]
    assert set(got["segment"]) <= set(SEGMENTS)
    assert "last active 200 days ago (rule: > 60)" in got.loc[2, "segment_reason"]
    assert "score 0.990" in got.loc[0, "segment_reason"]


def test_dormant_days_has_effect_and_no_dormancy_without_time():
    customers = table(influence_score=[0.9, 0.1], events_sent=[10, 1],
                      events_received=[1, 1], recency_days=[45, 1], out_strength=[20, 2])
    strict = assign_segments(customers, SegmentConfig(dormant_days=30), True)
    loose = assign_segments(customers, SegmentConfig(dormant_days=60), True)
    assert strict.loc[0, "segment"] == "dormant_advocates"
    assert loose.loc[0, "segment"] == "champions"
    timeless = assign_segments(customers.drop(columns="recency_days"),
                               SegmentConfig(dormant_days=30), False)
    assert timeless.loc[0, "segment"] == "champions"
    assert "last active" not in timeless.loc[0, "segment_reason"]
