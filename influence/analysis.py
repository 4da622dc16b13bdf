"""The entry point: :func:`analyze` runs an engine, then the shared pipeline.

::

    events, customers, config
        |  engine: influence.local.run_local | influence.spark.engine.run_spark
        v
    EngineRun (influence.engine: ids, per-customer aggregates, forest,
        |      communities, graph or edge sums, accounting, stage records)
        |  influence.pipeline.finish: rank -> spread -> segments -> profiles
        v
    Analysis (influence.result) + manifest (influence.manifest)
        |  optional: snapshots (influence.snapshots), pseudonyms (influence.export)
        v
    Analysis.save(out): tables + manifest; report.html and graph files through
    the writers of influence.report / influence.export

``Analysis`` and ``OUTPUT_FORMATS`` are re-exported from :mod:`influence.result`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import AnalysisConfig, as_config
from .errors import ConfigError
from .manifest import add_snapshots
from .progress import Reporter, StageClock
from .result import OUTPUT_FORMATS, Analysis

__all__ = ["Analysis", "analyze", "OUTPUT_FORMATS", "ENGINES"]

#: The engines :func:`analyze` can run.
ENGINES = ("local", "spark")


def analyze(events: Any, *,
            customers: Any = None,
            config: AnalysisConfig | str | Path | Mapping[str, Any] | None = None,
            columns: Mapping[str, str] | None = None,
            input_format: str | None = None,
            since: str | None = None, until: str | None = None,
            seed: int | None = None, resolution: float | None = None,
            engine: str = "local", spark: Any = None,
            snapshots: str | int | Mapping[str, Any] | None = None,
            pseudonymize_key: bytes | None = None,
            reporter: Reporter | None = None) -> Analysis:
    """Run the whole analysis: events in, per-customer and per-community tables out.

    Parameters
    ----------
    events : path, str, Query, Arrow-compatible table or pandas.DataFrame
        Events with columns ``source``, ``target``, ``type`` and optionally
        ``timestamp``, ``converted``, ``value``, ``weight`` (after ``columns``
        mapping): a file (CSV, TSV, Parquet, JSON Lines), a folder or glob of
        part files, ``"-"`` (standard input), a database
        (:class:`influence.Query`), any table with ``__arrow_c_stream__``
        (polars, DuckDB relations, pyarrow, ADBC results; read without a copy
        through pandas) or a DataFrame. See :func:`influence.sources.open_table`.
    customers : path, table or pandas.DataFrame, optional
        ``customer_id`` plus attributes; every customer listed appears in the
        output, attributes are carried into ``Analysis.customers``.
    config : AnalysisConfig, path or dict, optional
        An :class:`AnalysisConfig`, the path of a TOML config file (``str`` or
        ``pathlib.Path``, read as ``--config`` reads it) or a dict of the same
        structure (:func:`influence.config.as_config`). Defaults to
        :class:`AnalysisConfig()`; the keyword arguments below override it.
    columns : dict of str to str, optional
        Extra column mapping (canonical -> input name), merged over
        ``config.columns``.
    input_format : {"csv", "tsv", "parquet", "jsonl"}, optional
        Overrides detection by file extension.
    since, until : str, optional
        ISO dates; override ``config.window``.
    seed : int, optional
        Overrides ``config.communities.seed``.
    resolution : float, optional
        Overrides ``config.communities.resolution``.
    engine : {"local", "spark"}, default="local"
        Where the event-scale stages run: this process (``local``) or Apache
        Spark (``spark``: ``events`` may then be a Spark DataFrame or a folder on
        any file system Spark reads; ``pip install 'influence[spark]'``, Java 17;
        ``config.spark`` tunes it, see ``docs/scale-out.md``). Both give the
        same tables, columns and manifest keys.
    spark : pyspark.sql.SparkSession, optional
        The session for ``engine="spark"`` (default: the active one, else a new
        one from ``config.spark``, stopped at the end).
    snapshots : str, int or dict, optional
        Also compute segment sizes over rolling windows
        (:func:`influence.snapshots.snapshot_series`): the step (``"30d"``, ``30``,
        ``"4w"``) or ``{"every": ..., "window": ...}``. Fills
        ``Analysis.snapshots`` and ``manifest["snapshots"]``. Local engine only;
        needs timestamps.
    pseudonymize_key : bytes, optional
        Replace every customer id by its keyed pseudonym and drop the
        customers-table attributes (:func:`influence.export.pseudonymize_analysis`);
        the key is never written anywhere.
    reporter : Reporter, optional
        Receives stage start/done notifications (progress display).

    Returns
    -------
    Analysis

    Raises
    ------
    InputError
        Unusable input (see :mod:`influence.validation`).
    ConfigError
        Invalid overrides; an unknown engine; pyspark or Java missing for
        ``engine="spark"``.

    Examples
    --------
    >>> import pandas as pd
    >>> import influence
    >>> events = pd.DataFrame({"source": ["ann", "ann", "bob"],
    ...                        "target": ["bob", "cat", "cat"],
    ...                        "type": ["referral", "share", "share"]})
    >>> result = influence.analyze(events, seed=0)
    >>> result.customers[["customer_id", "influence_rank"]].values.tolist()
    [['ann', 1], ['bob', 2], ['cat', 3]]
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {list(ENGINES)}; got {engine!r}",
                          key="engine", expected=" or ".join(ENGINES), got=engine)
    config = as_config(config)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    config = config.replace(window__since=since, window__until=until,
                            communities__seed=seed, communities__resolution=resolution)
    every, window = _snapshot_args(snapshots)
    if every is not None:
        from .periods import parse_days

        if engine != "local":
            raise ConfigError("snapshots run with the local engine only", key="snapshots",
                              expected="engine='local'", got=engine)
        parse_days("snapshots", every)  # a bad step fails now, not after the analysis
        if window is not None:
            parse_days("snapshots.window", window)
    clock = StageClock(reporter)
    if engine == "spark":
        from .spark.engine import run_spark

        # the finish runs in the Spark session (on the executors above the hand-off)
        result = run_spark(events, spark=spark, customers=customers, config=config,
                           input_format=input_format, clock=clock)
    else:
        from .local import run_local
        from .pipeline import finish

        run = run_local(events, customers=customers, config=config,
                        input_format=input_format, clock=clock)
        result = finish(run, config, clock)
    if every is not None:
        _add_snapshots(result, events, every=every, window=window, config=config,
                       customers=customers, input_format=input_format, clock=clock)
    if pseudonymize_key is not None:
        from .export import pseudonymize_analysis

        result = pseudonymize_analysis(result, pseudonymize_key)
    return result


