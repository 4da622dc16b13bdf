"""What the Spark test files share: why Spark cannot run here (``None`` when it can), and
the one local[2] session of the test run (the ``spark`` fixture in conftest.py)."""

from __future__ import annotations


def why_no_spark() -> str | None:
    """The reason the Spark tests are skipped: pyspark or Java missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'influence[spark]')"
    from influence.spark.session import find_java

    if find_java() is None:
        return "no Java found (the Spark engine needs Java 17 on PATH or JAVA_HOME)"
    return None


def start_session():
    """The test run's SparkSession (local[2], 4 shuffle partitions, no UI, adaptive
    execution off) and whether it was created here."""
    from influence.spark import spark_session

    return spark_session("local[2]", driver_memory="2g", extra={
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.sql.adaptive.enabled": "false"})
