"""Per-customer formulas on the driver, over arrays collected from the executors.

The Spark engine returns the same :class:`~influence.analysis.Analysis` as the
local one, so its per-customer table lives on the driver in the end. The
event-scale work (counts, first/last times, window counts) runs on the
executors; the few formulas that turn those per-customer numbers into the
output columns run here with numpy, written exactly as the local modules write
them so that both engines agree to the last bit: recency and frequency
(:func:`influence.metrics.activity_metrics`), lifecycle stages
(:func:`influence.lifecycle.lifecycle_stages`), the cohort month and the
viral-coefficient table (:func:`influence.reach.viral_coefficients`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import LifecycleConfig
from ..lifecycle import LIFECYCLE_STAGES
from ..metrics.activity import add_recency_frequency

__all__ = ["activity_columns", "lifecycle"]

_NAT = np.iinfo(np.int64).min
_DAY_NS = 86_400 * 10**9


def activity_columns(sent: np.ndarray, received: np.ndarray, contacts: np.ndarray,
                     days: np.ndarray | None, first_ns: np.ndarray | None,
                     last_ns: np.ndarray | None, end_ns: int | None) -> pd.DataFrame:
    """The columns of :func:`influence.metrics.activity_metrics`, from per-customer
    aggregates (``first_ns``/``last_ns``: int64 nanoseconds, int64 min for never)."""
    table = pd.DataFrame({"events_sent": sent.astype(np.int64),
                          "events_received": received.astype(np.int64),
                          "distinct_contacts": contacts.astype(np.int64)})
    if first_ns is not None:
        assert days is not None and last_ns is not None  # given with first_ns
        table["active_days"] = days.astype(np.int64)
        table["first_active"] = pd.to_datetime(first_ns.view("datetime64[ns]"), utc=True)
        table["last_active"] = pd.to_datetime(last_ns.view("datetime64[ns]"), utc=True)
        if end_ns is not None:
            add_recency_frequency(table, sent, pd.Timestamp(end_ns, tz="UTC"))
    return table


def lifecycle(activity: pd.DataFrame, n_recent: np.ndarray, n_before: np.ndarray,
              end_ns: int, config: LifecycleConfig) -> np.ndarray:
    """Lifecycle stage per customer (the rules of :mod:`influence.lifecycle`), from
    the events sent in the recent and the previous window."""
    n = len(activity)
    sent = activity["events_sent"].to_numpy()
    recency = activity["recency_days"].to_numpy(dtype=float)
    first = activity["first_active"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    with np.errstate(over="ignore"):
        age_days = np.floor((end_ns - first) / _DAY_NS)
    rules = [sent == 0, recency > config.churned_days, recency > config.dormant_days,
             age_days < config.new_days, n_recent < config.decline_ratio * n_before,
             np.ones(n, dtype=bool)]
    return np.select(rules, np.array(LIFECYCLE_STAGES, dtype=object), default="active")


