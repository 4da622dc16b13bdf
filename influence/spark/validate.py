"""Reading events into Spark and validating them with the local engine's rules.

:func:`read_events` gives a DataFrame of the canonical columns (same mapping,
same errors as :func:`influence.sources.read_events`); :func:`clean_events` applies
:mod:`influence.validation`'s rules, each dropped row counted once under the
first reason that applies, in the order of
:data:`influence.validation.DROP_REASONS`, so ``rows_read``, ``rows_used`` and
``dropped`` are the local engine's numbers. Row-level parsing runs in the
executors' Python workers (:mod:`influence.spark._worker`); duplicates, the
window and the accounting are DataFrame jobs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ..config import AnalysisConfig
from ..errors import InputError, InputTypeError
from ..io import choose_columns, csv_header, detect_format, file_sha256
from ..schema import CUSTOMER_ID, EVENT_COLUMNS, TIMESTAMP
from ..sources import STDIN, is_database_uri
from ..validation import (
    DROP_REASONS,
    drop_warnings,
    id_warning,
    limit_warnings,
    no_usable_events,
    timestamp_warning,
    undeclared_types,
)
from . import _worker
from .frames import frame_from_arrow
from .session import first_line as _first_line

__all__ = ["SparkEvents", "read_events", "clean_events", "customer_ids"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass
class SparkEvents:
    """Clean events on Spark, with the accounting of what was dropped.

    Attributes
    ----------
    events : pyspark.sql.DataFrame
        One row per kept event (persisted): ``_row`` (input order), ``src``,
        ``dst`` (stripped ids; ``dst`` null for activity-only rows), ``kind``
        (event type), ``ts_ns`` (nanoseconds since the epoch, UTC; null without
        timestamps), ``weight`` (type weight x row weight x decay), ``conv``
        (boolean or null), ``val`` (float, NaN when missing).
    rows_read, rows_used : int
    dropped : dict of str to int
        Every reason of :data:`influence.validation.DROP_REASONS` (zeros included).
    has_timestamps, has_converted, has_value : bool
    start_ns, end_ns : int or None
        First kept event and the analysis end date (``until``, else the last
        kept event), in nanoseconds.
    events_by_type : dict of str to int
    warnings : list of str
    universe : pyspark.sql.DataFrame
        ``customer_id`` of every id in every row read (dropped rows included),
        stripped, not empty; not deduplicated.
    """

    events: Any
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    has_timestamps: bool
    has_converted: bool
    has_value: bool
    start_ns: int | None
    end_ns: int | None
    events_by_type: dict[str, int]
    universe: Any
    warnings: list[str] = field(default_factory=list)
    parsed: Any = field(default=None, repr=False)
    staged: Any = field(default=None, repr=False)

    def release(self) -> None:
        """Free the cached tables (call once the analysis no longer needs them)."""
        for frame in (self.events, self.staged, self.parsed):
            if frame is not None:
                frame.unpersist()


def _is_local(path: str) -> bool:
    return _SCHEME.match(path) is None or path.startswith("file://")


def _local_path(path: str) -> Path:
    return Path(path[len("file://"):] if path.startswith("file://") else path)


def read_events(spark, events: Any, *, columns: Mapping[str, str] | None = None,
                input_format: str | None = None) -> tuple[Any, dict]:
    """Read an events table into Spark and rename its columns to the canonical ones.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    events : pyspark.sql.DataFrame, str or path
        A DataFrame, or a file or folder (Spark-style part files) in CSV, TSV,
        Parquet or JSON Lines, on any file system Spark can read (local,
        ``hdfs://``, ``s3a://``, ``dbfs:/``, ...).
    columns : dict of str to str, optional
        Canonical name -> column name in the input.
    input_format : {"csv", "tsv", "parquet", "jsonl"}, optional
        Overrides detection by extension.

    Returns
    -------
    events : pyspark.sql.DataFrame
        The canonical columns present (``source, target, type`` always), as
        read (text for CSV/TSV, typed for Parquet/JSON/DataFrames), plus
        ``_row``: the input order.
    info : dict
        ``path``, ``format``, ``sha256`` (local single files only, else None).

    Raises
    ------
    InputError
        The local engine's errors: a missing or empty file, an unreadable
        one, a missing or unmappable column, no rows.
    """
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    header = None
    if isinstance(events, DataFrame):
        frame = events
        info = {"path": None, "format": "spark", "sha256": None}
        fmt = "spark"
    elif not isinstance(events, (str, Path)) or str(events) == STDIN \
            or is_database_uri(str(events)):
        raise InputTypeError(
            "the Spark engine reads files and folders (local or on any file system Spark "
            "reads) and Spark DataFrames; read standard input, databases and Arrow tables "
            f"with the local engine (got {type(events).__name__})")
    else:
        path = str(events)
        fmt = detect_format(Path(path.rstrip("/")), input_format)
        sha = None
        if _is_local(path):
            local = _local_path(path)
            if not local.exists():
                raise InputError(f"events file {path!r} does not exist or is not a file")
            if local.is_file():
                if local.stat().st_size == 0:
                    raise InputError(f"events file {path!r} is empty (0 bytes); "
                                     "expected a header row and at least one event")
                if fmt in ("csv", "tsv"):
                    with pa.input_stream(str(local), compression="detect") as stream:
                        head = stream.read(1 << 16)
                    if not head.strip():
                        raise InputError(f"cannot read events file {path!r} as {fmt}: "
                                         f"file {path!r} has no header row")
                    # Spark renames repeated header names: check the file's own ones
                    header = [name.strip() for name in
                              csv_header(head, "," if fmt == "csv" else "\t")]
                sha = file_sha256(local)
        info = {"path": path, "format": fmt, "sha256": sha}
        reader = spark.read
        try:
            if fmt in ("csv", "tsv"):
                frame = (reader.option("header", True).option("sep", "," if fmt == "csv" else "\t")
                         .option("quote", '"').option("escape", '"').option("mode", "FAILFAST")
                         .option("multiLine", False).option("inferSchema", False)
                         .option("encoding", "UTF-8").csv(path))
                # pyarrow reads empty cells (quoted or not) as missing; so do we
                frame = frame.select([F.when(F.col(f"`{c}`") == "", F.lit(None))
                                      .otherwise(F.col(f"`{c}`")).alias(c)
                                      for c in frame.columns])
            elif fmt == "parquet":
                frame = reader.parquet(path)
            else:
                frame = reader.option("mode", "FAILFAST").json(path)
        except Exception as exc:  # AnalysisException: path missing, not readable, ...
            raise InputError(f"cannot read events file {path!r} as {fmt}: "
                             f"{_first_line(exc)}") from None
    stripped = [str(c).strip() for c in frame.columns]
    if not stripped:
        raise InputError("events input has no columns")
    if header is None or len(header) != len(stripped):
        header = stripped
    # the local engine's choice of columns, by position (and its errors)
    chosen = choose_columns(header, columns or {})
    names = list(frame.columns)
    frame = frame.select([F.col(f"`{names[i]}`").alias(c) for c, i in chosen.items()])
    frame = frame.withColumn("_row", F.monotonically_increasing_id())
    return frame, info


def _type_weights(config: AnalysisConfig):
    from pyspark.sql import functions as F

    expr = None
    for name in sorted(config.types):
        weight = float(config.types[name].weight)
        expr = (F.when(F.col("kind") == name, F.lit(weight)) if expr is None
                else expr.when(F.col("kind") == name, F.lit(weight)))
    return expr


def clean_events(spark, raw, config: AnalysisConfig, info: dict, *,
                 storage=None) -> SparkEvents:
    """Check, parse and repair raw events with the local engine's rules.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    raw : pyspark.sql.DataFrame
        From :func:`read_events`.
    config : AnalysisConfig
    info : dict
        From :func:`read_events` (names the input in read errors).

    Returns
    -------
    SparkEvents

    Raises
    ------
    InputError
        An undeclared event type (the local message), a window or half-life on
        events without timestamps, no usable row, or a file Spark cannot parse.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    storage = storage or StorageLevel.MEMORY_AND_DISK
    present = tuple(c for c in EVENT_COLUMNS if c in raw.columns)
    try:
        inputs = raw.select("_row", *[F.col(c) for c in present])
        parse = functools.partial(_worker.parse_batches, present=present,
                                  unit=config.input.timestamp_unit)
        parsed = inputs.mapInArrow(parse, _worker.output_schema(present)).persist(storage)
        by_kind = (parsed.groupBy("kind", "ts_hint")
                   .agg(F.count(F.lit(1)).alias("rows"),
                        (F.sum(F.col(f"{_worker.RAW_PREFIX}{TIMESTAMP}").isNotNull().cast("long"))
                         if TIMESTAMP in present else F.lit(0)).alias("stamped"),
                        F.sum(F.col("big_weight").cast("long")).alias("big_weight"),
                        F.sum(F.col("big_value").cast("long")).alias("big_value"))
                   .collect())
    except InputError:
        raise
    except Exception as exc:
        from .session import executor_import_error

        cannot_import = executor_import_error(exc, spark)
        if cannot_import is not None:  # an executor without the package (the probe ran
            raise cannot_import from None  # on another one)
        name = info.get("path") or "events"
        raise InputError(f"cannot read events file {name!r} as {info.get('format')}: "
                         f"{_first_line(exc)}") from None
    rows_read = sum(int(r["rows"]) for r in by_kind)
    if rows_read == 0:
        parsed.unpersist()
        raise InputError("events input has a header but no rows; expected at least one event")
    kinds: dict[str, int] = {}
    hints: dict[str, int] = {}
    big_weight = sum(int(r["big_weight"] or 0) for r in by_kind)
    big_value = sum(int(r["big_value"] or 0) for r in by_kind)
    for r in by_kind:
        if r["kind"] is not None:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + int(r["rows"])
        if r["ts_hint"] is not None:
            hints[r["ts_hint"]] = hints.get(r["ts_hint"], 0) + int(r["rows"])
    declared = config.types
    if any(str(t) not in declared for t in kinds):
        parsed.unpersist()
        raise undeclared_types(kinds, declared)
    has_timestamps = TIMESTAMP in present and sum(int(r["stamped"]) for r in by_kind) > 0
    window = config.window
    if (window.since is not None or window.until is not None) and not has_timestamps:
        parsed.unpersist()
        raise InputError(
            "a time window (--since/--until) was given but the events have no "
            "timestamp column; map one with --map timestamp=COLUMN or drop the window")

    code = {name: i + 1 for i, name in enumerate(DROP_REASONS)}
    reason = F.when(F.col("reason_pre") > 0, F.col("reason_pre"))
    if has_timestamps:
        reason = reason.when(F.col("ts_bad"), F.lit(code["bad_timestamp"]))
    reason = reason.otherwise(F.col("reason_post")).cast("tinyint")
    staged = parsed.withColumn("reason", reason)
    # exact copies of an earlier row: the first copy stays (identical rows share
    # every row-level reason, so only rows still kept can be duplicates)
    raw_columns = [f"{_worker.RAW_PREFIX}{c}" for c in present]
    first = Window.partitionBy(*raw_columns).orderBy("_row")
    staged = staged.withColumn(
        "reason", F.when((F.col("reason") == 0) & (F.row_number().over(first) > 1),
                         F.lit(code["duplicate"]).cast("tinyint")).otherwise(F.col("reason")))
    if window.since is not None or window.until is not None:
        outside = F.lit(False)
        if window.since is not None:
            outside = outside | (F.col("ts_ns") < F.lit(int(window.since.value)))
        if window.until is not None:
            outside = outside | (F.col("ts_ns") > F.lit(int(window.until.value)))
        staged = staged.withColumn(
            "reason", F.when((F.col("reason") == 0) & outside,
                             F.lit(code["outside_window"]).cast("tinyint"))
            .otherwise(F.col("reason")))
    staged = staged.drop(*raw_columns, "ts_hint", "big_weight", "big_value").persist(storage)
    # one job: rows per reason, and per type the kept rows with their first and last time
    tally = (staged.groupBy("reason", F.when(F.col("reason") == 0, F.col("kind")).alias("kind"))
             .agg(F.count(F.lit(1)).alias("rows"), F.min("ts_ns").alias("first"),
                  F.max("ts_ns").alias("last")).collect())
    counts: dict[int, int] = {}
    for r in tally:
        counts[int(r["reason"])] = counts.get(int(r["reason"]), 0) + int(r["rows"])
    by_type_rows = sorted((r for r in tally if int(r["reason"]) == 0), key=lambda r: r["kind"])
    dropped = {name: counts.get(i + 1, 0) for i, name in enumerate(DROP_REASONS)}
    rows_used = counts.get(0, 0)
    assert rows_read == rows_used + sum(dropped.values())
    if rows_used == 0:
        staged.unpersist()
        parsed.unpersist()
        raise InputError(no_usable_events(rows_read, dropped, *id_warning(dropped),
                                          timestamp_warning(hints) if has_timestamps else None,
                                          *limit_warnings(big_weight, big_value)))

    kept = staged.filter(F.col("reason") == 0)
    start_ns = end_ns = None
    events_by_type = {r["kind"]: int(r["rows"]) for r in by_type_rows}
    if has_timestamps:
        start_ns = min(int(r["first"]) for r in by_type_rows)
        end_ns = (int(window.until.value) if window.until is not None
                  else max(int(r["last"]) for r in by_type_rows))
    weight = _type_weights(config) * F.col("row_weight")
    if window.half_life_days is not None:
        if not has_timestamps:
            staged.unpersist()
            parsed.unpersist()
            raise InputError("window.half_life_days needs timestamps, but the events have no "
                             "timestamp column; map one with --map timestamp=COLUMN")
        # the local rule: age in days to the end date, from nanoseconds as a double
        age_days = ((F.lit(end_ns) - F.col("ts_ns")).cast("double") / F.lit(1e9)
                    / F.lit(86400.0))
        weight = weight * F.pow(F.lit(0.5), F.greatest(age_days, F.lit(0.0))
                                / F.lit(float(window.half_life_days)))
    events = kept.select("_row", "src", "dst", "kind", "ts_ns", weight.alias("weight"),
                         "conv", "val").persist(storage)
    universe = (parsed.select(F.col("src").alias(CUSTOMER_ID))
                .unionByName(parsed.select(F.col("dst").alias(CUSTOMER_ID)))
                .filter(F.col(CUSTOMER_ID).isNotNull()))
    warnings = drop_warnings(dropped, rows_read,
                             timestamp_hint=timestamp_warning(hints) if has_timestamps else None,
                             limits=limit_warnings(big_weight, big_value),
                             has_timestamps=has_timestamps)
    return SparkEvents(events=events, rows_read=rows_read, rows_used=rows_used, dropped=dropped,
                       has_timestamps=has_timestamps, has_converted="converted" in present,
                       has_value="value" in present, start_ns=start_ns, end_ns=end_ns,
                       events_by_type=events_by_type, universe=universe, warnings=warnings,
                       parsed=parsed, staged=staged)


def customer_ids(spark, universe, customers: pd.DataFrame | None, *, storage=None):
    """Every customer, with its vertex: ``customer_id`` (text) and ``vid`` (int64, the
    position of the id in sorted order: the local engine's vertex index).

    Parameters
    ----------
    universe : pyspark.sql.DataFrame
        ``customer_id`` of every event row read (:attr:`SparkEvents.universe`).
    customers : pandas.DataFrame, optional
        The customers table (:func:`influence.sources.read_customers`).

    Returns
    -------
    ids : pyspark.sql.DataFrame
        ``customer_id``, ``vid``, persisted, one row per customer.
    n : int
        Number of customers.

    Notes
    -----
    A distributed sort; each row's position is its partition's offset plus its
    place inside the partition (no single-partition window).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    storage = storage or StorageLevel.MEMORY_AND_DISK
    if customers is not None and len(customers):
        table = pa.table({CUSTOMER_ID: pa.array(customers[CUSTOMER_ID].astype(str).tolist(),
                                                type=pa.string())})
        universe = universe.unionByName(frame_from_arrow(spark, table))
    ordered = (universe.distinct().orderBy(CUSTOMER_ID)
               .select(CUSTOMER_ID, F.spark_partition_id().alias("_part"),
                       F.monotonically_increasing_id().alias("_mono"))
               .localCheckpoint(eager=True))
    sizes = sorted((int(r["_part"]), int(r["count"]))
                   for r in ordered.groupBy("_part").count().collect())
    offsets, total = [], 0
    for part, size in sizes:
        offsets.append((part, total))
        total += size
    offset_table = spark.createDataFrame(offsets, "_part int, _offset long")
    ids = (ordered.join(F.broadcast(offset_table), "_part")
           .select(CUSTOMER_ID, (F.col("_offset") + F.col("_mono")
                                 - F.shiftleft(F.col("_part").cast("long"), 33)).alias("vid"))
           .persist(storage))
    return ids, total
