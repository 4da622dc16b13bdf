"""Validation and accounting at the boundary: raw text events -> clean events.

Unusable input raises :class:`~influence.errors.InputError`. Repairable rows
are dropped and counted by reason, never silently; each dropped row is counted
once, under the first reason that applies, in the order of :data:`DROP_REASONS`.
The invariant ``rows_read == rows_used + sum(dropped.values())`` always holds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import TIMESTAMP_UNITS, AnalysisConfig
from .errors import InputError
from .schema import BAD_ID, CONVERTED, SOURCE, TARGET, TIMESTAMP, TYPE, VALUE, WEIGHT

__all__ = ["DROP_REASONS", "MAX_WEIGHT", "MAX_VALUE", "CleanEvents", "clean_events",
           "parse_timestamps", "timestamp_hints", "timestamp_warning", "TIMESTAMP_RANGE",
           "customer_universe", "add_customers", "drop_warnings", "undeclared_types",
           "validate_events", "ValidationReport"]

logger = logging.getLogger(__name__)

#: Reasons a row is dropped, in the order they are checked.
DROP_REASONS = (
    "bad_id",           # source or target is no id: a list, an object, true/false, infinity
    "null_source",      # no source id
    "null_type",        # no event type
    "bad_timestamp",    # timestamp column present, value missing or unparseable
    "bad_weight",       # weight column present, value not a number in (0, MAX_WEIGHT]
    "bad_converted",    # converted not one of true/false/1/0/yes/no
    "bad_value",        # value not a number in [0, MAX_VALUE]
    "self_loop",        # source == target
    "duplicate",        # exact copy of an earlier row
    "outside_window",   # before --since or after --until (not a data problem)
)

#: The largest row weight accepted: sums over billions of events stay finite and exact
#: to 1e-6 of the largest (larger weights are a unit mistake: weights are relative).
MAX_WEIGHT = 1e15
#: The largest money value of one event accepted (a quadrillion in any currency).
MAX_VALUE = 1e15

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass
class CleanEvents:
    """Events ready for the graph, with the accounting of what was dropped.

    Attributes
    ----------
    events : pandas.DataFrame
        ``source``, ``target`` (categorical over ``ids``; target missing for
        activity-only rows), ``type`` (categorical over the types used), ``weight``
        (float64: type weight x row weight x decay),
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
    ids : pandas.Index
        Every id in the events read, dropped rows included (stripped, sorted,
        as text): the categories of ``source`` and ``target``.
    """

    events: pd.DataFrame
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    has_timestamps: bool
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    warnings: list[str] = field(default_factory=list)
    ids: pd.Index | None = None


#: The instants a ``datetime64[ns]`` holds: 1677-09-21T00:12:43 .. 2262-04-11T23:47:16 UTC.
TIMESTAMP_RANGE = (pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC"))
_EPOCH = r"-?\d+(\.\d+)?"


def parse_timestamps(values: pd.Series, *, unit: str = "s") -> pd.Series:
    """Parse ISO 8601 text or epoch numbers to ``datetime64[ns, UTC]``; failures are NaT.

    Text without a zone is taken as UTC. A value made only of digits (with an
    optional sign and fraction) is epoch time in ``unit`` (seconds by default).
    A column of datetimes is converted to UTC as it is. An instant outside
    :data:`TIMESTAMP_RANGE` (what nanoseconds since 1970 can hold in 64 bits)
    is NaT, as is an unparseable value; :func:`timestamp_hints` says why.

    Parameters
    ----------
    values : pandas.Series
        Text, or datetimes.
    unit : {"s", "ms", "us", "ns"}, default="s"
        Unit of epoch numbers.

    Notes
    -----
    A column whose every value is strict ISO 8601 (all with a zone, or all
    without) is parsed by Arrow's C++ parser, about 15x faster than pandas on
    millions of rows and identical where both accept a value; anything else
    (epoch numbers, spaces, mixed zones, bad values, dates out of range) goes
    through pandas.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _in_range(values.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _in_range(values.dt.tz_localize("UTC"))
    fast = _arrow_iso8601(values)
    if fast is not None:
        return fast
    text = values.astype("str").str.strip()
    numeric = _epoch_numbers(text)
    parsed = _in_range(pd.to_datetime(text.where(numeric.isna()), format="ISO8601", utc=True,
                                      errors="coerce"))
    if numeric.notna().any():
        nanos = numeric * TIMESTAMP_UNITS[unit]
        low, high = (stamp.value for stamp in TIMESTAMP_RANGE)
        # a second inside the limits: float rounding at the edge cannot overflow
        fits = (nanos > low + 10**9) & (nanos < high - 10**9)
        epoch = pd.to_datetime(numeric.where(fits), unit=unit, utc=True, errors="coerce")
        parsed = parsed.where(numeric.isna(), _in_range(epoch))
    return parsed.astype("datetime64[ns, UTC]")


def _epoch_numbers(text: pd.Series) -> pd.Series:
    """The digits-only values of a text column as floats (NaN elsewhere)."""
    return pd.to_numeric(text.where(text.str.fullmatch(_EPOCH).fillna(False)), errors="coerce")


def _in_range(stamps: pd.Series) -> pd.Series:
    """UTC datetimes of any resolution as ``datetime64[ns, UTC]``, NaT outside the range."""
    low, high = TIMESTAMP_RANGE
    stamps = stamps.where((stamps >= low) & (stamps <= high))
    return stamps.astype("datetime64[ns, UTC]")


#: What :func:`timestamp_hints` can say about a timestamp that did not parse.
TIMESTAMP_HINTS = {
    "ms": "look like epoch milliseconds",
    "us": "look like epoch microseconds",
    "ns": "look like epoch nanoseconds",
    "s": "look like epoch seconds",
    "out_of_range": "lie outside 1677-09-21 .. 2262-04-11, the range timestamps can hold",
}


def timestamp_hints(values: pd.Series, *, unit: str = "s") -> pd.Series:
    """Why each of these timestamps (ones :func:`parse_timestamps` made NaT) failed.

    Returns
    -------
    pandas.Series of str
        Per value a key of :data:`TIMESTAMP_HINTS`, or missing when there is
        nothing more to say than "unparseable": ``"ms"``/``"us"``/``"ns"``/``"s"``
        for an epoch number out of range in ``unit`` but in range (2000 to
        2100) in that unit, ``"out_of_range"`` for any other valid date or
        epoch number beyond the range.
    """
    hints = pd.Series(pd.NA, index=values.index, dtype="str")
    if len(values) == 0:
        return hints
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return hints.where(values.isna(), "out_of_range")
    text = values.astype("str").str.strip()
    numeric = _epoch_numbers(text)
    is_number = numeric.notna()
    if is_number.any():
        nanos = numeric * TIMESTAMP_UNITS[unit]
        hints = hints.where(~is_number, "out_of_range")
        plausible = (pd.Timestamp("2000-01-01").value, pd.Timestamp("2100-01-01").value)
        for other in ("ms", "us", "ns", "s"):
            if other == unit:
                continue
            as_other = numeric * TIMESTAMP_UNITS[other]
            fits = is_number & (as_other >= plausible[0]) & (as_other <= plausible[1]) \
                & ~((nanos >= plausible[0]) & (nanos <= plausible[1]))
            hints = hints.where(~(fits & (hints == "out_of_range")), other)
    words = text.where(~is_number)
    if words.notna().any():
        wide = pd.to_datetime(words, format="ISO8601", utc=True, errors="coerce")
        low, high = TIMESTAMP_RANGE
        hints = hints.where(~((wide < low) | (wide > high)).fillna(False), "out_of_range")
    return hints


def timestamp_warning(hints: Mapping[str, int]) -> str | None:
    """One warning line from counts of :func:`timestamp_hints` keys (None if none)."""
    parts = []
    for key in TIMESTAMP_HINTS:
        count = int(hints.get(key, 0))
        if not count:
            continue
        part = f"{count} {TIMESTAMP_HINTS[key]}"
        if key != "out_of_range":
            part += f" (declare the unit with --timestamp-unit {key} or [input] timestamp_unit)"
        parts.append(part)
    if not parts:
        return None
    return f"bad_timestamp: {'; '.join(parts)}"


def _arrow_iso8601(values: pd.Series) -> pd.Series | None:
    """Arrow's strict ISO 8601 cast of a whole text column, or None if any value fails."""
    try:
        array = pa.array(values.astype("str"), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            parsed = pc.cast(array, target)
        except (pa.ArrowException, ValueError):
            continue
        # numpy holds the UTC instants (zoned) or the wall times taken as UTC (naive)
        series = pd.Series(parsed.to_numpy(zero_copy_only=False), index=values.index)
        return series.astype("datetime64[ns]").dt.tz_localize("UTC")
    return None


def _numbers(values: pd.Series) -> pd.Series:
    """Numbers from a text or numeric column; unparseable text is NaN."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values.astype("str").str.strip(), errors="coerce").astype("float64")


def _parse_bool(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return (parsed boolean with NA, mask of present-but-unparseable values).

    The text is parsed once per distinct value.
    """
    codes, uniques = pd.factorize(values)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype="str").str.strip().str.lower()
    # per distinct value: 1 = true, 0 = false, -1 = unparseable; missing values stay NA
    state = np.where(text.isin(_TRUE), 1, np.where(text.isin(_FALSE), 0, -1))
    state = np.append(state, -2)[codes]
    parsed = pd.array(state == 1, dtype="boolean")
    parsed[state < 0] = pd.NA
    return pd.Series(parsed, index=values.index), state == -1


def _id_codes(columns: list[pd.Series]) -> tuple[list[np.ndarray], pd.Index]:
    """Encode text columns into one sorted vocabulary of stripped values.

    Each column is factorized once; stripping, dropping empty values and
    sorting then happen on the distinct values only (a million ids instead of
    ten million rows). Returns the code of each row in the vocabulary (-1 for
    missing or empty) and the vocabulary, sorted by code point, as text.
    """
    factorized = [pd.factorize(column) for column in columns]
    stripped = [pd.Series(np.asarray(uniques, dtype=object), dtype="str").str.strip()
                for _, uniques in factorized]
    together = pd.concat(stripped, ignore_index=True)
    together = together.where(together != "")
    vocab_codes, vocab = pd.factorize(together, sort=True)
    vocabulary = pd.Index(np.asarray(vocab, dtype=object), dtype="str")
    result, offset = [], 0
    for (codes, _), part in zip(factorized, stripped):
        lookup = np.append(vocab_codes[offset:offset + len(part)], -1).astype(np.int64)
        offset += len(part)
        result.append(lookup[codes])
    return result, vocabulary


def _exact_duplicates(raw: pd.DataFrame, keys: list[np.ndarray],
                      timestamp: pd.Series | None) -> np.ndarray:
    """``raw.duplicated(keep="first")``, computed on few candidate rows.

    Rows that are exact copies also agree on the codes of the stripped ids and
    type (``keys``) and on the parsed timestamp, so only rows that repeat on
    those integers are candidates; pandas' full-row check runs on the
    candidates alone (order kept, so "first" means the same). Candidates are
    found with one hash table over a 64-bit hash of those integers per row.
    """
    columns = {f"k{i}": key for i, key in enumerate(keys)}
    if timestamp is not None:
        columns["time"] = timestamp.to_numpy(dtype="datetime64[ns]").view(np.int64)
    # one 64-bit hash per row of the integer keys; a collision only adds a candidate
    hashed = pd.util.hash_pandas_object(pd.DataFrame(columns), index=False)
    candidate = hashed.duplicated(keep=False).to_numpy()
    result = np.zeros(len(raw), dtype=bool)
    if candidate.any():
        rows = np.flatnonzero(candidate)
        result[rows] = raw.iloc[rows].duplicated(keep="first").to_numpy()
    return result


def undeclared_types(rows: Mapping[str, int], declared: Mapping[str, Any]) -> InputError:
    """The error for event types not declared in the config (both engines): the first
    five with their row counts, the declared ones, how to declare one."""
    undeclared = sorted(str(t) for t in rows if t not in declared)
    shown = ", ".join(f"{t!r} ({rows[t]} rows)" for t in undeclared[:5])
    more = f" and {len(undeclared) - 5} more" if len(undeclared) > 5 else ""
    return InputError(
        f"events have undeclared type {shown}{more}; declared types are "
        f"{sorted(declared)}. Declare it in the config: [types.{undeclared[0]}] "
        "with flow and weight, or fix the type.", key="type", expected=sorted(declared),
        got=undeclared, hint=f"declare it in the config: [types.{undeclared[0]}]")


def drop_warnings(dropped: Mapping[str, int], rows_read: int, *, timestamp_hint: str | None,
                  limits: list[str], has_timestamps: bool) -> list[str]:
    """The run's warnings about its input, in order (both engines): rows dropped by
    reason, ids that are no ids, why timestamps did not parse, values over the
    limits, no timestamps at all."""
    warnings = []
    problems = {k: v for k, v in dropped.items() if v and k != "outside_window"}
    if problems:
        total = sum(problems.values())
        detail = ", ".join(f"{k}={v}" for k, v in problems.items())
        warnings.append(f"dropped {total} of {rows_read} rows: {detail}")
    warnings += id_warning(dropped)
    if timestamp_hint is not None:
        warnings.append(timestamp_hint)
    warnings += limits
    if not has_timestamps:
        warnings.append("no timestamps: first/last activity, recency and lifecycle are absent")
    return warnings


def customer_universe(raw: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.Index:
    """Every customer id that came in: event sources and targets of *all* rows
    read (dropped ones too) and the customers table, sorted, as text.

    Ids are stripped of surrounding whitespace, as :func:`clean_events` strips
    them (``" 007"`` and ``"007"`` are one customer); ids empty after
    stripping are no customer.
    """
    columns = [raw[SOURCE], raw[TARGET]]
    if customers is not None:
        columns.append(customers["customer_id"])
    return _id_codes(columns)[1].rename("customer_id")


def add_customers(ids: pd.Index, customers: pd.DataFrame | None) -> pd.Index:
    """``ids`` (sorted, as :attr:`CleanEvents.ids`) with the customers table's ids added."""
    if customers is None:
        return ids.rename("customer_id")
    _, vocabulary = _id_codes([pd.Series(ids.to_numpy(), dtype="str"),
                               customers["customer_id"]])
    return vocabulary.rename("customer_id")


def id_warning(dropped: Mapping[str, int]) -> list[str]:
    """The warning line for rows dropped as ``bad_id``."""
    if not dropped.get("bad_id"):
        return []
    return [f"bad_id: {dropped['bad_id']} rows have a source or target that is a list, an "
            "object, true/false or infinite (ids are text or numbers)"]


def limit_warnings(big_weight: int, big_value: int) -> list[str]:
    """Warning lines for weights and values dropped for being too large."""
    out = []
    if big_weight:
        out.append(f"bad_weight: {big_weight} above {MAX_WEIGHT:g}, the largest row weight "
                   "accepted (weights are relative: scale the column down)")
    if big_value:
        out.append(f"bad_value: {big_value} above {MAX_VALUE:g}, the largest value of one "
                   "event accepted")
    return out


def no_usable_events(rows_read: int, dropped: Mapping[str, int], *hints: str | None) -> str:
    """The error message when every row was dropped, with any hints about why."""
    counts = ", ".join(f"{k}={v}" for k, v in dropped.items() if v)
    extra = "".join(f"; {hint}" for hint in hints if hint)
    return f"no usable events: all {rows_read} rows were dropped ({counts}){extra}"


def clean_events(raw: pd.DataFrame, config: AnalysisConfig) -> CleanEvents:
    """Check, parse and repair raw text events (see the module docstring).

    Parameters
    ----------
    raw : pandas.DataFrame
        Canonical text columns, as returned by :func:`influence.sources.read_events`.
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
    (source, target), ids = _id_codes([raw[SOURCE], raw[TARGET]])
    (kind,), kinds = _id_codes([raw[TYPE]])

    declared = config.types
    if any(t not in declared for t in kinds):
        counts = pd.Series(kinds[kind[kind >= 0]]).value_counts()
        raise undeclared_types(counts.to_dict(), declared)

    # 0 = kept, i + 1 = dropped for DROP_REASONS[i] (the first reason that applies)
    reason = np.zeros(len(raw), dtype=np.int8)

    def mark(name: str, mask: pd.Series | np.ndarray) -> None:
        if isinstance(mask, pd.Series):
            mask = mask.fillna(False)
        mask = np.asarray(mask, dtype=bool) & (reason == 0)
        reason[mask] = DROP_REASONS.index(name) + 1

    if BAD_ID in raw.columns:
        mark("bad_id", raw[BAD_ID].to_numpy(dtype=bool))
    mark("null_source", source < 0)
    mark("null_type", kind < 0)

    has_timestamps = TIMESTAMP in raw.columns and raw[TIMESTAMP].notna().any()
    timestamp = None
    if TIMESTAMP in raw.columns and not has_timestamps:
        logger.warning("timestamp column is empty; time-based metrics are skipped")
    timestamp_hint = None
    if has_timestamps:
        unit = config.input.timestamp_unit
        timestamp = parse_timestamps(raw[TIMESTAMP], unit=unit)
        mark("bad_timestamp", timestamp.isna())
        failed = timestamp.isna().to_numpy() & raw[TIMESTAMP].notna().to_numpy()
        if failed.any():
            hints = timestamp_hints(raw[TIMESTAMP][failed], unit=unit).value_counts()
            timestamp_hint = timestamp_warning(hints.to_dict())

    row_weight = None
    big_weight = big_value = 0
    if WEIGHT in raw.columns:
        row_weight = _numbers(raw[WEIGHT])
        present_weight = raw[WEIGHT].notna()
        big_weight = int((present_weight & (row_weight > MAX_WEIGHT)).sum())
        mark("bad_weight", present_weight & ~((row_weight > 0) & (row_weight <= MAX_WEIGHT))
             .fillna(False))
        row_weight = row_weight.fillna(1.0)

    converted = None
    if CONVERTED in raw.columns:
        converted, bad = _parse_bool(raw[CONVERTED])
        mark("bad_converted", bad)

    value = None
    if VALUE in raw.columns:
        value = _numbers(raw[VALUE])
        present_value = raw[VALUE].notna()
        big_value = int((present_value & (value > MAX_VALUE)).sum())
        mark("bad_value", present_value & ~((value >= 0) & (value <= MAX_VALUE)).fillna(False))

    mark("self_loop", (source >= 0) & (source == target))
    mark("duplicate", _exact_duplicates(raw, [source, target, kind], timestamp))

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
    type_weight = np.array([declared[name].weight for name in kinds], dtype=np.float64)
    weight = pd.Series(type_weight[kind_kept]) if len(kinds) else pd.Series(np.zeros(0))
    if row_weight is not None:
        weight = weight * row_weight[keep].to_numpy()
    used_types = np.flatnonzero(np.bincount(kind_kept, minlength=len(kinds)))
    type_code = np.full(len(kinds), -1, dtype=np.int64)
    type_code[used_types] = np.arange(len(used_types))
    events = pd.DataFrame({
        SOURCE: pd.Categorical.from_codes(source[keep], categories=ids),
        TARGET: pd.Categorical.from_codes(target[keep], categories=ids),
        TYPE: pd.Categorical.from_codes(type_code[kind_kept], categories=kinds[used_types]),
    })
    start = end = None
    if has_timestamps:
        assert timestamp is not None  # parsed above
        events[TIMESTAMP] = timestamp.array[keep]
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
        events[CONVERTED] = converted.array[keep]
    if value is not None:
        events[VALUE] = value[keep].to_numpy(dtype=np.float64)
    events[WEIGHT] = weight.to_numpy(dtype=np.float64)

    warnings = drop_warnings(dropped, rows_read, timestamp_hint=timestamp_hint,
                             limits=limit_warnings(big_weight, big_value),
                             has_timestamps=has_timestamps)
    if len(events) == 0:
        raise InputError(no_usable_events(rows_read, dropped, *id_warning(dropped),
                                          timestamp_hint,
                                          *limit_warnings(big_weight, big_value)))
    result = CleanEvents(events=events, rows_read=rows_read, rows_used=int(keep.sum()),
                         dropped=dropped, has_timestamps=bool(has_timestamps), start=start,
                         end=end, warnings=warnings, ids=ids.rename("customer_id"))
    assert result.rows_read == result.rows_used + sum(result.dropped.values())
    return result


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate_events` found: what ``analyze`` would use and drop, and why.

    Attributes
    ----------
    accounting : influence.engine.Accounting
        Rows read, used, dropped by reason, events by type, the period, warnings
        (the same record the engines put in the manifest).
    customers : int
        Distinct customer ids in all rows read (dropped rows too).
    """

    accounting: Any
    customers: int

    @property
    def usable(self) -> bool:
        """Whether ``analyze`` would find events to use."""
        return self.accounting.rows_used > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``input``, ``rows_read``, ``rows_used``, ``dropped``,
        ``customers``, ``events_by_type``, ``has_timestamps``, ``first_event``,
        ``last_event``, ``warnings``."""
        acc = self.accounting
        return {
            "input": acc.input,
            "rows_read": acc.rows_read,
            "rows_used": acc.rows_used,
            "dropped": acc.dropped,
            "customers": self.customers,
            "events_by_type": acc.events_by_type,
            "has_timestamps": acc.has_timestamps,
            "first_event": None if acc.start is None else acc.start.isoformat(),
            "last_event": None if acc.end is None else acc.end.isoformat(),
            "warnings": list(acc.warnings),
        }


def validate_events(events: Any, *, config: Any = None,
                    columns: Mapping[str, str] | None = None, input_format: str | None = None,
                    since: str | None = None, until: str | None = None) -> ValidationReport:
    """Check events without analysing them: what would be used, dropped and why.

    Parameters
    ----------
    events : path or pandas.DataFrame
        As for :func:`influence.analyze`.
    config : AnalysisConfig, path or dict, optional
    columns : dict of str to str, optional
        Extra column mapping (canonical -> input name), over ``config.columns``.
    input_format : {"csv", "tsv", "parquet", "jsonl"}, optional
    since, until : str, optional
        ISO dates; override ``config.window``.

    Returns
    -------
    ValidationReport

    Raises
    ------
    InputError
        The input is unusable (unreadable, a required column missing, no usable
        event), as ``analyze`` would raise it.
    ConfigError
        An invalid config or override.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "a", "c"],
    ...                        "type": ["share", "share", "comment"]})
    >>> report = validate_events(events)
    >>> report.accounting.rows_used, report.accounting.dropped["self_loop"], report.customers
    (2, 1, 3)
    """
    from .config import as_config
    from .engine import Accounting
    from .sources import read_events

    config = as_config(config)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    config = config.replace(window__since=since, window__until=until)
    raw, info = read_events(events, columns=config.columns, input_format=input_format)
    clean = clean_events(raw, config)
    return ValidationReport(accounting=Accounting.of(info, clean),
                            customers=len(customer_universe(raw)))
