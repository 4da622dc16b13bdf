"""Tiers and named segments, each customer with a reason a person can read.

Tiers are built by ranking then cutting (never by quantile bins that crash on
ties): a customer's tier on an axis is ``high`` when fewer than
``high_share`` of customers rank strictly above them, ``mid`` within
``high_share + mid_share``, else ``low``. Tied customers share a tier, and a
customer whose value is zero is never above ``low``.

The first segmentation crosses the influence tier with the activity tier
(and, with timestamps, dormancy). Rules are evaluated in this order; the first
that matches names the segment:

=====================  ====================================================
segment                rule
=====================  ====================================================
``isolated``           no event sent or received
``dormant_advocates``  influence high or mid, has sent events, but none in
                       the last ``dormant_days`` days before the end date
``champions``          influence high, activity high or mid
``quiet_influencers``  influence high, activity low
``engaged_members``    activity high, influence mid or low
``contributors``       influence mid
``passive_audience``   everyone else
=====================  ====================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import SegmentConfig

__all__ = ["SEGMENTS", "assign_tiers", "assign_segments"]

#: Segment names in rule order.
SEGMENTS = ("isolated", "dormant_advocates", "champions", "quiet_influencers",
            "engaged_members", "contributors", "passive_audience")


def assign_tiers(values: np.ndarray | pd.Series, high_share: float = 0.10,
                 mid_share: float = 0.40) -> np.ndarray:
    """Cut values into ``high``/``mid``/``low`` tiers by rank.

    Parameters
    ----------
    values : array-like of float
        Larger is better.
    high_share, mid_share : float
        Shares of customers in the high and mid tiers.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> assign_tiers([5, 0, 3, 3, 1], high_share=0.2, mid_share=0.4).tolist()
    ['high', 'low', 'mid', 'mid', 'low']
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    above = pd.Series(values).rank(method="min", ascending=False).to_numpy() - 1
    # how many customers each tier holds, rounded up (>= 1 customer when share > 0);
    # the epsilon keeps 0.1 + 0.2 from counting as 0.30000000000000004
    n_high = np.ceil(high_share * n - 1e-9)
    n_mid = np.ceil((high_share + mid_share) * n - 1e-9)
    tiers = np.full(n, "low", dtype=object)
    mid = (above < n_mid) & (values > 0)
    high = (above < n_high) & (values > 0)
    tiers[mid] = "mid"
    tiers[high] = "high"
    return tiers


def _top_percent(above: np.ndarray, n: int) -> np.ndarray:
    share = np.ceil(100.0 * (above + 1) / max(n, 1)).astype(int)
    return np.char.add(np.char.add("top ", share.astype(str)), "%")


def assign_segments(customers: pd.DataFrame, config: SegmentConfig,
                    has_timestamps: bool) -> pd.DataFrame:
    """Name one segment per customer, with tiers and a reason.

    Parameters
    ----------
    customers : pandas.DataFrame
        Needs ``influence_score``, ``events_sent``, ``events_received`` and,
        with timestamps, ``recency_days``.
    config : SegmentConfig
    has_timestamps : bool
        Without timestamps nobody is dormant.

    Returns
    -------
    pandas.DataFrame
        Same index: ``segment``, ``segment_reason``, ``influence_tier``,
        ``activity_tier`` (str).
    """
    n = len(customers)
    score = customers["influence_score"].to_numpy(dtype=float)
    sent = customers["events_sent"].to_numpy(dtype=float)
    received = customers["events_received"].to_numpy(dtype=float)
    influence_tier = assign_tiers(score, config.high_share, config.mid_share)
    activity_tier = assign_tiers(sent, config.high_share, config.mid_share)

    if has_timestamps and "recency_days" in customers:
        recency = customers["recency_days"].to_numpy(dtype=float)
        inactive = ~np.isnan(recency) & (recency > config.dormant_days)
    else:
        recency = np.full(n, np.nan)
        inactive = np.zeros(n, dtype=bool)

    isolated = (sent == 0) & (received == 0)
    inf_hm = np.isin(influence_tier, ("high", "mid"))
    rules = [
        isolated,
        inf_hm & inactive & ~isolated,
        (influence_tier == "high") & np.isin(activity_tier, ("high", "mid")),
        influence_tier == "high",
        activity_tier == "high",
        influence_tier == "mid",
        np.ones(n, dtype=bool),
    ]
    segment = np.select(rules, SEGMENTS, default="passive_audience")

    inf_above = pd.Series(score).rank(method="min", ascending=False).to_numpy() - 1
    act_above = pd.Series(sent).rank(method="min", ascending=False).to_numpy() - 1
    influence_text = np.char.add(np.char.add(np.char.add(
        "influence " + influence_tier.astype(str), " (score "),
        np.char.mod("%.3f", score)), np.char.add(", ", _top_percent(inf_above, n)))
    influence_text = np.char.add(influence_text, ")")
    activity_text = np.char.add(np.char.add(np.char.add(
        "activity " + activity_tier.astype(str), " ("),
        sent.astype(np.int64).astype(str)), " events sent)")
    reason = np.char.add(np.char.add(influence_text, "; "), activity_text)
    if has_timestamps:
        recency_text = np.where(
            np.isnan(recency), "never sent an event",
            np.char.add(np.char.add("last sent ",
                                    np.nan_to_num(recency).astype(np.int64).astype(str)),
                        " days before the end date"))
        reason = np.char.add(np.char.add(reason, "; "), recency_text)
    reason = np.where(isolated, "no events sent or received", reason)
    return pd.DataFrame({
        "segment": pd.array(segment.astype(str), dtype="str"),
        "segment_reason": pd.array(np.asarray(reason, dtype=str), dtype="str"),
        "influence_tier": pd.array(influence_tier.astype(str), dtype="str"),
        "activity_tier": pd.array(activity_tier.astype(str), dtype="str"),
    }, index=customers.index)
