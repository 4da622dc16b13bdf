"""Finding pyspark and Java, and starting the SparkSession the engine runs on.

Everything that can be missing on a user's machine becomes one
:class:`~influence.errors.ConfigError` (exit 4) naming what to install, never a
traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from importlib import resources
from typing import Any, Iterator

from ..errors import ConfigError

__all__ = ["MIN_PYSPARK", "require_pyspark", "find_java", "spark_session", "run_settings"]

logger = logging.getLogger(__name__)

#: Oldest pyspark the engine supports: ``DataFrame.toArrow()`` and
#: ``createDataFrame(pyarrow.Table)`` (the Arrow hand-off without pandas) came in 4.0.
MIN_PYSPARK = (4, 0)
_INSTALL = "pip install 'influence[spark]'"
# pyspark 4 warns on import that pandas 3 is not fully supported; the engine never
# converts through pandas on the Spark side (Arrow only), so the warning is noise here.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


def _quiet_pyspark_warnings() -> None:
    warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)


def require_pyspark():
    """Return the ``pyspark`` module, or raise a ConfigError saying how to install it."""
    _quiet_pyspark_warnings()
    try:
        import pyspark
    except ImportError:
        raise ConfigError("the Spark engine needs pyspark, which is not installed; "
                          f"install it with: {_INSTALL}") from None
    version = tuple(int(p) for p in pyspark.__version__.split(".")[:2] if p.isdigit())
    if version < MIN_PYSPARK:
        raise ConfigError(f"the Spark engine needs pyspark >= "
                          f"{'.'.join(map(str, MIN_PYSPARK))}; found {pyspark.__version__}. "
                          f"Upgrade it with: pip install -U 'influence[spark]'")
    return pyspark


def find_java() -> str | None:
    """Path of the ``java`` that pyspark will start (``$JAVA_HOME/bin/java``, else PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        return candidate if os.path.isfile(candidate) else None
    return shutil.which("java")


def _log4j_options() -> str:
    """JVM option pointing log4j2 at our quiet configuration (errors only)."""
    path = resources.files("influence.spark").joinpath("log4j2.properties")
    return f"-Dlog4j.configurationFile=file:{path}"


def spark_session(master: str | None = None, *, driver_memory: str | None = None,
                  app_name: str = "influence", extra: dict[str, str] | None = None,
                  ) -> tuple[Any, bool]:
    """The active SparkSession, or a new one.

    Parameters
    ----------
    master : str, optional
        Master URL for a new session (default ``local[*]``); ignored when a
        session is already active (a notebook) or under ``spark-submit`` (the
        submitted master and memory settings apply).
    driver_memory : str, optional
        ``spark.driver.memory`` of a new session (not under ``spark-submit``).
    app_name : str, default="influence"
    extra : dict, optional
        More Spark settings for a new session.

    Returns
    -------
    (SparkSession, bool)
        The session, and whether it was started here (the caller stops it).

    Raises
    ------
    ConfigError
        pyspark missing or too old, no Java, or Spark failed to start.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    # under spark-submit the JVM is already running with the submitted master and
    # memory settings: take them as they are
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted and find_java() is None:
        raise ConfigError("the Spark engine needs Java 17 (a JDK or JRE), and none was found; "
                          "install Java 17 and put 'java' on PATH or set JAVA_HOME")
    builder = SparkSession.builder.appName(app_name)
    if not submitted:
        builder = (builder.master(master or "local[*]")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.extraJavaOptions", _log4j_options())
                   # the hand-off collects the edge list: Spark's 1g default is ~30M edges
                   .config("spark.driver.maxResultSize", "0"))
        if driver_memory:
            builder = builder.config("spark.driver.memory", driver_memory)
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    for key, value in (extra or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: wrong Java, bad master URL, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"could not start Spark (master {master or 'local[*]'!r}): {first}. "
                          "The Spark engine needs Java 17; check 'java -version' and "
                          "JAVA_HOME, and the --spark-master URL") from None
    session.sparkContext.setLogLevel("ERROR")
    return session, True


@contextlib.contextmanager
def run_settings(spark, settings: dict[str, str | None]) -> Iterator[None]:
    """Set runtime SQL settings for one run and put the previous values back."""
    previous = {}
    for key, value in settings.items():
        if value is None:
            continue
        previous[key] = spark.conf.get(key, None)
        spark.conf.set(key, str(value))
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
