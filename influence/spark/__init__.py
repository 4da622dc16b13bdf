"""The Spark engine: the same analysis, with the event-scale stages on a Spark cluster.

:func:`analyze_spark` takes a Spark DataFrame or paths (Parquet, CSV, TSV, JSON
Lines; local or cluster file systems) and returns the same
:class:`~influence.analysis.Analysis` as :func:`influence.analyze`, so
``.save()`` writes the same files, columns and manifest keys. What runs on the
executors and what on the driver is in ``docs/scale-out.md`` and in the
manifest's ``engine`` block. Its settings are the ``[spark]`` config section,
:class:`influence.spark.config.SparkConfig`.

``pyspark`` is an optional extra (``pip install 'influence[spark]'``). It is
imported only when the engine runs, so ``import influence.spark`` works without
it, and a missing pyspark or Java is a :class:`~influence.errors.ConfigError`
that says what to install. The public names are imported on first use (PEP
562), so that loading the config (:mod:`influence.spark.config`) loads nothing
of the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = ["analyze_spark", "spark_session", "require_pyspark", "SparkConfig"]

_HOMES = {"analyze_spark": "analysis", "spark_session": "session",
          "require_pyspark": "session", "SparkConfig": "config"}

if TYPE_CHECKING:
    from .analysis import analyze_spark  # noqa: F401
    from .config import SparkConfig  # noqa: F401
    from .session import require_pyspark, spark_session  # noqa: F401


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'influence.spark' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
