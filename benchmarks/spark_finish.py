"""Time the finish on the executors (``influence.spark.finish``) at a few sizes.

One command::

    PYTHONPATH=. python benchmarks/spark_finish.py 5000 20000

For each size N (customers) it generates events (``generate_events(N, seed=4)``),
runs the local engine up to the segment stage (``pipeline.ranked_metrics``), puts
that table in a Spark DataFrame (``local[2]``, 4 shuffle partitions, adaptive
execution off) and times ``rank_customers`` + ``finish_segments`` +
``segment_profiles`` on it, with the Spark jobs they ran and the driver's peak
RSS (Python) before and after. Not part of the test suite.
"""

from __future__ import annotations

import resource
import sys
import time
import warnings

import numpy as np
import pyarrow as pa

from influence.config import config_from_dict
from influence.local import run_local
from influence.pipeline import ranked_metrics, with_attributes
from influence.progress import StageClock
from influence.spark import spark_session
from influence.spark.finish import (
    ROW,
    SCORE_TEXT,
    finish_segments,
    rank_customers,
    segment_profiles,
)
from influence.synth import generate_events


def main(sizes: list[int]) -> None:
    warnings.filterwarnings("ignore")
    spark, _ = spark_session("local[2]", driver_memory="2g", extra={
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.sql.adaptive.enabled": "false"})
    print("| customers | finish (s) | Spark jobs | driver peak RSS before / after (MiB) |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        events, _ = generate_events(n, seed=4)
        config = config_from_dict({})
        run = run_local(events, config=config, clock=StageClock())
        metrics, _, text, _ = ranked_metrics(run, config, StageClock())
        table = with_attributes(metrics, run.attributes)
        table[ROW] = np.arange(len(table))
        table[SCORE_TEXT] = text
        frame = spark.createDataFrame(pa.Table.from_pandas(
            table.drop(columns=["influence_score", "influence_rank"]),
            preserve_index=False)).localCheckpoint()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sc = spark.sparkContext
        sc.setJobGroup(f"finish-{n}", "finish")
        start = time.perf_counter()
        got = finish_segments(rank_customers(frame), config.segments, has_timestamps=True,
                              end=run.accounting.end)
        segment_profiles(got.customers)
        seconds = time.perf_counter() - start
        sc.setJobGroup("other", "other")
        jobs = len(sc.statusTracker().getJobIdsForGroup(f"finish-{n}"))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {len(table):,} | {seconds:.1f} | {jobs} | {before:.0f} / {after:.0f} |",
              flush=True)
    spark.stop()


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [5000, 20000])
