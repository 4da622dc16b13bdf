"""Validation and accounting at the boundary: raw text events -> clean events.

Unusable input raises :class:`~influence.errors.InputError`. Repairable rows
are dropped and counted by reason, never silently; each dropped row is counted
once, under the first reason that applies, in the order of :data:`DROP_REASONS`.
The invariant ``rows_read == rows_used + sum(dropped.values())`` always holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import AnalysisConfig
from .errors import InputError
from .schema import CONVERTED, SOURCE, TARGET, TIMESTAMP, TYPE, VALUE, WEIGHT

__all__ = ["DROP_REASONS", "CleanEvents", "clean_events", "parse_timestamps",
           "customer_universe"]

logger = logging.getLogger(__name__)

#: Reasons a row is dropped, in the order they are checked.
DROP_REASONS = (
    "null_source",      # no source id
    "null_type",        # no event type
    "bad_timestamp",    # timestamp column present, value missing or unparseable
    "bad_weight",       # weight column present, value not a number > 0
    "bad_converted",    # converted not one of true/false/1/0/yes/no
    "bad_value",        # value not a number >= 0
    "self_loop",        # source == target
    "duplicate",        # exact copy of an earlier row
    "outside_window",   # before --since or after --until (not a data problem)
)

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass
class CleanEvents:
    """Events ready for the graph, with the accounting of what was dropped.

    Attributes
    ----------
    events : pandas.DataFrame
        ``source`` (str), ``target`` (str, missing for activity-only rows),
        ``type`` (str), ``weight`` (float64: type weight x row weight x decay),
        and when present in the input ``timestamp`` (datetime64[ns, UTC]),
        ``converted`` (boolean), ``value`` (float64).
    rows_read, rows_used : int
    dropped : dict of str to int
        Every reason of :data:`DROP_REASONS`, with its count (zeros included).
    has_timestamps : bool
    start, end : pandas.Timestamp or None
        First event kept, and the analysis end date (``until`` if given, else
        the last event kept).
    warnings : list of str
    """

    events: pd.DataFrame
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    has_timestamps: bool
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    warnings: list[str] = field(default_factory=list)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse ISO 8601 text or epoch seconds to ``datetime64[ns, UTC]``; failures are NaT.

    Text without a zone is taken as UTC. A value made only of digits (with an
    optional fraction) is epoch seconds.
    """
    text = values.astype("str").str.strip()
    numeric = pd.to_numeric(text.where(text.str.fullmatch(r"-?\d+(\.\d+)?").fillna(False)),
                            errors="coerce")
    parsed = pd.to_datetime(text.where(numeric.isna()), format="ISO8601", utc=True,
                            errors="coerce")
    if numeric.notna().any():
        epoch = pd.to_datetime(numeric, unit="s", utc=True, errors="coerce")
        parsed = parsed.where(numeric.isna(), epoch)
    return parsed.astype("datetime64[ns, UTC]")


