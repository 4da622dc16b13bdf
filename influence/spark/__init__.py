"""The Spark engine: the same analysis, with the event-scale stages on a Spark cluster.

:func:`analyze_spark` takes a Spark DataFrame or paths (Parquet, CSV, TSV, JSON
Lines; local or cluster file systems) and returns the same
:class:`~influence.analysis.Analysis` as :func:`influence.analyze`, so
``.save()`` writes the same files, columns and manifest keys. What runs on the
executors and what on the driver is in ``docs/scale-out.md`` and in the
manifest's ``engine`` block.

``pyspark`` is an optional extra (``pip install 'influence[spark]'``). It is
imported only when the engine runs, so ``import influence.spark`` works without
it, and a missing pyspark or Java is a :class:`~influence.errors.ConfigError`
that says what to install.
"""

from __future__ import annotations

from .analysis import analyze_spark
from .session import require_pyspark, spark_session

__all__ = ["analyze_spark", "spark_session", "require_pyspark"]
