"""The Spark engine agrees with the local one (local[2], small generated data).

One SparkSession for the whole file; the expensive runs are module fixtures
shared by the tests. Skipped, with the reason, where pyspark or Java is missing
(the tests of the messages users then get run everywhere).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from spark_support import why_no_spark

import influence
from influence.cli import cli
from influence.config import AnalysisConfig, config_from_dict
from influence.errors import ConfigError
from influence.sources import read_events as local_read_events
from influence.synth import generate_events
from influence.validation import clean_events as local_clean_events
from influence.validation import customer_universe

WHY = why_no_spark()
# pyspark 4 warns that pandas 3 is not fully supported; the engine converts through Arrow
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")
needs_spark = pytest.mark.skipif(WHY is not None, reason=WHY or "")


def _generated(folder: Path, customers: int, gold: int) -> dict:
    """``customers`` generated customers (~10 events each) as CSV, plus a customers table
    with an attribute (``gold`` of them gold) and one customer who has no events."""
    events, truth = generate_events(customers, seed=3)
    path = folder / "events.csv"
    events.to_csv(path, index=False)
    table = pd.DataFrame({"customer_id": list(truth["customer_id"][:gold]) + ["zz-quiet"],
                          "tier": ["gold"] * gold + ["none"]})
    customers_path = folder / "customers.csv"
    table.to_csv(customers_path, index=False)
    return {"events": path, "customers": customers_path, "folder": folder}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """1000 generated customers (~10k events): :func:`_generated`."""
    return _generated(tmp_path_factory.mktemp("spark-data"), 1000, 50)


@pytest.fixture(scope="module")
def pair(spark, data):
    """The same analysis by both engines (the driver hand-off path)."""
    from influence.spark import analyze_spark

    local = influence.analyze(data["events"], customers=data["customers"], seed=0)
    remote = analyze_spark(data["events"], spark=spark, customers=data["customers"], seed=0)
    return local, remote


# --- without pyspark or Java: one line, exit 4, how to fix it -------------------------

def test_missing_pyspark_says_how_to_install(tmp_path, monkeypatch, small_events):
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    result = CliRunner().invoke(cli, ["analyze", str(path), "--engine", "spark",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 4
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("influence: error: ")
    assert "pip install 'influence[spark]'" in result.stderr
    assert "Traceback" not in result.output


def test_missing_java_says_java_17(tmp_path, monkeypatch, small_events):
    if WHY is not None and "pyspark" in WHY:
        pytest.skip(WHY)
    from pyspark.sql import SparkSession

    from influence.spark import session

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.setattr(session, "find_java", lambda: None)
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["analyze", str(path), "--engine", "spark",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 4
    assert result.stderr.count("\n") == 1 and "Java 17" in result.stderr


# --- where users start it: the venv's console script, executors without the package ----

def _bare_environment(tmp_path: Path) -> dict[str, str]:
    """What cron or a systemd unit gives a command: no venv on PATH, no VIRTUAL_ENV,
    no PYTHONPATH or PYSPARK_PYTHON; only Java stays reachable."""
    from influence.spark.session import find_java

    path = ["/usr/bin", "/bin"]
    java = find_java()
    if java and os.path.dirname(java) not in path:
        path.append(os.path.dirname(java))
    env = {"PATH": os.pathsep.join(path), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return env


def _console_script() -> Path:
    script = Path(sys.executable).parent / "influence"
    if not script.is_file():
        pytest.skip(f"no 'influence' console script beside {sys.executable}")
    return script


@needs_spark
def test_console_script_runs_spark_without_an_activated_venv(pair, data, tmp_path):
    # the executors' Python is this venv's interpreter in local mode, not python3 from PATH;
    # the files are the API run's byte for byte, with other partitions (4 per core: 8, not
    # the fixture's 4) and adaptive execution on (off in the fixture)
    out = tmp_path / "cli"
    done = subprocess.run(
        [str(_console_script()), "analyze", str(data["events"]), "--engine", "spark",
         "--spark-master", "local[2]", "--customers", str(data["customers"]), "--seed", "0",
         "--out", str(out), "--no-report", "-q"],
        cwd=tmp_path, env=_bare_environment(tmp_path), capture_output=True, text=True,
        timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == str(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["name"] == "spark"
    assert manifest["engine"]["shuffle_partitions"] == 8  # not Spark's 200
    assert manifest["config"]["spark"]["shuffle_partitions"] is None
    pair[1].save(tmp_path / "api")
    for name in ("customers.csv", "communities.csv", "segments.csv", "cascades.csv",
                 "kfactor.csv", "edges.csv"):
        assert (out / name).read_bytes() == (tmp_path / "api" / name).read_bytes(), name


@needs_spark
def test_executors_that_cannot_import_influence_get_one_line_exit_4(tmp_path, small_events):
    # a Python without this venv's site-packages: influence (and numpy) cannot be imported
    python = tmp_path / "python-without-influence"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    env = {**_bare_environment(tmp_path), "PYSPARK_PYTHON": str(python)}
    done = subprocess.run(
        [str(_console_script()), "analyze", str(path), "--engine", "spark", "--spark-master",
         "local[1]", "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 4, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("influence:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert errors[0].startswith("influence: error: the Spark executors cannot import "
                                f"'influence' (python: {python}; No module named ")
    assert "PYSPARK_PYTHON" in errors[0] and "docs/scale-out.md" in errors[0]
    assert "Traceback" not in done.stderr and "PythonException" not in done.stderr
    assert not (tmp_path / "out").exists()


@needs_spark
def test_executors_whose_python_does_not_start_get_exit_4(spark, monkeypatch):
    # the interpreter the session sends with each Python function (PYSPARK_PYTHON at start)
    from influence.spark.session import check_executors

    assert check_executors(spark)["python"]  # this session's executors import influence
    monkeypatch.setattr(spark.sparkContext, "pythonExec", "/nonexistent/python3")
    with pytest.raises(ConfigError, match=r"^the Spark executors could not run Python "
                                          r"\(python: /nonexistent/python3\): ") as caught:
        check_executors(spark)
    assert caught.value.exit_code == 4 and "\n" not in str(caught.value)


def _fake_spark(master: str, python: str = "python3", shuffle: str = "200",
                parallelism: int = 2, conf: dict | None = None):
    settings = {"spark.sql.shuffle.partitions": shuffle, **(conf or {})}
    return SimpleNamespace(
        sparkContext=SimpleNamespace(master=master, pythonExec=python,
                                     defaultParallelism=parallelism),
        conf=SimpleNamespace(get=lambda key, default=None: settings.get(key, default)))


def test_cluster_executors_without_the_package_are_told_how_to_ship_it():
    from influence.spark.session import executor_import_error

    failure = RuntimeError(
        "[PYTHON_EXCEPTION] An exception was thrown from the Python worker: Traceback (most "
        "recent call last):\n  File \"serializers.py\", line 483, in loads\n"
        "ModuleNotFoundError: No module named 'influence'\n SQLSTATE: 38000")
    error = executor_import_error(failure, _fake_spark("spark://10.0.0.1:7077"))
    assert isinstance(error, ConfigError) and error.exit_code == 4
    message = str(error)
    assert "\n" not in message
    assert message.startswith("the Spark executors cannot import 'influence' (python: "
                              "python3; No module named 'influence')")
    assert "influence.zip in --py-files" in message and "--archives" in message
    assert "docs/scale-out.md" in message
    local = str(executor_import_error(failure, _fake_spark("local[4]", python="/opt/py")))
    assert "(python: /opt/py;" in local and "PYSPARK_PYTHON" in local
    assert executor_import_error(RuntimeError("Python worker exited unexpectedly"),
                                 _fake_spark("yarn")) is None


def test_local_executors_run_the_drivers_python(monkeypatch):
    from influence.spark.session import executor_python

    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert executor_python("local[2]") == sys.executable
    assert executor_python("local") == sys.executable
    assert executor_python("local-cluster[2,1,1024]") == sys.executable
    assert executor_python("spark://host:7077") is None  # the cluster's Python
    assert executor_python("yarn", {"spark.pyspark.python": "./env/bin/python"}) == \
        "./env/bin/python"
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/python3")
    assert executor_python("local[2]") is None  # the user's choice stands


def test_shuffle_partitions_follow_the_cluster_unless_set():
    from influence.spark.session import SHUFFLE_PER_CORE, shuffle_partitions

    assert shuffle_partitions(_fake_spark("local[2]"), None) == SHUFFLE_PER_CORE * 2
    assert shuffle_partitions(_fake_spark("spark://h:7077", parallelism=64), None) == \
        SHUFFLE_PER_CORE * 64
    assert shuffle_partitions(_fake_spark("local[2]"), 3) == 3  # [spark] shuffle_partitions
    assert shuffle_partitions(_fake_spark("yarn", shuffle="2000"), None) is None  # the session's


def test_spark_config_section_is_validated():
    assert config_from_dict({"spark": {"driver_edges_max": 5}}).spark.driver_edges_max == 5
    with pytest.raises(ConfigError, match="spark.bogus"):
        config_from_dict({"spark": {"bogus": 1}})
    with pytest.raises(ConfigError, match="spark.pagerank_tolerance"):
        config_from_dict({"spark": {"pagerank_tolerance": 0}})


def test_spark_master_needs_spark_engine(tmp_path, small_events):
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["analyze", str(path), "--spark-master", "local[1]"])
    assert result.exit_code == 2 and "--engine spark" in result.stderr


def test_local_engine_reads_a_folder_of_parts_too(tmp_path, small_events):
    """Issue 18: the local engine reads folders of part files (it refused them, exit 2)."""
    result = CliRunner().invoke(cli, ["analyze", str(tmp_path)])
    assert result.exit_code == 3 and "holds no files" in result.stderr
    small_events.iloc[:4].to_csv(tmp_path / "part-0.csv", index=False)
    small_events.iloc[4:].to_csv(tmp_path / "part-1.csv", index=False)
    (tmp_path / "_SUCCESS").write_text("")
    out = tmp_path.parent / "out"
    result = CliRunner().invoke(cli, ["analyze", str(tmp_path), "--out", str(out), "-q",
                                      "--no-report"])
    assert result.exit_code == 0, result.output
    assert (out / "customers.csv").is_file()


# --- agreement with the local engine ----------------------------------------------------

@needs_spark
def test_accounting_and_manifest_agree(pair):
    local, remote = pair
    lm, rm = local.manifest, remote.manifest
    for key in ("rows_read", "rows_used", "dropped", "events_by_type", "customers",
                "customers_from_table", "edges", "total_weight", "has_timestamps", "window",
                "referrals", "kfactor", "seed", "attribute_columns", "lifecycle",
                "propagators", "betweenness", "hits", "communities", "segments"):
        assert rm[key] == lm[key], key
    assert rm["rows_read"] == rm["rows_used"] + sum(rm["dropped"].values())
    assert set(lm) <= set(rm)
    engine = rm["engine"]
    assert engine["name"] == "spark" and engine["driver_handoff"] is True
    assert engine["communities"] == "driver hand-off (igraph Leiden)"
    assert rm["reach"]["reach_2_rsd"] == AnalysisConfig().spark.reach_rsd
    assert rm["pagerank"]["solver"].startswith("igraph prpack")  # on the handed-off graph


@needs_spark
def test_edges_cascades_kfactor_communities_identical(pair):
    local, remote = pair
    pd.testing.assert_frame_equal(remote.edges, local.edges)
    pd.testing.assert_frame_equal(remote.cascades, local.cascades)
    pd.testing.assert_frame_equal(remote.kfactor, local.kfactor)
    pd.testing.assert_frame_equal(remote.communities, local.communities)


@needs_spark
def test_customers_agree_column_by_column(pair):
    local, remote = pair
    assert list(remote.customers.columns) == list(local.customers.columns)
    a = local.customers.set_index("customer_id")
    b = remote.customers.set_index("customer_id")
    assert sorted(a.index) == sorted(b.index)  # every customer in comes out, once
    assert b.index.is_unique
    b = b.loc[a.index]
    approximate = {"reach_2", "reach_tier"}  # HyperLogLog
    for column in a.columns:
        if column in approximate:
            continue
        pd.testing.assert_series_equal(b[column], a[column], check_names=False,
                                       obj=column)


@needs_spark
def test_reach_2_within_the_stated_error(pair):
    local, remote = pair
    rsd = remote.manifest["reach"]["reach_2_rsd"]
    a = local.customers.set_index("customer_id")["reach_2"]
    b = remote.customers.set_index("customer_id")["reach_2"].loc[a.index]
    assert (b[a == 0] == 0).all()
    rel = (b[a > 0] - a[a > 0]).abs() / a[a > 0]
    assert rel.mean() < rsd
    assert (rel > 4 * rsd).mean() < 0.01
    assert (remote.customers["reach_1"].to_numpy() >= 0).all()


@needs_spark
def test_saved_folder_has_the_same_files_and_columns(pair, tmp_path):
    local, remote = pair
    remote.save(tmp_path / "spark", report=True)
    local.save(tmp_path / "local", report=True)
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert sorted(p.name for p in (tmp_path / "spark").iterdir()) == names
    for name in names:
        if name.endswith(".csv"):
            a = pd.read_csv(tmp_path / "local" / name, nrows=0).columns.tolist()
            b = pd.read_csv(tmp_path / "spark" / name, nrows=0).columns.tolist()
            assert a == b, name
    for name in ("edges.csv", "cascades.csv", "kfactor.csv", "communities.csv"):
        assert (tmp_path / "spark" / name).read_bytes() == \
            (tmp_path / "local" / name).read_bytes(), name
    reloaded = influence.Analysis.load(tmp_path / "spark")
    assert reloaded.manifest["engine"]["name"] == "spark"


# --- validation: every drop reason, same counts ---------------------------------------

def _dirty_events() -> pd.DataFrame:
    rows = [
        # source, target, type, timestamp, converted, value, weight
        ("a", "b", "share", "2026-01-01T00:00:00Z", None, None, None),
        ("a", "b", "share", "2026-01-01T00:00:00Z", None, None, None),      # duplicate
        ("a", "b", "share", "2026-01-01T00:00:00Z", None, None, None),      # duplicate
        (" a", "b ", "share", "2026-01-01T00:00:00Z", None, None, None),    # not a copy
        ("\u3000c\t", "a", "comment", "1767312000", None, None, "2.5"),    # epoch, weight
        (None, "a", "share", "2026-01-02", None, None, None),              # null_source
        ("   ", "a", "share", "2026-01-02", None, None, None),             # null_source
        ("d", "a", None, "2026-01-02", None, None, None),                  # null_type
        ("d", "a", " ", "2026-01-02", None, None, None),                   # null_type
        ("d", "a", "share", "yesterday", None, None, None),                # bad_timestamp
        ("d", "a", "share", None, None, None, None),                       # bad_timestamp
        ("d", "a", "share", "2026-02-30", None, None, None),               # bad_timestamp
        ("d", "a", "share", "2026/01/03", None, None, None),               # pandas ISO8601 ok
        ("d", "a", "share", "2026-01-03T1234", None, None, None),          # ok too
        ("d", "a", "share", "2026-01-03T05:00:00+05:30", None, None, "-1"),  # bad_weight
        ("d", "a", "share", "2026-01-03", None, None, "abc"),              # bad_weight
        ("d", "a", "share", "2026-01-03", None, None, "inf"),              # bad_weight
        ("d", "a", "share", "2026-01-03", None, None, " 1e1 "),            # weight 10
        ("d", "e", "referral", "2026-01-04", "maybe", None, None),         # bad_converted
        ("d", "e", "referral", "2026-01-04", " YES ", "12.5", None),       # ok
        ("d", "f", "referral", "2026-01-04", "0", "-3", None),             # bad_value
        ("d", "f", "referral", "2026-01-04", "f", "nan", None),            # bad_value
        ("e", "e", "share", "2026-01-05", None, None, None),               # self_loop
        ("e", " e ", "share", "2026-01-05", None, None, None),             # self_loop
        ("e", None, "share", "2025-06-01", None, None, None),              # outside_window
        ("e", "g", "share", "2027-01-01", None, None, None),               # outside_window
        ("f", None, "comment", "2026-01-06", None, None, None),            # activity only
        ("g", "0042", "share", "2026-01-07T10:00:00.123456789Z", "", "", ""),
        ("h", "a", "share", "2026-01-08", None, None, "0"),                # bad_weight
        ("h", "a", "share", "1767225600000", None, None, None),            # bad_ts, ms hint
        ("h", "b", "share", "9999-12-31", None, None, None),               # bad_ts, range
        ("h", "c", "share", "2026-01-08", None, None, "1e308"),            # bad_weight, big
        ("h", "d", "referral", "2026-01-08", None, "1e16", None),          # bad_value, big
    ]
    return pd.DataFrame(rows, columns=["source", "target", "type", "timestamp", "converted",
                                       "value", "weight"])


def _spark_clean(spark, source, config):
    from influence.spark.validate import clean_events, customer_ids, read_events

    raw, info = read_events(spark, source, columns=config.columns)
    clean = clean_events(spark, raw, config, info)
    ids, n = customer_ids(spark, clean.universe, None)
    kept = clean.events.toArrow().to_pandas()
    names = ids.toArrow().to_pandas().sort_values("vid")["customer_id"].tolist()
    clean.release()
    return clean, kept, names


@needs_spark
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_drop_reason_counted_like_the_local_engine(spark, tmp_path, fmt):
    config = config_from_dict({"window": {"since": "2026-01-01", "until": "2026-12-31"}})
    events = _dirty_events()
    path = tmp_path / f"dirty.{fmt}"
    influence.write_events(events, path)
    raw, _ = local_read_events(path)
    local = local_clean_events(raw, config)
    clean, kept, names = _spark_clean(spark, str(path), config)
    assert clean.rows_read == local.rows_read == len(events)
    assert clean.dropped == local.dropped
    assert clean.rows_used == local.rows_used
    # every reason occurs (a CSV cannot hold a list or a boolean id: bad_id is tested below)
    assert all(v > 0 for k, v in local.dropped.items() if k != "bad_id"), local.dropped
    assert any("epoch milliseconds" in w for w in local.warnings)
    assert any("bad_weight: 2 above" in w for w in local.warnings)  # inf and 1e308
    assert any("bad_value: 1 above" in w for w in local.warnings)
    assert clean.warnings == local.warnings
    assert names == customer_universe(raw).tolist()
    want = local.events.assign(  # ids and types are categoricals there: compare as text
        ts=local.events["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    ).astype({"source": object, "target": object, "type": object})
    want = want.sort_values(["source", "ts", "type", "weight"]).reset_index(drop=True)
    got = kept.sort_values(["src", "ts_ns", "kind", "weight"]).reset_index(drop=True)
    assert got["src"].tolist() == want["source"].tolist()
    assert got["dst"].fillna("<none>").tolist() == want["target"].fillna("<none>").tolist()
    assert got["ts_ns"].tolist() == want["ts"].tolist()  # nanoseconds kept
    assert got["weight"].tolist() == want["weight"].tolist()
    assert got["conv"].tolist() == [None if pd.isna(x) else bool(x) for x in want["converted"]]
    assert np.array_equal(got["val"].to_numpy(), want["value"].to_numpy(), equal_nan=True)


@needs_spark
def test_typed_parquet_ids_and_epochs_read_as_the_local_engine_does(spark, tmp_path):
    events = pd.DataFrame({"source": [1.0, 2.0, 3.0, np.nan], "target": [2, 3, 1, 1],
                           "type": ["share"] * 4,
                           "timestamp": pd.to_datetime(["2026-01-01", "2026-01-02",
                                                        "2026-01-03", "2026-01-04"], utc=True),
                           "value": [0.5, 1.0, 2.0, 3.0]})
    path = tmp_path / "typed.parquet"
    events.to_parquet(path)
    raw, _ = local_read_events(path)
    local = local_clean_events(raw, AnalysisConfig())
    clean, kept, names = _spark_clean(spark, str(path), AnalysisConfig())
    assert names == customer_universe(raw).tolist() == ["1", "2", "3"]
    assert clean.dropped == local.dropped and clean.rows_used == local.rows_used


@needs_spark
def test_non_scalar_ids_and_the_epoch_unit_read_as_the_local_engine_does(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({
        "source": ["a", "b", "c", "d"],
        "target": pa.array([None, ["x"], None, None], type=pa.list_(pa.string())),
        "type": ["share"] * 4,
        "timestamp": ["1767225600000", "1767225600000", "1767312000000", "1767225600"]}), path)
    config = config_from_dict({"input": {"timestamp_unit": "ms"}})
    raw, _ = local_read_events(path)
    local = local_clean_events(raw, config)
    clean, kept, names = _spark_clean(spark, str(path), config)
    assert local.dropped["bad_id"] == clean.dropped["bad_id"] == 1
    assert clean.dropped == local.dropped and clean.warnings == local.warnings
    assert names == customer_universe(raw).tolist() == ["a", "b", "c", "d"]
    assert sorted(kept["ts_ns"].tolist()) == sorted(
        local.events["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64).tolist())


@needs_spark
def test_numpy_order_sums_are_bit_identical(spark):
    from pyspark.sql import functions as F

    from influence.spark.frames import numpy_sum

    rng = np.random.default_rng(7)
    rows = []
    for n in list(range(1, 40)) + [64, 100, 128, 129]:
        values = np.sort(rng.random(n) * rng.choice([1.0, 1e-7, 1e7], n))
        rows.append((n, values.tolist(), float(np.add.reduceat(values, [0])[0])))
    frame = spark.createDataFrame(rows, "n long, a array<double>, want double")
    got = frame.select("n", "want", numpy_sum(F.col("a")).alias("got")).collect()
    assert [r["n"] for r in got if r["got"] != r["want"]] == []


# --- bad input through the CLI: same exit codes and messages ------------------------

@needs_spark
@pytest.mark.parametrize("content, args", [
    ("source,target\na,b\n", []),                                  # missing column
    ("source,target,type\na,b,like\n", []),                        # undeclared type
    ("source,target,type\n", []),                                  # header, no rows
    ("", []),                                                      # empty file
    ("source,target,type\na,b,share\n", ["--map", "source=user"]),  # unmappable
    ("source,target,type\na,b,share\n", ["--since", "2026-01-01"]),  # window, no time
    ("source,target,type,source\na,b,share,c\n", []),                # repeated column
    ("user,target,type,user\na,b,share,c\n", ["--map", "source=user"]),  # map onto one
    ("user,friend,type\na,b,share\n", ["--map", "source=user", "--map", "target=user"]),
    ("source,target,type,timestamp\na,b,share,1767225600000\n", []),  # epoch ms
])
def test_bad_input_same_exit_code_and_message(spark, tmp_path, content, args):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    runner = CliRunner()
    local = runner.invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "l"), *args])
    remote = runner.invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "s"),
                                 "--engine", "spark", *args])
    assert local.exit_code == 3
    assert remote.exit_code == local.exit_code
    assert remote.stderr == local.stderr


@needs_spark
def test_bad_spark_config_is_exit_4(spark, tmp_path, small_events):
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    config = tmp_path / "c.toml"
    config.write_text("[spark]\ndriver_edges_maximum = 3\n")
    result = CliRunner().invoke(cli, ["analyze", str(path), "--engine", "spark",
                                      "--config", str(config)])
    assert result.exit_code == 4 and "spark.driver_edges_maximum" in result.stderr


# --- above the hand-off threshold: label propagation on the executors ---------------

#: The hand-off-off settings of these tests. PageRank stops at an L1 change of 1e-6, not the
#: default 1e-9: about a third fewer iterations (one Spark job each), and the distance to
#: the exact scores stays below 1e-6 * d / (1 - d) < 1e-5 (checked against PRPACK below).
ABOVE = {"driver_edges_max": 0, "shuffle_partitions": 3, "pagerank_tolerance": 1e-6}
#: Their score skips the self-check (about 30 Spark jobs: a second fit and the top k per
#: score; tests/test_spark_score.py checks it against the local one). The score itself
#: is the same with or without it.
ABOVE_SCORE = {"self_check": False}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """300 generated customers (~3k events) and a customers table: the hand-off-off runs
    are the suite's slowest (one Spark job per PageRank / label propagation iteration), and
    what they check does not need more customers."""
    return _generated(tmp_path_factory.mktemp("spark-small"), 300, 20)


@pytest.fixture(scope="module")
def above(spark, small_data):
    """``small_data`` by the local engine and by Spark with [spark] driver_edges_max = 0:
    nothing is handed to the driver (and 3 shuffle partitions, not the session's 4)."""
    from influence.spark import analyze_spark

    local = influence.analyze(small_data["events"], customers=small_data["customers"], seed=0)
    config = config_from_dict({"spark": ABOVE, "score": ABOVE_SCORE})
    remote = analyze_spark(str(small_data["events"]), spark=spark, config=config, seed=0,
                           customers=small_data["customers"])
    return local, remote


@needs_spark
def test_label_propagation_gives_a_valid_partition(above):
    local, remote = above
    m = remote.manifest
    assert m["engine"]["driver_handoff"] is False
    assert m["engine"]["shuffle_partitions"] == 3  # [spark] shuffle_partitions wins
    assert m["config"]["spark"]["shuffle_partitions"] == 3
    assert m["engine"]["communities"] == "label propagation on DataFrames"
    assert "coreness" in m["engine"]["left_empty"]["columns"]
    customers = remote.customers
    assert customers["customer_id"].is_unique and len(customers) == len(local.customers)
    community = customers["community"].to_numpy()
    k = community.max() + 1
    sizes = np.bincount(community, minlength=k)
    assert (sizes > 0).all() and (np.diff(sizes) <= 0).all()  # 0..k-1, by size
    assert remote.communities["size"].sum() == len(customers)
    assert customers["coreness"].isna().all() and customers["hub"].isna().all()
    assert remote.edges is None
    assert m["rows_read"] == local.manifest["rows_read"]
    assert m["edges"] == local.manifest["edges"]


@needs_spark
def test_executor_modularity_roles_and_profiles_match_the_local_functions(above):
    from influence.communities import community_profiles, community_roles, modularity

    local, remote = above
    graph = local.graph
    order = remote.customers.set_index("customer_id").loc[graph.ids]
    membership = order["community"].to_numpy()
    assert remote.manifest["communities"]["modularity"] == pytest.approx(
        modularity(graph, membership), abs=1e-9)
    assert remote.manifest["communities"]["modularity"] > 0.3
    roles = community_roles(graph, membership)
    assert (order["community_role"].to_numpy() == roles["community_role"].to_numpy()).all()
    rank = order["influence_rank"].to_numpy()
    want = community_profiles(graph, membership, rank)
    got = remote.communities[want.columns]
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@needs_spark
def test_executor_referral_forest_matches_the_local_engine(above, pair):
    # above the threshold the forest is finished by Spark jobs (pointer doubling, one job
    # per generation); below it by the local code on the driver: both are the local numbers
    local, remote = above
    assert "pointer doubling" in remote.manifest["engine"]["stages"]["referrals"]
    assert "driver" in pair[1].manifest["engine"]["stages"]["referrals"]
    pd.testing.assert_frame_equal(remote.cascades, local.cascades)
    assert remote.manifest["referrals"] == local.manifest["referrals"]
    a = local.customers.set_index("customer_id")
    b = remote.customers.set_index("customer_id").loc[a.index]
    for column in ("referred_by", "referral_downstream", "referral_depth",
                   "downstream_conversions", "downstream_value", "referral_value"):
        pd.testing.assert_series_equal(b[column], a[column], obj=column)


@needs_spark
def test_executor_pagerank_is_close_to_prpack(above):
    local, remote = above
    a = local.customers.set_index("customer_id")["pagerank"]
    b = remote.customers.set_index("customer_id")["pagerank"].loc[a.index]
    assert np.abs(a - b).max() < 1e-5  # ABOVE's tolerance 1e-6 times d / (1 - d) < 5.7
    assert abs(b.sum() - 1.0) < 1e-12
    m = remote.manifest["pagerank"]
    assert m["converged"] and m["iterations"] > 1 and m["final_l1_change"] < 1e-6


@needs_spark
def test_above_the_threshold_saves_without_edges(above, tmp_path):
    _, remote = above
    folder = remote.save(tmp_path / "above", report=True)
    assert (folder / "report.html").is_file() and not (folder / "edges.csv").exists()
    assert influence.Analysis.load(folder).customers["coreness"].isna().all()


@needs_spark
def test_above_the_threshold_the_executors_write_the_customers_as_parts(above, tmp_path):
    # nothing per customer is finished on the driver: the executors rank, segment and write
    # part files; saved as customers/part-NNNNN.csv, read back as one table sorted by rank
    from influence.metrics.score import score_percentile

    local, remote = above
    parts = remote.customer_parts
    assert parts is not None and len(parts) > 1
    assert "executors" in remote.manifest["engine"]["stages"]["segments"]
    customers = remote.customers
    n = len(local.customers)
    assert customers["customer_id"].is_unique and len(customers) == n
    assert set(customers["customer_id"]) == set(local.customers["customer_id"])
    assert customers["influence_rank"].tolist() == list(range(1, n + 1))
    assert list(customers.columns) == list(local.customers.columns)
    # coreness is empty above the threshold (float NaN, as a loaded folder has it)
    assert customers["coreness"].isna().all()
    assert (customers.dtypes == local.customers.dtypes).drop("coreness").all()
    # the score is the percentile of expected influence over every customer, as locally
    np.testing.assert_array_equal(customers["influence_score"],
                                  score_percentile(customers["expected_influence"].to_numpy()))
    # what does not depend on PageRank or the communities is the local engine's
    a = local.customers.set_index("customer_id")
    b = customers.set_index("customer_id").loc[a.index]
    same = ["events_sent", "events_received", "distinct_contacts", "active_days",
            "first_active", "last_active", "recency_days", "frequency", "lifecycle_stage",
            "in_strength", "out_strength", "reach_1", "expected_influence", "tier",
            *[c for c in a.columns if c.startswith("sent_")]]
    for column in same:
        pd.testing.assert_series_equal(b[column], a[column], obj=column)
    assert remote.manifest["total_weight"] == local.manifest["total_weight"]
    sizes = customers["segment"].value_counts().to_dict()
    assert remote.manifest["segments"]["sizes"] == {k: sizes.get(k, 0) for k in
                                                    remote.manifest["segments"]["sizes"]}
    assert remote.kfactor.iloc[0]["invites"] == local.kfactor.iloc[0]["invites"]
    folder = remote.save(tmp_path / "parts")
    written = sorted(p.name for p in (folder / "customers").iterdir())
    assert written == ["part-00000.csv"]  # PART_ROWS rows a file, whatever the partitions
    assert not (folder / "customers.csv").exists()
    pd.testing.assert_frame_equal(influence.Analysis.load(folder).customers, customers)


@needs_spark
def test_money_sums_bit_identical_to_the_local_engine_on_shuffled_rows(spark, tmp_path):
    """referral_value, downstream value and edge weights from values and weights that
    binary floats cannot hold (0.1, 19.99): the Spark engine on shuffled rows gives the
    local engine's bits, and a small segment is suppressed the same way in both."""
    from influence.spark import analyze_spark

    events = generate_events(300, days=90, seed=8)[0]
    rng = np.random.default_rng(8)
    referral = (events["type"] == "referral").to_numpy()
    events["value"] = np.where(referral, rng.choice([0.1, 0.2, 0.3, 19.99, 7.07], len(events)),
                               np.nan)
    events["weight"] = rng.choice([0.1, 0.7, 1.3], len(events))
    path = tmp_path / "events.csv"
    events.sample(frac=1, random_state=2).to_csv(path, index=False)
    config = {"segments": {"rules": [{"name": "vip", "when": "influence_rank <= 2"}]},
              "privacy": {"min_segment_size": 3}}
    local = influence.analyze(events, config=config, seed=0)
    remote = analyze_spark(path, spark=spark, config=config, seed=0)
    a = local.customers.set_index("customer_id")
    b = remote.customers.set_index("customer_id").loc[a.index]
    assert (a["referrals_sent"] > 2).any()
    for column in ("referral_value", "downstream_value", "out_strength", "in_strength"):
        assert a[column].to_numpy().tobytes() == b[column].to_numpy().tobytes(), column
    assert local.edges["weight"].to_numpy().tobytes() == \
        remote.edges["weight"].to_numpy().tobytes()
    pd.testing.assert_frame_equal(remote.cascades, local.cascades, check_exact=True)
    pd.testing.assert_frame_equal(remote.kfactor, local.kfactor, check_exact=True)
    assert "vip" not in set(remote.kfactor["key"])
    assert remote.communities["share_vip"].isna().all()
    # reach_2 is a HyperLogLog estimate on Spark: its medians differ
    pd.testing.assert_frame_equal(remote.segments.drop(columns="median_reach_2"),
                                  local.segments.drop(columns="median_reach_2"),
                                  check_exact=True)
    assert remote.segments["median_reach_2"].isna().tolist() == \
        local.segments["median_reach_2"].isna().tolist()


# --- a real cluster: a standalone master and worker on 127.0.0.1 -------------------

def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(ready, seconds: float, what: str, logs: list[Path]) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    tails = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs if p.exists())
    pytest.fail(f"{what} not ready after {seconds:.0f} s:\n{tails}")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A Spark standalone cluster: one master and one worker (2 cores, 1 GiB) on 127.0.0.1,
    started with pyspark's own launcher (bin/spark-class) and stopped by their process ids.
    Yields the master URL."""
    if WHY is not None:
        pytest.skip(WHY)
    import socket
    import urllib.request

    import pyspark

    home = Path(pyspark.__file__).parent
    launcher = home / "bin" / "spark-class"
    if not launcher.is_file():
        pytest.skip(f"pyspark has no launcher at {launcher}")
    folder = tmp_path_factory.mktemp("standalone")
    port, ui = _free_port(), _free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(folder),
           "SPARK_WORKER_DIR": str(folder / "work"), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1"}
    processes = []

    def start(name: str, *args: str) -> None:
        log = (folder / f"{name}.log").open("w")
        # spark-class execs the JVM: the process id is the master's (or worker's) own
        processes.append(subprocess.Popen([str(launcher), *args], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, cwd=folder))

    def workers_alive() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as got:
                state = json.loads(got.read())
        except OSError:
            return False
        return any(w.get("state") == "ALIVE" for w in state.get("workers", []))

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    logs = [folder / "master.log", folder / "worker.log"]
    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(port), "--webui-port", str(ui))
        _wait_for(listening, 120, "the standalone master", logs)
        start("worker", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
              "--cores", "2", "--memory", "1g", "--webui-port", str(_free_port()),
              "--work-dir", str(folder / "work"), f"spark://127.0.0.1:{port}")
        _wait_for(workers_alive, 120, "the standalone worker", logs)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@needs_spark
def test_standalone_cluster_agrees_with_local_mode(standalone, above, small_data, tmp_path):
    # the CLI on a real cluster (executors in the worker's JVM, tasks over the network),
    # hand-off off: distributed PageRank, label propagation and referral forest; the files
    # are the local[2] run's byte for byte
    config = tmp_path / "c.toml"
    config.write_text("[spark]\n" + "".join(f"{k} = {v}\n" for k, v in ABOVE.items())
                      + "[score]\n" + "".join(f"{k} = {str(v).lower()}\n"
                                              for k, v in ABOVE_SCORE.items()))
    out = tmp_path / "cluster"
    env = {**_bare_environment(tmp_path), "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [str(_console_script()), "analyze", str(small_data["events"]), "--engine", "spark",
         "--spark-master", standalone, "--customers", str(small_data["customers"]),
         "--seed", "0",
         "--config", str(config), "--out", str(out), "--no-report", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["master"] == standalone
    assert manifest["engine"]["driver_handoff"] is False
    above[1].save(tmp_path / "local2")
    parts = sorted(f"customers/{p.name}" for p in (out / "customers").iterdir())
    assert parts == sorted(f"customers/{p.name}"
                           for p in (tmp_path / "local2" / "customers").iterdir())
    for name in (*parts, "communities.csv", "segments.csv", "cascades.csv", "kfactor.csv"):
        assert (out / name).read_bytes() == (tmp_path / "local2" / name).read_bytes(), name
    assert not (out / "edges.csv").exists()


@needs_spark
def test_executor_tier_cut_points_give_the_local_tiers_exactly(spark):
    # the only global input of the tiers is one k-th largest value per tier; found on the
    # executors (approxQuantile bracket + one counting pass), it gives assign_tiers' tiers
    from influence.segments import assign_tiers
    from influence.spark.finish import kth_largest, tier_column, tier_cuts

    rng = np.random.default_rng(5)
    n = 3000
    values = np.round(rng.pareto(1.5, n), 1)  # heavy ties, many zeros
    values[rng.choice(n, 200, replace=False)] = 0.0
    values[:7] = np.nan
    import pyarrow as pa

    frame = spark.createDataFrame(pa.table({"x": values}))
    clean = np.nan_to_num(values)
    for k in (1, 2, 37, 300, 1500, n):
        assert kth_largest(frame, "x", k, n=n) == np.sort(clean)[::-1][k - 1], k
    assert kth_largest(frame, "x", 0, n=n) is None
    for high, mid in ((0.10, 0.40), (0.01, 0.05), (0.5, 0.5), (0.0, 0.2)):
        cuts = tier_cuts(frame, "x", n=n, high_share=high, mid_share=mid)
        got = frame.select(tier_column("x", cuts).alias("t")).toArrow().column("t")
        assert got.to_pylist() == assign_tiers(values, high, mid).tolist(), (high, mid)


@needs_spark
def test_distributed_pagerank_runs_one_job_per_iteration(spark):
    # the iterations were two actions each (a checkpoint, then an aggregate for the change
    # and the dangling mass), about nine jobs with adaptive execution; now one job each and
    # one convergence check per checkpoint_every iterations, with the same scores
    import pyarrow as pa

    from influence.spark.graph import pagerank, strengths

    rng = np.random.default_rng(1)
    n = 60
    a = rng.integers(0, n, 240)
    b = (a + rng.integers(1, n, 240)) % n
    pairs = pd.DataFrame({"a": a, "b": b}).drop_duplicates()
    weights = rng.integers(1, 5, len(pairs)).astype(np.float64)
    edges = spark.createDataFrame(pa.table({
        "a": pairs["a"].to_numpy(np.int64), "b": pairs["b"].to_numpy(np.int64),
        "weight": weights}))
    degree = strengths(edges).filter("in_strength is not null").select("vid", "in_strength")
    degree = degree.localCheckpoint()
    sc = spark.sparkContext
    sc.setJobGroup("pagerank-jobs", "pagerank-jobs")
    try:
        ranks, info = pagerank(spark, edges, degree, n, damping=0.85, max_iter=100, tol=1e-9,
                               every=5, checkpoint_dir=None, partitions=2, storage=None)
        got = ranks.toArrow()
    finally:
        sc.setJobGroup("other", "other")
    jobs = len(sc.statusTracker().getJobIdsForGroup("pagerank-jobs"))
    k = info.iterations
    assert info.converged and k > 10
    assert jobs <= k + -(-k // 5) + 6, (jobs, k)  # + setup: share, ranks, the total, collect
    order = np.argsort(got.column("vid").to_numpy())
    import igraph as ig

    # influence flows a -> b; PageRank runs on the reversed graph (influence.metrics.pagerank)
    graph = ig.Graph(n=n, edges=list(zip(pairs["b"].tolist(), pairs["a"].tolist())),
                     directed=True)
    want = graph.pagerank(damping=0.85, weights=weights.tolist(), implementation="prpack")
    assert np.abs(got.column("pagerank").to_numpy()[order] - np.array(want)).max() < 1e-9


@needs_spark
def test_executor_finish_gives_the_local_segments_and_reasons(spark, tmp_path):
    # the finish's global numbers (ranks behind tiers, top N%, pct(); the caps' cut
    # points; the counts) computed on the executors, the rows by the local code in
    # mapInArrow: the local engine's tiers, segments and reasons, character for character
    import pyarrow as pa

    from influence.local import run_local
    from influence.pipeline import finish, ranked_metrics, with_attributes
    from influence.progress import StageClock
    from influence.spark.finish import (
        ROW,
        SCORE_TEXT,
        finish_segments,
        rank_customers,
        segment_profiles,
        write_customers,
    )

    events, truth = generate_events(300, seed=4)
    customers = pd.DataFrame({"customer_id": truth["customer_id"][:40],
                              "plan": ["pro", "free"] * 20})
    # caps that bind (5% of the customers with events) and a rule reading pct() and plan
    config = config_from_dict({"segments": {"max_share": 0.05, "rules": [
        {"name": "pro_hubs", "segment": "pro_hubs",
         "when": "plan == 'pro' and pct(pagerank) >= 50"}]}})
    run = run_local(events, customers=customers, config=config, clock=StageClock())
    local = finish(run, config, StageClock())
    caps = local.manifest["segments"]["caps"]
    assert any(c["eligible"] > c["kept"] for c in caps["segments"].values())
    metrics, _, score_text, _ = ranked_metrics(run, config, StageClock())
    table = with_attributes(metrics, run.attributes)
    table[ROW] = np.arange(len(table))
    table[SCORE_TEXT] = score_text
    frame = spark.createDataFrame(pa.Table.from_pandas(
        table.drop(columns=["influence_score", "influence_rank"]), preserve_index=False))
    frame = rank_customers(frame.repartition(3))
    ranked = frame.select(ROW, "influence_score", "influence_rank").toArrow().to_pandas() \
        .sort_values(ROW)
    np.testing.assert_array_equal(ranked["influence_score"], metrics["influence_score"])
    np.testing.assert_array_equal(ranked["influence_rank"], metrics["influence_rank"])
    got = finish_segments(frame, config.segments, has_timestamps=True, end=run.accounting.end)
    result = got.customers.toArrow().to_pandas().sort_values(ROW).set_index("customer_id")
    want = local.customers.set_index("customer_id").loc[result.index]
    assert got.caps == caps
    profiles = segment_profiles(got.customers, order=list(local.segments["segment"]),
                                min_segment_size=config.privacy.min_segment_size)
    pd.testing.assert_frame_equal(profiles, local.segments, check_exact=False, rtol=1e-12)
    # written by the executors as Parquet parts, sorted by rank, in the local column order
    folder = tmp_path / "customers"
    write_customers(got.customers, folder, by_type=run.by_type, attributes=["plan"])
    parts = sorted(p.name for p in folder.glob("part-*.parquet"))
    assert len(parts) > 1
    written = pd.read_parquet(folder)
    assert list(written.columns) == list(local.customers.columns)
    assert written["customer_id"].tolist() == local.customers["customer_id"].tolist()
    assert written["segment_reason"].tolist() == local.customers["segment_reason"].tolist()
    assert (written["last_active"] == local.customers["last_active"]).all()
    columns = ["segment", "segment_reason", "influence_tier", "activity_tier", "reach_tier",
               "rfm_recency", "rfm_frequency", "rfm_value", "rfm_code"]
    assert (want["segment"] == "pro_hubs").any()
    for column in columns:
        assert result[column].tolist() == want[column].astype(str).tolist(), column
    for column in ("tenure_days", "influence_rate"):
        np.testing.assert_array_equal(result[column].to_numpy(float),
                                      want[column].to_numpy(float), err_msg=column)
