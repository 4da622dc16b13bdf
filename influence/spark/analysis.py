"""``analyze_spark()``: :func:`influence.analyze` with ``engine="spark"``.

The Spark engine itself is :mod:`influence.spark.engine`; this thin alias keeps
the name users know (``from influence.spark import analyze_spark``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import AnalysisConfig
from ..progress import Reporter

if TYPE_CHECKING:
    from ..result import Analysis

__all__ = ["analyze_spark"]


def analyze_spark(events: Any, *, spark: Any = None,
                  customers: str | Path | pd.DataFrame | Any | None = None,
                  config: AnalysisConfig | str | Path | None = None,
                  columns: Mapping[str, str] | None = None,
                  input_format: str | None = None,
                  since: str | None = None, until: str | None = None,
                  seed: int | None = None, resolution: float | None = None,
                  reporter: Reporter | None = None) -> Analysis:
    """Run the whole analysis on Spark: events in, the local engine's tables out.

    Parameters
    ----------
    events : pyspark.sql.DataFrame, str or path
        A Spark DataFrame, or a file or folder of CSV, TSV, Parquet or JSON
        Lines on any file system Spark reads (local paths, ``hdfs://``,
        ``s3a://``, ``abfss://``, ``dbfs:/``, ...), with the columns of
        :func:`influence.analyze` (after ``columns`` mapping).
    spark : pyspark.sql.SparkSession, optional
        The session to run on. Default: the active session, else a new one
        from ``config.spark`` (``master``, ``driver_memory``), stopped at the end.
    customers : path, pandas.DataFrame or pyspark.sql.DataFrame, optional
        ``customer_id`` plus attributes (read on the driver: the per-customer
        table is assembled there).
    config : AnalysisConfig, path or dict, optional
        As for :func:`influence.analyze`; ``config.spark`` tunes this engine.
    columns, input_format, since, until, seed, resolution, reporter
        As for :func:`influence.analyze`.

    Returns
    -------
    Analysis
        The same tables, columns and manifest keys as :func:`influence.analyze`,
        plus ``manifest["engine"]``: which stages ran on the executors and which
        on the driver, and the methods used. ``reach_2`` is a HyperLogLog
        estimate (``manifest["reach"]``); PageRank is iterated to
        ``[spark] pagerank_tolerance``. Above ``[spark] driver_edges_max``
        edges, communities come from label propagation and ``coreness``,
        ``betweenness``, ``hub``, ``authority``, ``expected_spread`` and
        ``propagator_rank`` are empty (the manifest says so).

    Raises
    ------
    InputError
        Unusable input: the local engine's messages.
    ConfigError
        pyspark or Java missing, Spark failed to start, invalid overrides.

    Notes
    -----
    Byte-identical outputs for the same input, config and seed: every sum
    that feeds an output is taken in a fixed order or exactly, and results
    are sorted before they are collected. See ``docs/scale-out.md``.

    Examples
    --------
    >>> from influence.spark import analyze_spark          # doctest: +SKIP
    >>> result = analyze_spark("s3a://bucket/events/")      # doctest: +SKIP
    >>> result.save("influence-out")                        # doctest: +SKIP
    """
    from ..analysis import analyze

    return analyze(events, engine="spark", spark=spark, customers=customers, config=config,
                   columns=columns, input_format=input_format, since=since, until=until,
                   seed=seed, resolution=resolution, reporter=reporter)
