"""Activity over time: lifecycle stages and RFM-style tiers of social activity.

Both need timestamps (except ``rfm_value``); everything is relative to the
analysis end date ``end`` (``--until``, else the last event kept).

Lifecycle rules, first match wins (windows from :class:`~influence.config.LifecycleConfig`):

=============  =============================================================
stage          rule
=============  =============================================================
``potential``  never sent an event (only received, or only listed)
``churned``    last event sent more than ``churned_days`` whole days ago
``dormant``    last event sent more than ``dormant_days`` whole days ago
``new``        first event sent fewer than ``new_days`` whole days ago
``declining``  events sent in ``(end - recent_days, end]`` < ``decline_ratio``
               x events sent in ``(end - 2 recent_days, end - recent_days]``
``active``     everyone else
=============  =============================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import LifecycleConfig, SegmentConfig
from .schema import TIMESTAMP
from .segments import count_above, tiers_from_above

__all__ = ["LIFECYCLE_STAGES", "lifecycle_stages", "rfm_axes", "rfm_tiers", "rfm_value_basis"]

#: Lifecycle stages in rule order.
LIFECYCLE_STAGES = ("potential", "churned", "dormant", "new", "declining", "active")

_DAY_NS = 86_400 * 10**9


def lifecycle_stages(events: pd.DataFrame, source: np.ndarray, activity: pd.DataFrame,
                     end: pd.Timestamp, config: LifecycleConfig) -> np.ndarray:
    """Lifecycle stage of every customer (rules in the module docstring).

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events with ``timestamp``.
    source : numpy.ndarray
        Vertex index of each event's source.
    activity : pandas.DataFrame
        :func:`influence.metrics.activity_metrics` output (vertex order):
        ``events_sent``, ``first_active``, ``recency_days``.
    end : pandas.Timestamp
        Analysis end date.
    config : LifecycleConfig

    Returns
    -------
    numpy.ndarray of str
        One of :data:`LIFECYCLE_STAGES` per vertex.

    Notes
    -----
    "Whole days" are floored: an event 60 days and 23 hours before the end is
    60 days old, so with ``dormant_days=60`` its sender is not dormant.
    """
    n = len(activity)
    nanos = events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end_ns = end.value
    window = config.recent_days * _DAY_NS
    recent = (nanos > end_ns - window) & (nanos <= end_ns)
    before = (nanos > end_ns - 2 * window) & (nanos <= end_ns - window)
    n_recent = np.bincount(source[recent], minlength=n)
    n_before = np.bincount(source[before], minlength=n)
    sent = activity["events_sent"].to_numpy()
    recency = activity["recency_days"].to_numpy(dtype=float)
    first = activity["first_active"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    age_days = np.floor((end_ns - first) / _DAY_NS)
    rules = [
        sent == 0,
        recency > config.churned_days,
        recency > config.dormant_days,
        age_days < config.new_days,
        n_recent < config.decline_ratio * n_before,
        np.ones(n, dtype=bool),
    ]
    return np.select(rules, np.array(LIFECYCLE_STAGES, dtype=object), default="active")


def rfm_axes(customers: pd.DataFrame, has_timestamps: bool, *,
             value: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The values each RFM tier ranks (larger is better), row by row: ``rfm_recency``
    (``1 / (1 + recency_days)``, 0 when never active) and ``rfm_frequency`` with
    timestamps, ``rfm_value`` always (``value``, else ``referral_value``; NaN as 0)."""
    if value is None:
        value = customers["referral_value"].to_numpy(float)
    axes = {"rfm_value": np.nan_to_num(np.asarray(value, float))}
    if has_timestamps:
        recency = customers["recency_days"].to_numpy(dtype=float)
        # larger is better and 0 means never active: 1 / (1 + days)
        freshness = np.where(np.isnan(recency), 0.0, 1.0 / (1.0 + np.nan_to_num(recency)))
        axes = {"rfm_recency": freshness,
                "rfm_frequency": np.nan_to_num(customers["frequency"].to_numpy(float)),
                **axes}
    return axes


def rfm_tiers(customers: pd.DataFrame, config: SegmentConfig,
              has_timestamps: bool, *, value: np.ndarray | None = None,
              above: dict[str, np.ndarray] | None = None,
              n: int | None = None) -> pd.DataFrame:
    """RFM-style tiers of social activity (high/mid/low, rank-then-cut).

    Parameters
    ----------
    customers : pandas.DataFrame
        ``referral_value`` and, with timestamps, ``recency_days`` and ``frequency``.
    config : SegmentConfig
        Tier shares (``high_share``, ``mid_share``).
    has_timestamps : bool
    value : numpy.ndarray, optional
        The value axis, instead of ``customers["referral_value"]`` (the
        analysis passes converted referrals, or referrals sent, when the events
        have no ``value``).
    above : dict, optional
        Per axis (:func:`rfm_axes`), how many customers of the whole table have a
        strictly larger value, when ``customers`` is a part of it (with ``n``, the
        customers in the whole table); computed from ``customers`` otherwise.
    n : int, optional

    Returns
    -------
    pandas.DataFrame
        Same index. ``rfm_value`` (tier of ``referral_value``: money from the
        customer's referrals) always; with timestamps also ``rfm_recency``
        (more recent is better; never active is ``low``), ``rfm_frequency``
        (tier of ``frequency``) and ``rfm_code`` (their initials, R then F then
        V, e.g. ``HML``).

    Examples
    --------
    >>> import pandas as pd
    >>> from influence.config import SegmentConfig
    >>> c = pd.DataFrame({"referral_value": [0.0, 5.0], "recency_days": [1.0, 9.0],
    ...                   "frequency": [2.0, 1.0]})
    >>> rfm_tiers(c, SegmentConfig(high_share=0.5, mid_share=0.0), True)["rfm_code"].tolist()
    ['HHL', 'LLH']
    """
    table = pd.DataFrame(index=customers.index)
    axes = rfm_axes(customers, has_timestamps, value=value)
    if above is None:  # the whole table
        above = {name: count_above(values) for name, values in axes.items()}
        n = len(customers)
    assert n is not None  # given with `above`
    tiers = {name: tiers_from_above(above[name], values, n, config.high_share,
                                    config.mid_share) for name, values in axes.items()}
    for name, tier in tiers.items():
        table[name] = pd.array(tier.astype(str), dtype="str")
    if has_timestamps:
        code = (table["rfm_recency"].str[0] + table["rfm_frequency"].str[0]
                + table["rfm_value"].str[0]).str.upper()
        table["rfm_code"] = pd.array(code.to_numpy(dtype=str), dtype="str")
    return table


def rfm_value_basis(referrals: pd.DataFrame) -> np.ndarray:
    """What ``rfm_value`` ranks: money from referrals where known, else converted
    referrals, else referrals sent (the first column that is not all NaN).

    >>> rfm_value_basis(pd.DataFrame({"referral_value": [np.nan, np.nan],
    ...                               "referrals_converted": [1.0, 0.0],
    ...                               "referrals_sent": [2, 1]})).tolist()
    [1.0, 0.0]
    """
    for column in ("referral_value", "referrals_converted", "referrals_sent"):
        values = referrals[column].to_numpy(dtype=float)
        if not np.isnan(values).all():
            return values
    return np.zeros(len(referrals))
