"""Golden outputs: the sha256 of every file ``analyze`` writes, on fixed inputs.

A refactor must leave these bytes alone. ``tests/test_golden.py`` recomputes
them and compares with ``tests/golden.json``; this script regenerates that file,
to be run only deliberately (an intended change of outputs, or new library
versions, said in the commit message)::

    python tests/golden.py --update            # the local cases
    python tests/golden.py --update --spark    # and the Spark ones (Java 17)

``manifest.json`` is compared as JSON less ``timings`` and ``versions``; every
other file byte for byte. The golden file records the library versions it was
made with: floating-point results may move with them, so where the installed
versions differ the test skips and says which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden.json"
#: Libraries whose versions can move the bytes (numbers, text, the report page).
LIBRARIES = ("numpy", "pandas", "pyarrow", "python-igraph", "leidenalg", "networkx", "scipy",
             "matplotlib", "jinja2")
SPARK_LIBRARIES = ("pyspark",)
#: Manifest keys that differ from run to run by design.
VOLATILE = ("timings", "versions")


def versions(spark: bool = False) -> dict[str, str]:
    found = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in LIBRARIES + (SPARK_LIBRARIES if spark else ()):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def digest(folder: Path) -> dict[str, str]:
    """sha256 of each file of a results folder; the manifest less its volatile keys."""
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):  # customers/ parts too
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(data)
            for key in VOLATILE:
                manifest.pop(key, None)
            data = json.dumps(manifest, sort_keys=True).encode()
        digests[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return digests


def _inputs(work: Path) -> None:
    """The inputs, under relative names (the manifest records the paths given)."""
    import numpy as np
    import pandas as pd

    import influence

    for name in ("events.csv", "customers.csv", "config.toml"):
        shutil.copy(EXAMPLES / name, work / name)
    events, truth = influence.generate_events(3000, days=120, seed=3)
    events.to_csv(work / "generated.csv", index=False)
    ids = np.sort(pd.unique(pd.concat([events["source"], events["target"]]).dropna()))
    plans = np.array(["basic", "plus", "pro"])[np.arange(len(ids)) % 3]
    extra = [f"g{i:05d}" for i in range(5)]  # customers without events
    pd.DataFrame({"customer_id": list(ids) + extra,
                  "plan": list(plans) + ["basic"] * 5}).to_csv(
        work / "generated_customers.csv", index=False)
    pd.DataFrame({
        "source": ["ann", "ann", "bob", "cat", "dan", "eve", "eve", "ann"],
        "target": ["bob", "cat", "cat", "ann", "", "ann", "dan", "ann"],
        "type": ["referral", "share", "share", "comment", "share", "referral", "comment",
                 "share"],
    }).to_csv(work / "tiny.csv", index=False)


def _cli(work: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, "-m", "influence", "analyze", *args, "--quiet"],
                   cwd=work, check=True, capture_output=True, env=env)


def local_cases(work: Path) -> dict[str, dict[str, str]]:
    """Run every local case in ``work`` (an empty folder); digests by case."""
    import influence

    _inputs(work)
    cwd = os.getcwd()
    os.chdir(work)  # relative input paths in the manifests
    try:
        influence.analyze("events.csv", customers="customers.csv",
                          config="config.toml").save("examples")
        influence.analyze("generated.csv", customers="generated_customers.csv",
                          seed=1).save("generated")
        influence.analyze("tiny.csv").save("tiny")
    finally:
        os.chdir(cwd)
    _cli(work, "events.csv", "--customers", "customers.csv", "--config", "config.toml",
         "--out", "cli_parquet", "--format", "parquet", "--graph-format", "gexf")
    _cli(work, "events.csv", "--customers", "customers.csv", "--config", "config.toml",
         "--out", "cli_snapshots", "--snapshots", "30d")
    return {case: digest(work / case)
            for case in ("examples", "generated", "tiny", "cli_parquet", "cli_snapshots")}


def spark_cases(work: Path) -> dict[str, dict[str, str]]:
    """1000 generated customers on the Spark engine (local[2], 4 shuffle partitions):
    with the driver hand-off, and without it (``[spark] driver_edges_max = 0``)."""
    import influence
    from influence.spark import analyze_spark, spark_session

    events, truth = influence.generate_events(1000, seed=3)
    events.to_csv(work / "spark.csv", index=False)
    cwd = os.getcwd()
    os.chdir(work)  # before the JVM starts: it resolves relative paths from its own
    spark, created = spark_session("local[2]", driver_memory="2g", extra={
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.sql.adaptive.enabled": "false"})
    try:
        config = influence.config_from_dict({"spark": {"shuffle_partitions": 4}})
        analyze_spark("spark.csv", spark=spark, config=config, seed=0).save("spark_handoff")
        analyze_spark("spark.csv", spark=spark, seed=0,
                      config=config.replace(spark__driver_edges_max=0)).save("spark_executors")
    finally:
        os.chdir(cwd)
        if created:
            spark.stop()
    return {case: digest(work / case) for case in ("spark_handoff", "spark_executors")}


def load() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite tests/golden.json")
    parser.add_argument("--spark", action="store_true", help="also the Spark cases")
    args = parser.parse_args(argv)
    import tempfile

    golden = load() if GOLDEN.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "local").mkdir()
        golden["local"] = {"versions": versions(), "cases": local_cases(Path(tmp) / "local")}
        if args.spark:
            (Path(tmp) / "spark").mkdir()
            golden["spark"] = {"versions": versions(spark=True),
                               "cases": spark_cases(Path(tmp) / "spark")}
    text = json.dumps(golden, indent=1, sort_keys=True) + "\n"
    if args.update:
        GOLDEN.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
