"""Finding pyspark and Java, starting the SparkSession the engine runs on, and
checking that its executors can run the engine's Python code.

Everything that can be missing on a user's machine becomes one
:class:`~influence.errors.ConfigError` (exit 4) naming what to install, never a
traceback: pyspark, Java, and ``influence`` itself in the executors' Python.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

from ..errors import ConfigError

__all__ = ["MIN_PYSPARK", "require_pyspark", "find_java", "spark_session", "run_settings",
           "executor_python", "check_executors", "executor_import_error",
           "shuffle_partitions", "SHUFFLE_PER_CORE"]

logger = logging.getLogger(__name__)

#: Oldest pyspark the engine supports: ``DataFrame.toArrow()`` and
#: ``createDataFrame(pyarrow.Table)`` (the Arrow hand-off without pandas) came in 4.0.
MIN_PYSPARK = (4, 0)
_INSTALL = "pip install 'influence[spark]'"
# pyspark 4 warns on import that pandas 3 is not fully supported; the engine never
# converts through pandas on the Spark side (Arrow only), so the warning is noise here.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"
#: Shuffle partitions per core of the cluster when neither ``[spark]
#: shuffle_partitions`` nor the session sets them (Spark's own default is 200
#: whatever the cluster: thousands of near-empty tasks on small data).
SHUFFLE_PER_CORE = 4
_SPARK_DEFAULT_SHUFFLE = "200"
_SHIP = ("ship it to the executors: a packed environment (--archives env.tar.gz#env with "
         "spark.pyspark.python=./env/bin/python), the wheel renamed to influence.zip in "
         "--py-files where its dependencies are installed, a cluster library or an image; "
         "see docs/scale-out.md")


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


def _is_local(master: str) -> bool:
    """Whether the executors of ``master`` run on this machine (``local``,
    ``local[N]``, ``local[N,F]``, ``local-cluster[...]``)."""
    return master == "local" or master.startswith(("local[", "local-cluster["))


def executor_python(master: str, extra: dict[str, str] | None = None) -> str | None:
    """The Python interpreter a new session's executors should run, if the engine picks it.

    pyspark starts the executors' Python workers with the interpreter named by
    ``$PYSPARK_PYTHON`` when the SparkContext starts, else ``python3`` from the
    PATH: not the driver's interpreter, so a venv's ``influence`` run without
    activating the venv (cron, pipx, systemd) gets workers that cannot import
    the package. This returns, first match wins: the ``spark.pyspark.python``
    setting of ``extra`` (Spark's precedence; pyspark itself reads only the
    variable when started from Python); ``None`` when ``PYSPARK_PYTHON`` is set
    (the user's choice stands); in local mode, this process's interpreter
    (``sys.executable``); else ``None`` (on a cluster the executors' Python is
    the cluster's: see :func:`check_executors`).
    """
    chosen = (extra or {}).get("spark.pyspark.python")
    if chosen:
        return str(chosen)
    if os.environ.get("PYSPARK_PYTHON"):
        return None
    if _is_local(master) and sys.executable:
        return sys.executable
    return None


@contextlib.contextmanager
def _environ(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name] = value`` for the block (nothing when ``value`` is None)."""
    if value is None:
        yield
        return
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


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
        submitted master and memory settings apply). In local mode the
        executors run this process's Python unless ``PYSPARK_PYTHON`` or
        ``spark.pyspark.python`` says otherwise (:func:`executor_python`).
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
    # pyspark reads PYSPARK_PYTHON once, when the SparkContext starts
    python = None if submitted else executor_python(master or "local[*]", extra)
    try:
        with _environ("PYSPARK_PYTHON", python):
            session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: wrong Java, bad master URL, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"could not start Spark (master {master or 'local[*]'!r}): {first}. "
                          "The Spark engine needs Java 17; check 'java -version' and "
                          "JAVA_HOME, and the --spark-master URL") from None
    session.sparkContext.setLogLevel("ERROR")
    return session, True


