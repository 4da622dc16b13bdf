"""Row-by-row parsing that runs inside the executors' Python workers.

The Spark engine hands each partition of the raw events to :func:`parse_batches`
through ``DataFrame.mapInArrow`` (Arrow record batches in and out, no pandas
conversion by pyspark). Every row-level rule is the local engine's: text is made
from typed columns as :mod:`influence.io` does, ids and types are stripped with
pandas' ``str.strip``, timestamps are parsed by
:func:`influence.validation.parse_timestamps` itself, numbers by
``pandas.to_numeric`` and flags by the same true/false words, so a row is
dropped for the same reason on both engines. Rules that need the whole table
(duplicates, the time window, whether the file has timestamps at all) are
applied by the engine afterwards, on the columns returned here.

This module needs only numpy, pandas, pyarrow, :mod:`influence.io` and
:mod:`influence.validation` on the executors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from ..io import text_cells
from ..schema import CONVERTED, SOURCE, TARGET, TIMESTAMP, TYPE, VALUE, WEIGHT
from ..validation import DROP_REASONS, MAX_VALUE, MAX_WEIGHT, parse_timestamps, timestamp_hints

__all__ = ["RAW_PREFIX", "output_schema", "parse_batches", "parse_batch", "probe",
           "PROBE_SCHEMA"]

#: Raw text of each canonical column, kept for the exact-duplicate check.
RAW_PREFIX = "raw_"
_CODE = {name: i + 1 for i, name in enumerate(DROP_REASONS)}
#: DDL schema of :func:`probe`'s one row.
PROBE_SCHEMA = "python string, influence string"


def _true_false() -> tuple[frozenset, frozenset]:
    from .. import validation

    return frozenset(validation._TRUE), frozenset(validation._FALSE)


def output_schema(present: tuple[str, ...]) -> str:
    """DDL schema of the batches :func:`parse_batch` returns for these input columns."""
    fields = ["_row bigint"] + [f"{RAW_PREFIX}{c} string" for c in present]
    fields += ["src string", "dst string", "kind string", "ts_ns bigint", "row_weight double",
               "conv boolean", "val double", "reason_pre tinyint", "ts_bad boolean",
               "ts_hint string", "big_weight boolean", "big_value boolean",
               "reason_post tinyint"]
    return ", ".join(fields)


def parse_batch(batch: pa.RecordBatch, present: tuple[str, ...],
                unit: str = "s") -> pa.RecordBatch:
    """Parse one Arrow batch of raw events (columns ``_row`` and ``present``)."""
    frame = batch.to_pandas()
    n = len(frame)
    cells = {c: text_cells(frame[c]) for c in present}
    text = {c: cells[c][0] for c in present}
    bad_id = np.zeros(n, dtype=bool)
    for column in (SOURCE, TARGET):
        not_id = cells[column][1]
        if not_id is not None:
            text[column] = text[column].where(~not_id)
            bad_id |= not_id
    source = text[SOURCE].str.strip().replace("", pd.NA)
    target = text[TARGET].str.strip().replace("", pd.NA)
    kind = text[TYPE].str.strip().replace("", pd.NA)

    pre = np.zeros(n, dtype=np.int8)
    post = np.zeros(n, dtype=np.int8)

    def mark(codes: np.ndarray, name: str, mask) -> None:
        if isinstance(mask, pd.Series):
            mask = mask.fillna(False)
        mask = np.asarray(mask, dtype=bool) & (codes == 0)
        codes[mask] = _CODE[name]

    mark(pre, "bad_id", bad_id)
    mark(pre, "null_source", source.isna())
    mark(pre, "null_type", kind.isna())
    ts_ns = pd.array([pd.NA] * n, dtype="Int64")
    ts_bad = np.zeros(n, dtype=bool)
    ts_hint = pd.Series(pd.NA, index=frame.index, dtype="str")
    if TIMESTAMP in text:
        parsed = parse_timestamps(text[TIMESTAMP], unit=unit)
        ts_bad = parsed.isna().to_numpy()
        failed = ts_bad & text[TIMESTAMP].notna().to_numpy()
        if failed.any():
            ts_hint[failed] = timestamp_hints(text[TIMESTAMP][failed], unit=unit)
        ts_ns = pd.array(parsed.to_numpy(dtype="datetime64[ns]").view(np.int64), dtype="Int64")
        ts_ns[ts_bad] = pd.NA
    row_weight = np.ones(n)
    big_weight = big_value = np.zeros(n, dtype=bool)
    if WEIGHT in text:
        weight = pd.to_numeric(text[WEIGHT].str.strip(), errors="coerce")
        given = text[WEIGHT].notna()
        big_weight = (given & (weight > MAX_WEIGHT)).fillna(False).to_numpy(bool)
        mark(post, "bad_weight", given & ~((weight > 0) & (weight <= MAX_WEIGHT)).fillna(False))
        row_weight = weight.fillna(1.0).to_numpy(dtype=np.float64)
    converted = pd.array([pd.NA] * n, dtype="boolean")
    if CONVERTED in text:
        true, false = _true_false()
        words = text[CONVERTED].astype("str").str.strip().str.lower()
        is_true = words.isin(true)
        is_false = words.isin(false)
        mark(post, "bad_converted", text[CONVERTED].notna() & ~is_true & ~is_false)
        converted[is_true.fillna(False).to_numpy(bool)] = True
        converted[is_false.fillna(False).to_numpy(bool)] = False
    value = np.full(n, np.nan)
    if VALUE in text:
        number = pd.to_numeric(text[VALUE].str.strip(), errors="coerce")
        big_value = (text[VALUE].notna() & (number > MAX_VALUE)).fillna(False).to_numpy(bool)
        mark(post, "bad_value", text[VALUE].notna()
             & ~((number >= 0) & (number <= MAX_VALUE)).fillna(False))
        value = number.to_numpy(dtype=np.float64, na_value=np.nan)
    mark(post, "self_loop", source.notna() & (source == target).fillna(False))

    arrays = [batch.column("_row")]
    arrays += [pa.array(text[c], type=pa.string(), from_pandas=True) for c in present]
    arrays += [pa.array(source, type=pa.string(), from_pandas=True),
               pa.array(target, type=pa.string(), from_pandas=True),
               pa.array(kind, type=pa.string(), from_pandas=True),
               pa.array(ts_ns, type=pa.int64(), from_pandas=True),
               pa.array(row_weight, type=pa.float64()),
               pa.array(converted, type=pa.bool_(), from_pandas=True),
               pa.array(value, type=pa.float64(), from_pandas=False),
               pa.array(pre, type=pa.int8()), pa.array(ts_bad, type=pa.bool_()),
               pa.array(ts_hint, type=pa.string(), from_pandas=True),
               pa.array(big_weight, type=pa.bool_()), pa.array(big_value, type=pa.bool_()),
               pa.array(post, type=pa.int8())]
    names = ["_row"] + [f"{RAW_PREFIX}{c}" for c in present]
    names += ["src", "dst", "kind", "ts_ns", "row_weight", "conv", "val", "reason_pre",
              "ts_bad", "ts_hint", "big_weight", "big_value", "reason_post"]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def parse_batches(batches: Iterable[pa.RecordBatch], present: tuple[str, ...],
                  unit: str = "s") -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` entry point: :func:`parse_batch` on every batch of a partition."""
    for batch in batches:
        if batch.num_rows:
            yield parse_batch(batch, present, unit)


def probe(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` entry point of the engine's start-up check
    (:func:`influence.spark.session.check_executors`): a worker that got here has
    imported this module, hence ``influence`` and what the row parser needs; it
    reports its interpreter and the package version."""
    import sys

    from .. import __version__

    for _ in batches:
        pass
    yield pa.RecordBatch.from_pydict({"python": [sys.executable], "influence": [__version__]},
                                     schema=pa.schema([("python", pa.string()),
                                                       ("influence", pa.string())]))
