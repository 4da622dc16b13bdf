"""Snapshots: segment sizes and key numbers over rolling windows, for trend plots.

A snapshot is an ordinary analysis of the events in ``[end - window, end]``;
snapshot ends fall every ``every`` days, going back from the analysis end
date while they are after the first event. Cost: one read of the events, then
one full analysis per snapshot (each over the events of its window, plus the
validation of all rows read), so ``k`` snapshots cost about ``k`` analyses of
``window``-sized periods.

Like ``analyze --since/--until``, every snapshot keeps the customer universe of
the whole input (customers without events in the window are ``isolated``), so
segment counts of different snapshots add up to the same total.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import AnalysisConfig, as_config
from .periods import parse_days
from .sources import read_events

__all__ = ["snapshot_series", "SNAPSHOT_COLUMNS"]

#: Columns of ``snapshots.csv``, in order.
SNAPSHOT_COLUMNS = ("snapshot", "window_start", "window_end", "segment", "customers", "share",
                    "mean_influence_score", "events", "active_customers", "edges",
                    "communities", "modularity")


def snapshot_series(events: str | Path | pd.DataFrame, *, every: int | str,
                    window: int | str | None = None,
                    config: AnalysisConfig | str | Path | None = None,
                    customers: str | Path | pd.DataFrame | None = None,
                    input_format: str | None = None,
                    start: Any = None, end: Any = None) -> tuple[pd.DataFrame, dict]:
    """Segment sizes and key numbers over rolling windows.

    Parameters
    ----------
    events : path or pandas.DataFrame
        Events with timestamps.
    every : int or str
        Days between snapshot ends (``30``, ``"30d"``, ``"4w"``).
    window : int or str, optional
        Length of each snapshot's window in days; default ``every`` (windows
        tile the period, each event in one snapshot).
    config : AnalysisConfig, path or dict, optional
        As for :func:`influence.analyze`; its window bounds the snapshots.
    customers : path or pandas.DataFrame, optional
    input_format : str, optional
    start, end : timestamp-like, optional
        First event and end date of the whole analysis; found from the events
        when not given.

    Returns
    -------
    table : pandas.DataFrame
        One row per snapshot x segment (every segment of every snapshot, zero
        counts included), columns :data:`SNAPSHOT_COLUMNS`: ``snapshot`` (int64,
        1 = oldest), ``window_start``, ``window_end`` (ISO text, UTC),
        ``segment`` (str), ``customers`` (int64), ``share`` (of all customers),
        ``mean_influence_score`` (float64, NaN for an empty segment), and per
        snapshot ``events`` (rows used), ``active_customers`` (sent or received
        an event), ``edges``, ``communities`` (int64), ``modularity`` (float64).
    info : dict
        ``every_days``, ``window_days``, ``count``, ``seconds``.
    """
    from .errors import InputError
    from .local import run_local
    from .pipeline import finish
    from .progress import StageClock
    from .segments import SEGMENTS
    from .validation import clean_events

    config = as_config(config)
    every_days = parse_days("every", every)
    window_days = every_days if window is None else parse_days("window", window)
    clock = time.perf_counter()
    raw, _ = read_events(events, columns=config.columns, input_format=input_format)
    base = config.replace(columns={})
    if start is None or end is None:
        clean = clean_events(raw, base)
        if not clean.has_timestamps:
            raise InputError("snapshots need timestamps, but the events have none; map a "
                             "column with --map timestamp=COLUMN")
        start = clean.start if start is None else start
        end = clean.end if end is None else end
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    step = pd.Timedelta(days=every_days)
    ends: list[pd.Timestamp] = []
    current = end
    while current > start or not ends:
        ends.append(current)
        current = current - step
    ends.reverse()

    rows = []
    for number, window_end in enumerate(ends, start=1):
        window_start = window_end - pd.Timedelta(days=window_days)
        if base.window.since is not None:
            window_start = max(window_start, base.window.since)
        try:
            windowed = base.replace(window__since=window_start, window__until=window_end)
            stages = StageClock()
            result = finish(run_local(raw, customers=customers, config=windowed,
                                      clock=stages), windowed, stages)
        except InputError as exc:
            if "no usable events" not in str(exc):
                raise
            result = None
        rows.extend(_rows(number, window_start, window_end, result, SEGMENTS))
    table = pd.DataFrame(rows)
    table = table[list(SNAPSHOT_COLUMNS)]
    for column in ("snapshot", "customers", "events", "active_customers", "edges",
                   "communities"):
        table[column] = table[column].astype("int64")
    for column in ("share", "mean_influence_score", "modularity"):
        table[column] = table[column].astype("float64").round(6)
    for column in ("window_start", "window_end", "segment"):
        table[column] = table[column].astype("str")
    info = {"every_days": every_days, "window_days": window_days, "count": len(ends),
            "seconds": round(time.perf_counter() - clock, 4)}
    return table, info


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(number, window_start, window_end, result, segments):
    base = {"snapshot": number, "window_start": _iso(window_start),
            "window_end": _iso(window_end)}
    if result is None:  # no event in the window
        return [{**base, "segment": name, "customers": 0, "share": 0.0,
                 "mean_influence_score": np.nan, "events": 0, "active_customers": 0,
                 "edges": 0, "communities": 0, "modularity": np.nan} for name in segments]
    customers = result.customers
    m = result.manifest
    active = int(((customers["events_sent"] + customers["events_received"]) > 0).sum())
    names = list(segments) + sorted(set(customers["segment"]) - set(segments))
    groups = customers.groupby("segment")["influence_score"]
    counts, means = groups.size(), groups.mean()
    total = len(customers)
    return [{**base, "segment": name, "customers": int(counts.get(name, 0)),
             "share": counts.get(name, 0) / total if total else 0.0,
             "mean_influence_score": float(means.get(name, np.nan)),
             "events": m["rows_used"], "active_customers": active, "edges": m["edges"],
             "communities": m["communities"]["count"],
             "modularity": m["communities"]["modularity"]} for name in names]