def shuffle_partitions(spark, configured: int | None) -> int | None:
    """``spark.sql.shuffle.partitions`` for a run: the one to set, or None to keep the session's.

    ``configured`` (``[spark] shuffle_partitions``) wins; a session whose
    setting is not Spark's default (200: set by ``spark-submit --conf``, the
    builder or a notebook) keeps it; otherwise :data:`SHUFFLE_PER_CORE` times
    the cluster's default parallelism (its cores: 8 in ``local[2]``), which
    adaptive query execution may coalesce further.
    """
    if configured is not None:
        return configured
    current = spark.conf.get("spark.sql.shuffle.partitions", _SPARK_DEFAULT_SHUFFLE)
    if str(current) != _SPARK_DEFAULT_SHUFFLE:
        return None
    try:
        cores = int(spark.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect has no SparkContext: keep the session's setting
        return None
    return max(1, SHUFFLE_PER_CORE * cores)


def _executor_python_name(spark) -> str:
    """The interpreter the executors were told to run (for messages)."""
    try:
        return str(spark.sparkContext.pythonExec)
    except Exception:  # Spark Connect: no SparkContext on the client
        return os.environ.get("PYSPARK_PYTHON", "python3")


_IMPORT_FAILURE = re.compile(r"\b(?:ModuleNotFoundError|ImportError|PySparkImportError): "
                             r"([^\n]*)")


def executor_import_error(exc: BaseException, spark) -> ConfigError | None:
    """The one-line error for a Spark failure caused by the executors' Python not
    importing ``influence`` (or a module it needs), else None.

    Recognises the ``ModuleNotFoundError``/``ImportError`` of a Python worker in the
    text of the exception Spark raises on the driver.
    """
    found = _IMPORT_FAILURE.findall(str(exc))
    if not found:
        return None
    return _cannot_import(spark, found[-1].strip())


def _cannot_import(spark, detail: str) -> ConfigError:
    python = _executor_python_name(spark)
    detail = " ".join(detail.split())[:200]
    try:
        local = _is_local(spark.sparkContext.master)
    except Exception:  # Spark Connect
        local = False
    if local:
        hint = (f"PYSPARK_PYTHON or spark.pyspark.python names a Python without it: unset "
                f"it to use this one ({sys.executable}) or install influence there; "
                "see docs/scale-out.md")
    else:
        hint = _SHIP
    return ConfigError(f"the Spark executors cannot import 'influence' (python: {python}; "
                       f"{detail}); {hint}")


def check_executors(spark) -> dict[str, str]:
    """Run one tiny task that imports ``influence`` in an executor's Python worker.

    Returns
    -------
    dict
        ``python`` (the worker's ``sys.executable``) and ``influence`` (the
        version it imported).

    Raises
    ------
    ConfigError
        The executors cannot import ``influence`` or a module it needs (the
        message says how to ship it), or their Python worker does not start.
    """
    from . import _worker

    try:
        row = (spark.range(1, numPartitions=1)
               .mapInArrow(_worker.probe, _worker.PROBE_SCHEMA).collect())[0]
    except Exception as exc:
        error = executor_import_error(exc, spark)
        if error is not None:
            raise error from None
        raise ConfigError(f"the Spark executors could not run Python (python: "
                          f"{_executor_python_name(spark)}): {first_line(exc)}; check the "
                          "executors' Python (PYSPARK_PYTHON, spark.pyspark.python); see "
                          "docs/scale-out.md") from None
    found = {"python": row["python"], "influence": row["influence"]}
    from .. import __version__

    if found["influence"] != __version__:
        logger.warning("the Spark executors run influence %s (python: %s), the driver %s; "
                       "results may differ from this version's", found["influence"],
                       found["python"], __version__)
    return found


@contextlib.contextmanager
def run_settings(spark, settings: Mapping[str, str | int | None]) -> Iterator[None]:
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


def first_line(exc: BaseException) -> str:
    """The first line of a Spark error worth showing (no JVM stack trace)."""
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("JVM stacktrace", "at ", "Traceback")):
            return line[:300]
    return type(exc).__name__
