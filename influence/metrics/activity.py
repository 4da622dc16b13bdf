"""Activity: how much each customer takes part (interactivity segmentation).

A customer *acts* when they are the ``source`` of an event (they shared,
referred, commented); they *receive* when they are its ``target``. Activity
counts raw events, whatever their type's flow or weight.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..arrays import sorted_unique
from ..schema import TIMESTAMP, TYPE

__all__ = ["activity_metrics", "events_by_type", "first_seen", "cohort_months"]

_WEEK_SECONDS = 7 * 86_400.0


def activity_metrics(events: pd.DataFrame, n_customers: int,
                     codes: tuple[np.ndarray, np.ndarray],
                     end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per-customer activity counts and, with timestamps, activity dates.

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events (:func:`influence.validation.clean_events`).
    n_customers : int
        Number of vertices; the result has one row per vertex, in vertex order.
    codes : (ndarray, ndarray)
        Vertex index of each event's source and target (-1: no target), from
        :func:`influence.graph.encode_events`.
    end : pandas.Timestamp, optional
        Analysis end date, for ``recency_days``.

    Returns
    -------
    pandas.DataFrame
        ``events_sent``, ``events_received``, ``distinct_contacts`` (int64:
        distinct counterparts in either role); with timestamps also
        ``active_days`` (int64: distinct UTC days with an event sent),
        ``first_active``, ``last_active`` (datetime64[ns, UTC] of the first and
        last event sent; NaT if none), ``recency_days`` (float64: whole days
        from ``last_active`` to ``end``; NaN if never active) and ``frequency``
        (float64: events sent per week of the customer's active life, i.e.
        ``events_sent / max(1, (end - first_active) / 7 days)``; 0 if never
        active).
    """
    source, target = codes
    has_target = target >= 0
    sent = np.bincount(source, minlength=n_customers).astype(np.int64)
    received = np.bincount(target[has_target], minlength=n_customers).astype(np.int64)
    a = np.concatenate([source[has_target], target[has_target]])
    b = np.concatenate([target[has_target], source[has_target]])
    pairs = sorted_unique(a * np.int64(n_customers) + b)
    contacts = np.bincount(pairs // n_customers, minlength=n_customers).astype(np.int64)
    table = pd.DataFrame({
        "events_sent": sent,
        "events_received": received,
        "distinct_contacts": contacts,
    })
    if TIMESTAMP in events.columns:
        nanos = events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64)
        # int64 min is NaT: customers who never sent keep it.
        never = np.iinfo(np.int64).min
        first = np.full(n_customers, np.iinfo(np.int64).max)
        np.minimum.at(first, source, nanos)
        first[first == np.iinfo(np.int64).max] = never
        last = np.full(n_customers, never)
        np.maximum.at(last, source, nanos)
        day = nanos // (86_400 * 10**9)
        day_pairs = sorted_unique(source * np.int64(1 << 32) + day)
        active_days = np.bincount(day_pairs >> 32, minlength=n_customers).astype(np.int64)
        table["active_days"] = active_days
        table["first_active"] = pd.to_datetime(first.view("datetime64[ns]"), utc=True)
        table["last_active"] = pd.to_datetime(last.view("datetime64[ns]"), utc=True)
        if end is not None:
            add_recency_frequency(table, sent, end)
    return table


def add_recency_frequency(table: pd.DataFrame, sent: np.ndarray, end: pd.Timestamp) -> None:
    """Add ``recency_days`` (whole days from ``last_active`` to ``end``, >= 0) and
    ``frequency`` (events sent per week of life, at least one week) to ``table``,
    which has ``first_active`` and ``last_active``. Used by both engines."""
    recency = (end - table["last_active"]).dt.total_seconds() / 86400.0
    table["recency_days"] = np.floor(recency.clip(lower=0))
    life = (end - table["first_active"]).dt.total_seconds().to_numpy() / _WEEK_SECONDS
    weeks = np.maximum(np.nan_to_num(life, nan=1.0), 1.0)
    table["frequency"] = sent / weeks


def events_by_type(events: pd.DataFrame, n_customers: int, source: np.ndarray,
                   types: list[str]) -> pd.DataFrame:
    """Events sent per customer and event type.

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events with a ``type`` column.
    n_customers : int
    source : numpy.ndarray
        Vertex index of each event's source.
    types : list of str
        Event types to count, in column order (every declared type, so that the
        columns do not depend on which types happen to occur).

    Returns
    -------
    pandas.DataFrame
        One int64 column ``sent_<type>`` per type, one row per vertex.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> events = pd.DataFrame({"type": ["share", "share", "comment"]})
    >>> events_by_type(events, 2, np.array([0, 1, 1]), ["comment", "share"]).values.tolist()
    [[0, 1], [1, 1]]
    """
    code = pd.Categorical(events[TYPE], categories=types).codes.astype(np.int64)
    known = code >= 0
    counts = np.bincount(source[known] * len(types) + code[known],
                         minlength=n_customers * len(types)).reshape(n_customers, len(types))
    return pd.DataFrame(counts.astype(np.int64), columns=[f"sent_{t}" for t in types])


def first_seen(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
               n_customers: int) -> np.ndarray:
    """Nanoseconds of each customer's first event in either role (int64 min if none)."""
    source, target = codes
    nanos = events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64)
    first = np.full(n_customers, np.iinfo(np.int64).max)
    np.minimum.at(first, source, nanos)
    ok = target >= 0
    np.minimum.at(first, target[ok], nanos[ok])
    first[first == np.iinfo(np.int64).max] = np.iinfo(np.int64).min
    return first


def cohort_months(first_seen_ns: np.ndarray) -> np.ndarray:
    """``YYYY-MM`` of each first event (:func:`first_seen`); None where there is none.

    >>> cohort_months(np.array([0, np.iinfo(np.int64).min])).tolist()
    ['1970-01', None]
    """
    months = np.full(len(first_seen_ns), None, dtype=object)
    seen = first_seen_ns != np.iinfo(np.int64).min
    months[seen] = first_seen_ns[seen].view("datetime64[ns]").astype("datetime64[M]").astype(str)
    return months
