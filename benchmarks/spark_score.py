"""The expected-influence score on the executors against the driver's copy of it.

One command::

    PYTHONPATH=. python benchmarks/spark_score.py 20000

For N customers (default 20,000) it generates events (``generate_events(N, seed=4)``),
writes them coded (``s``, ``t``, ``kind``, ``ts_ns``, ``conv``) as Parquet, then in a
fresh Python process per method (``local[2]``, 4 shuffle partitions, adaptive
execution off) reads them, caches them and times the score: ``driver`` is the
engine's ``_score`` (the events collected through Arrow, ``score_arrays`` in
numpy), ``executors`` is :func:`influence.spark.score.score_frame` (its
``customers`` written to Parquet by the executors). Printed per method: seconds,
Spark jobs, the driver's (Python) peak RSS before and after. Not part of the
test suite.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _write_events(n: int, path: Path) -> None:
    from influence.synth import generate_events

    events, _ = generate_events(n, seed=4)
    ids = np.unique(np.r_[events["source"].to_numpy(dtype=str),
                          events["target"].dropna().to_numpy(dtype=str)])
    has = events["target"].notna().to_numpy()
    t = np.full(len(events), -1, dtype=np.int64)
    t[has] = np.searchsorted(ids, events["target"][has].to_numpy(dtype=str))
    stamps = pd.to_datetime(events["timestamp"].astype(str), utc=True)
    pq.write_table(pa.table({
        "s": np.searchsorted(ids, events["source"].to_numpy(dtype=str)).astype(np.int64),
        "t": pa.array(t, mask=t < 0),
        "kind": pa.array(events["type"].astype(str).tolist()),
        "ts_ns": stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64),
        "conv": pa.array(events["converted"].astype(str).eq("true").to_numpy())}), path)
    (path.parent / "n.txt").write_text(str(len(ids)))


def _measure(method: str, path: Path) -> None:
    from pyspark.sql import functions as F

    from influence.config import config_from_dict
    from influence.spark import spark_session

    warnings.filterwarnings("ignore")
    spark, _ = spark_session("local[2]", driver_memory="2g", extra={
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.sql.adaptive.enabled": "false"})
    n = int((path.parent / "n.txt").read_text())
    coded = spark.read.parquet(str(path)).persist()
    rows = coded.count()
    end_ns = int(coded.agg(F.max("ts_ns")).first()[0])
    config = config_from_dict({})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sc = spark.sparkContext
    sc.setJobGroup("score", "score")
    start = time.perf_counter()
    if method == "driver":
        from influence.spark.engine import _score

        _score(coded, config, end_ns, n, has_converted=True)
    else:
        from influence.spark.score import score_frame

        got = score_frame(coded, config, end_ns, n, has_converted=True)
        got.customers.write.mode("overwrite").parquet(str(path.parent / "customers"))
        got.release()
    seconds = time.perf_counter() - start
    jobs = len(sc.statusTracker().getJobIdsForGroup("score"))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {method} | {n:,} | {rows:,} | {seconds:.1f} | {jobs} | {before:.0f} / {after:.0f} |",
          flush=True)
    spark.stop()


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.parquet"
        _write_events(n, path)
        print("| score on | customers | events | seconds | Spark jobs "
              "| driver peak RSS before / after (MiB) |")
        print("|---|---:|---:|---:|---:|---:|", flush=True)
        for method in ("driver", "executors"):
            subprocess.run([sys.executable, __file__, "--measure", method, str(path)],
                           check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        _measure(sys.argv[2], Path(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