def _snapshot_args(snapshots) -> tuple[Any, Any]:
    if snapshots is None:
        return None, None
    if isinstance(snapshots, Mapping):
        unknown = set(snapshots) - {"every", "window"}
        if unknown or "every" not in snapshots:
            raise ConfigError("snapshots must be a step ('30d') or {'every': ..., "
                              f"'window': ...}}; got {dict(snapshots)!r}", key="snapshots",
                              expected="{'every': ..., 'window': ...}", got=dict(snapshots))
        return snapshots["every"], snapshots.get("window")
    return snapshots, None


def _add_snapshots(result: Analysis, events, *, every, window, config, customers,
                   input_format, clock: StageClock) -> None:
    """Segment sizes over rolling windows ending at the analysis' end date."""
    from .errors import InputError
    from .snapshots import snapshot_series

    period = result.manifest["window"]
    if period["end_date"] is None:
        raise InputError("snapshots need timestamps, but the events have none; map a "
                         "column with --map timestamp=COLUMN", key="snapshots",
                         expected="events with timestamps", got="no timestamp column",
                         hint="map a column with --map timestamp=COLUMN")
    began = time.perf_counter()
    table, info = snapshot_series(events, every=every, window=window, config=config,
                                  customers=customers, input_format=input_format,
                                  start=period["first_event"], end=period["end_date"])
    result.snapshots = table
    add_snapshots(result.manifest, info, seconds=time.perf_counter() - began)