def _parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (parsed boolean with NA, mask of present-but-unparseable values)."""
    text = values.astype("str").str.strip().str.lower()
    is_true = text.isin(_TRUE)
    is_false = text.isin(_FALSE)
    bad = values.notna() & ~is_true & ~is_false
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[is_true] = True
    parsed[is_false] = False
    return parsed, bad


def _exact_duplicates(raw: pd.DataFrame, stripped: tuple[pd.Series, ...],
                      timestamp: pd.Series | None) -> np.ndarray:
    """``raw.duplicated(keep="first")``, computed on few candidate rows.

    Rows that are exact copies also agree on the stripped ids and type and on
    the parsed timestamp, so only rows that repeat on those integer codes are
    candidates; pandas' full-row check runs on the candidates alone (order
    kept, so "first" means the same). Factorizing every raw text column of
    millions of rows was the slowest step of validation.
    """
    n = len(raw)
    keys = [pd.factorize(column)[0].astype(np.int64) for column in stripped]
    if timestamp is not None:
        nanos = timestamp.to_numpy(dtype="datetime64[ns]").view(np.int64)
        keys.append(nanos)
    order = np.lexsort(keys[::-1])
    same = np.ones(max(n - 1, 0), dtype=bool)
    for key in keys:
        ordered = key[order]
        same &= ordered[1:] == ordered[:-1]
    candidate = np.zeros(n, dtype=bool)
    candidate[order[1:][same]] = True
    candidate[order[:-1][same]] = True
    result = np.zeros(n, dtype=bool)
    if candidate.any():
        rows = np.flatnonzero(candidate)
        result[rows] = raw.iloc[rows].duplicated(keep="first").to_numpy()
    return result


def customer_universe(raw: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.Index:
    """Every customer id that came in: event sources and targets of *all* rows
    read (dropped ones too) and the customers table, sorted, as text.

    Ids are stripped of surrounding whitespace, as :func:`clean_events` strips
    them (``" 007"`` and ``"007"`` are one customer); ids empty after
    stripping are no customer.
    """
    parts = [raw[SOURCE].dropna().unique(), raw[TARGET].dropna().unique()]
    if customers is not None:
        parts.append(customers["customer_id"].dropna().unique())
    ids = pd.Series(pd.unique(np.concatenate([np.asarray(p, dtype=object) for p in parts])),
                    dtype="str").str.strip()
    ids = pd.unique(ids[ids != ""].to_numpy(dtype=object))
    return pd.Index(np.sort(ids.astype(str)), dtype="str", name="customer_id")


def clean_events(raw: pd.DataFrame, config: AnalysisConfig) -> CleanEvents:
    """Check, parse and repair raw text events (see the module docstring).

    Parameters
    ----------
    raw : pandas.DataFrame
        Canonical text columns, as returned by :func:`influence.io.read_events`.
    config : AnalysisConfig
        Declared event types and the time window.

    Raises
    ------
    InputError
        An event type that is not declared (the message lists the declared
        ones), or a time window on events without timestamps.
    """
    rows_read = len(raw)
    raw = raw.reset_index(drop=True)
    source = raw[SOURCE].str.strip()
    target = raw[TARGET].str.strip().replace("", pd.NA)
    source = source.replace("", pd.NA)
    kind = raw[TYPE].str.strip().replace("", pd.NA)

    declared = config.types
    present = kind.dropna().unique()
    undeclared = sorted(str(t) for t in present if t not in declared)
    if undeclared:
        counts = kind[kind.isin(undeclared)].value_counts()
        shown = ", ".join(f"{t!r} ({counts[t]} rows)" for t in undeclared[:5])
        more = f" and {len(undeclared) - 5} more" if len(undeclared) > 5 else ""
        raise InputError(
            f"events have undeclared type {shown}{more}; declared types are "
            f"{sorted(declared)}. Declare it in the config: [types.{undeclared[0]}] "
            "with flow and weight, or fix the type.")

    # 0 = kept, i + 1 = dropped for DROP_REASONS[i] (the first reason that applies)
    reason = np.zeros(len(raw), dtype=np.int8)

    def mark(name: str, mask: pd.Series | np.ndarray) -> None:
        if isinstance(mask, pd.Series):
            mask = mask.fillna(False)
        mask = np.asarray(mask, dtype=bool) & (reason == 0)
        reason[mask] = DROP_REASONS.index(name) + 1

    mark("null_source", source.isna())
    mark("null_type", kind.isna())

    has_timestamps = TIMESTAMP in raw.columns and raw[TIMESTAMP].notna().any()
    timestamp = None
    if TIMESTAMP in raw.columns and not has_timestamps:
        logger.warning("timestamp column is empty; time-based metrics are skipped")
    if has_timestamps:
        timestamp = parse_timestamps(raw[TIMESTAMP])
        mark("bad_timestamp", timestamp.isna())

    row_weight = None
    if WEIGHT in raw.columns:
        row_weight = pd.to_numeric(raw[WEIGHT].str.strip(), errors="coerce")
        present_weight = raw[WEIGHT].notna()
        mark("bad_weight", present_weight & ~(row_weight > 0).fillna(False)
             | present_weight & ~np.isfinite(row_weight.fillna(0)))
        row_weight = row_weight.fillna(1.0)

    converted = None
    if CONVERTED in raw.columns:
        converted, bad = _parse_bool(raw[CONVERTED])
        mark("bad_converted", bad)

    value = None
    if VALUE in raw.columns:
        value = pd.to_numeric(raw[VALUE].str.strip(), errors="coerce")
        present_value = raw[VALUE].notna()
        mark("bad_value", present_value & ~((value >= 0) & np.isfinite(value.fillna(0)))
             .fillna(False))

    mark("self_loop", source.notna() & (source == target).fillna(False))
    mark("duplicate", _exact_duplicates(raw, (source, target, kind), timestamp))

    window = config.window
    if window.since is not None or window.until is not None:
        if not has_timestamps:
            raise InputError(
                "a time window (--since/--until) was given but the events have no "
                "timestamp column; map one with --map timestamp=COLUMN or drop the window")
        outside = pd.Series(False, index=raw.index)
        if window.since is not None:
            outside |= timestamp < window.since
        if window.until is not None:
            outside |= timestamp > window.until
        mark("outside_window", outside)

    keep = reason == 0
    counts = np.bincount(reason, minlength=len(DROP_REASONS) + 1)
    dropped = {name: int(counts[i + 1]) for i, name in enumerate(DROP_REASONS)}

    kind_kept = kind[keep]
    type_weight = kind_kept.map({name: spec.weight for name, spec in declared.items()})
    weight = type_weight.astype("float64")
    if row_weight is not None:
        weight = weight * row_weight[keep]
    events = pd.DataFrame({
        SOURCE: source[keep].astype("str"),
        TARGET: target[keep].astype("str"),
        TYPE: kind_kept.astype("str"),
    })
    start = end = None
    if has_timestamps:
        events[TIMESTAMP] = timestamp[keep]
        if len(events):
            start = events[TIMESTAMP].min()
            end = window.until if window.until is not None else events[TIMESTAMP].max()
            if window.half_life_days is not None:
                age_days = (end - events[TIMESTAMP]).dt.total_seconds() / 86400.0
                weight = weight * np.power(0.5, age_days.clip(lower=0) / window.half_life_days)
    elif window.half_life_days is not None:
        raise InputError("window.half_life_days needs timestamps, but the events have no "
                         "timestamp column; map one with --map timestamp=COLUMN")
    if converted is not None:
        events[CONVERTED] = converted[keep]
    if value is not None:
        events[VALUE] = value[keep].astype("float64")
    events[WEIGHT] = weight.astype("float64")
    events = events.reset_index(drop=True)

    warnings = []
    problems = {k: v for k, v in dropped.items() if v and k != "outside_window"}
    if problems:
        total = sum(problems.values())
        detail = ", ".join(f"{k}={v}" for k, v in problems.items())
        warnings.append(f"dropped {total} of {rows_read} rows: {detail}")
    if not has_timestamps:
        warnings.append("no timestamps: first/last activity, recency and lifecycle are absent")
    if len(events) == 0:
        raise InputError(f"no usable events: all {rows_read} rows were dropped "
                         f"({', '.join(f'{k}={v}' for k, v in dropped.items() if v)})")
    result = CleanEvents(events=events, rows_read=rows_read, rows_used=int(keep.sum()),
                         dropped=dropped, has_timestamps=bool(has_timestamps), start=start,
                         end=end, warnings=warnings)
    assert result.rows_read == result.rows_used + sum(result.dropped.values())
    return result
