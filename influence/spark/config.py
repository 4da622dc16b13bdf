"""The ``[spark]`` section of the config: settings of the Spark engine.

Declared here, beside the engine that reads them, and registered into
:class:`influence.config.AnalysisConfig` (its ``spark`` field), so that a
config file's ``[spark]`` table is checked when it is loaded, with or without
pyspark installed. This module imports neither pyspark nor pandas.
"""

from __future__ import annotations

from ..params import Flag, Interval, Text, param, section

__all__ = ["SparkConfig"]


@section("spark")
class SparkConfig:
    """The Spark engine (``influence analyze --engine spark``, :mod:`influence.spark`).

    Read only by the Spark engine; the local engine ignores it. See
    ``docs/scale-out.md``.
    """

    master: str | None = param(
        None, Text(), "Spark master URL for a session the engine starts itself "
        "(``local[*]`` when not set; ``--spark-master`` overrides it). Ignored when a "
        "SparkSession is already running or given.", optional=True)
    driver_memory: str | None = param(
        None, Text(), "``spark.driver.memory`` of a session the engine starts (e.g. "
        "``\"6g\"``).", optional=True)
    shuffle_partitions: int | None = param(
        None, Interval(int, 1), "``spark.sql.shuffle.partitions`` for the run. Not set: a "
        "session that sets it (not Spark's default 200) keeps its own; otherwise 4 per core "
        "of the cluster (``4 * defaultParallelism``, 8 in ``local[2]``). The effective "
        "number is in ``manifest[\"engine\"][\"shuffle_partitions\"]``.", optional=True)
    driver_edges_max: int = param(
        50_000_000, Interval(int, 0), "The whole-graph algorithms (communities, roles, "
        "coreness, betweenness, HITS, key propagators) run on the driver, with the local "
        "engine, when the aggregated influence graph has at most this many edges; above "
        "it, communities come from label propagation on the executors and the metrics "
        "that need the whole graph in one place are left empty.")
    checkpoint_dir: str | None = param(
        None, Text(), "Reliable checkpoint folder (a path every executor can reach: HDFS, "
        "S3, DBFS, ...). Not set uses local checkpoints (executor storage), which are fine "
        "in local mode and on clusters without executor loss.", optional=True)
    checkpoint_every: int = param(
        5, Interval(int, 1), "Iterative stages (PageRank, referral forest, label "
        "propagation) cut their lineage with a local checkpoint every iteration, and write "
        "a reliable checkpoint to ``checkpoint_dir`` (when set) every this many. It is also "
        "the batch of the convergence check: the iterations of a batch are checked in one "
        "aggregate at its end, so a stage may compute up to this many - 1 iterations past "
        "the one that met the tolerance; the result is that iteration's.")
    pagerank_on_driver: bool = param(
        True, Flag(), "When the graph is handed to the driver, PageRank is the local "
        "engine's (igraph PRPACK on the handed-off graph: the local numbers exactly, and "
        "far cheaper than distributed iterations there); ``false`` runs the distributed "
        "power iteration at any size. Above ``driver_edges_max`` it always runs on the "
        "executors.")
    pagerank_iterations: int = param(
        100, Interval(int, 1), "Most power iterations of the distributed PageRank.")
    pagerank_tolerance: float = param(
        1e-9, Interval(float, 0, None, closed="neither"), "The distributed PageRank stops "
        "when the L1 change of the score vector is below this.")
    reach_rsd: float = param(
        0.05, Interval(float, 0.005, 0.39), "Relative standard deviation of the "
        "HyperLogLog++ sketches that estimate ``reach_2`` (``approx_count_distinct``).")
    label_propagation_iterations: int = param(
        20, Interval(int, 1), "Most rounds of label propagation above "
        "``driver_edges_max``.")
