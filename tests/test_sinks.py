"""Results into databases (influence/sinks.py) and events from PostgreSQL: DuckDB
everywhere, PostgreSQL against a real server (the ``postgres`` fixture in conftest.py).
All or nothing, run ids that append and replace, a stable schema, the CRM view, and no
credentials in any output, log or error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

import influence
from influence.cli import cli
from influence.errors import ConfigError, OutputError
from influence.sinks import CRM_VIEW, RUNS, TABLES, write_database
from influence.sources import Query

duckdb = pytest.importorskip("duckdb", reason="DuckDB is in the test extra: "
                                              "pip install '.[test]'")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    generated, _ = influence.generate_events(120, seed=5, days=60)
    return generated


@pytest.fixture(scope="module")
def result(events):
    return influence.analyze(events, seed=0)


def _duck(path):
    return duckdb.connect(str(path), read_only=True)


def _rows(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def _same(database: pa.Table, frame: pd.DataFrame, name: str) -> None:
    """A table read back from a database holds the values of the Analysis table."""
    got = database.drop_columns(["run_id"]).to_pandas()
    assert list(got.columns) == [str(c) for c in frame.columns], name
    for column in frame.columns:
        want, have = frame[column], got[column]
        if pd.api.types.is_datetime64_any_dtype(want.dtype):
            assert (pd.to_datetime(have, utc=True) == want.dt.tz_convert("UTC")).fillna(
                want.isna()).all(), (name, column)
        elif pd.api.types.is_float_dtype(want.dtype):
            np.testing.assert_array_equal(have.to_numpy(dtype=float),
                                          want.to_numpy(dtype=float), err_msg=column)
        else:
            assert [None if pd.isna(v) else v for v in have] == \
                [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
                 for v in want], (name, column)


def test_duckdb_holds_every_table_and_the_manifest(result, tmp_path):
    path = tmp_path / "out" / "results.duckdb"  # the folder is created
    assert write_database(result, f"duckdb:///{path}", run_id="2026-03") == "2026-03"
    con = _duck(path)
    for name in TABLES:
        frame = getattr(result, name)
        if frame is None:
            assert not _rows(con, "SELECT 1 FROM information_schema.tables WHERE "
                                  "table_name = ?", f"influence_{name}")
            continue
        order = ", ".join(f'"{c}"' for c in ["run_id", *frame.columns][:3])
        table = pa.table(con.sql(f'SELECT * FROM "influence_{name}" ORDER BY {order}'))
        frame = frame.sort_values(list(frame.columns[:2]), kind="stable", ignore_index=True)
        _same(table, frame, name)
    run = con.execute(f"SELECT run_id, rows_read, rows_used, customers, edges, "
                      f"manifest::VARCHAR FROM {RUNS}").fetchall()
    assert run[0][:5] == ("2026-03", result.manifest["rows_read"],
                          result.manifest["rows_used"], len(result.customers),
                          result.manifest["edges"])
    manifest = json.loads(run[0][5])
    assert manifest["outputs"]["run_id"] == "2026-03"
    assert manifest["outputs"]["tables"]["influence_customers"] == len(result.customers)
    assert {k: v for k, v in manifest.items() if k != "outputs"} == \
        json.loads(json.dumps(result.manifest))
    # the CRM view: the latest run's customers with crm_tag
    crm = con.execute(f"SELECT customer_id, segment, crm_tag FROM {CRM_VIEW} "
                      "ORDER BY customer_id").fetchall()
    assert len(crm) == len(result.customers)
    assert all(tag == f"influence:{segment}" for _, segment, tag in crm)


def test_runs_append_and_a_run_id_is_replaced(result, events, tmp_path):
    uri = f"duckdb:///{tmp_path}/r.duckdb"
    write_database(result, uri, run_id="2026-02")
    write_database(result, uri, run_id="2026-03")
    write_database(result, uri, run_id="2026-03")  # a re-run replaces, never doubles
    con = _duck(tmp_path / "r.duckdb")
    n = len(result.customers)
    assert _rows(con, "SELECT run_id, count(*) FROM influence_customers GROUP BY 1 "
                      "ORDER BY 1") == [("2026-02", n), ("2026-03", n)]
    assert _rows(con, f"SELECT run_id FROM {RUNS} ORDER BY 1") == [("2026-02",), ("2026-03",)]
    con.close()
    # a later month with a customer attribute and an event type the table lacks
    customers = pd.DataFrame({"customer_id": result.customers["customer_id"],
                              "email": "x@example.com"})
    later = influence.analyze(events.assign(type=events["type"].where(
        events.index % 7 > 0, "repost")), customers=customers, seed=0,
        config={"types": {"repost": {"flow": "forward", "weight": 1.0}}})
    run_id = write_database(later, uri)  # the default run id: the time of writing
    con = _duck(tmp_path / "r.duckdb")
    assert _rows(con, "SELECT count(*) FROM influence_customers WHERE email IS NULL") == \
        [(2 * n,)]
    assert _rows(con, "SELECT count(*) FROM influence_customers WHERE run_id = ? AND "
                      "sent_repost IS NOT NULL", run_id) == [(n,)]
    assert run_id.endswith("Z") and run_id[:4].isdigit()


def test_crm_view_follows_the_latest_period(result, tmp_path):
    uri = f"duckdb:///{tmp_path}/r.duckdb"
    earlier = influence.Analysis(customers=result.customers, communities=result.communities,
                                 manifest={**result.manifest, "window": {
                                     **result.manifest["window"],
                                     "end_date": "2025-12-31T00:00:00+00:00"}})
    write_database(result, uri, run_id="march")
    write_database(earlier, uri, run_id="backfill-december")  # written later, older period
    con = _duck(tmp_path / "r.duckdb")
    assert _rows(con, f"SELECT DISTINCT run_id FROM {CRM_VIEW}") == [("march",)]


def test_a_failed_write_leaves_the_database_as_it_was(result, tmp_path):
    path = tmp_path / "r.duckdb"
    write_database(result, f"duckdb:///{path}", run_id="one")
    con = duckdb.connect(str(path))  # an edges column of another kind: the last insert fails
    con.execute("ALTER TABLE influence_edges ALTER weight TYPE TIMESTAMPTZ USING NULL")
    con.close()
    with pytest.raises(OutputError, match="column .weight. of table influence_edges is "
                                          "timestamptz in the database, but this run has "
                                          "double there; nothing was written"):
        write_database(result, f"duckdb:///{path}", run_id="two")
    with pytest.raises(OutputError):  # replacing "one": its rows are deleted first
        write_database(result, f"duckdb:///{path}", run_id="one")
    con = _duck(path)
    n = len(result.customers)
    assert _rows(con, "SELECT run_id, count(*) FROM influence_customers GROUP BY 1") == \
        [("one", n)]
    assert _rows(con, f"SELECT run_id FROM {RUNS}") == [("one",)]


def test_analyze_out_database_on_the_command_line(events, tmp_path):
    source = influence.write_events(events, tmp_path / "e.csv")
    runner = CliRunner()
    uri = f"duckdb:///{tmp_path}/r.duckdb"
    result = runner.invoke(cli, ["analyze", str(source), "--out", uri, "--run-id", "2026-03",
                                 "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{uri} 2026-03\n"
    assert not (tmp_path / "influence-out").exists()
    for args, message in [(["--report"], "--report write files"),
                          (["--format", "parquet"], "--format write files"),
                          (["--graph-format", "gexf"], "--graph-format write files")]:
        result = runner.invoke(cli, ["analyze", str(source), "--out", uri, *args])
        assert result.exit_code == 2 and message in result.output
    result = runner.invoke(cli, ["analyze", str(source), "--out", str(tmp_path / "d"),
                                 "--run-id", "x"])
    assert result.exit_code == 2 and "--run-id needs --out" in result.output
    result = runner.invoke(cli, ["analyze", str(source), "--out", f"sqlite:///{tmp_path}/x"])
    assert result.exit_code == 2 and "duckdb:///FILE or postgresql://" in result.output
    result = runner.invoke(cli, ["analyze", str(source), "--out", uri, "--run-id", "a\nb"])
    assert result.exit_code == 4, result.output
    assert result.output == ("influence: error: option '--run-id' must be 1 to 200 printable "
                             "characters, such as '2026-03'; got 'a\\nb'\n")
    with pytest.raises(ConfigError) as caught:  # the API names its argument
        write_database(influence.analyze(events), uri, run_id="")
    assert caught.value.key == "run_id" and str(caught.value).startswith("argument 'run_id'")


# ------------------------------------------------------------------ PostgreSQL
def _pg(uri, sql, *params):
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(uri) as conn:
        with conn.cursor() as cursor:
            cursor.execute(sql, parameters=params or None)
            return cursor.fetchall()


def test_postgresql_round_trip_runs_and_rollback(result, pg_database):
    write_database(result, pg_database, run_id="2026-02")
    write_database(result, pg_database, run_id="2026-03")
    write_database(result, pg_database, run_id="2026-03")
    n = len(result.customers)
    assert _pg(pg_database, "SELECT run_id, count(*) FROM influence_customers GROUP BY 1 "
                            "ORDER BY 1") == [("2026-02", n), ("2026-03", n)]
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(pg_database) as conn, conn.cursor() as cursor:
        for name in TABLES:
            frame = getattr(result, name)
            if frame is None:
                continue
            order = ", ".join(f'"{c}"' for c in frame.columns[:2])
            cursor.execute(f'SELECT * FROM "influence_{name}" WHERE run_id = \'2026-03\' '
                           f"ORDER BY {order}")
            _same(cursor.fetch_arrow_table(), frame.sort_values(
                list(frame.columns[:2]), kind="stable", ignore_index=True), name)
    manifest = _pg(pg_database, f"SELECT manifest::text FROM {RUNS} WHERE run_id = $1",
                   "2026-03")[0][0]
    assert json.loads(manifest)["rows_read"] == result.manifest["rows_read"]
    crm = _pg(pg_database, f"SELECT DISTINCT run_id FROM {CRM_VIEW}")
    assert crm == [("2026-03",)]
    # a failure in the last table rolls back everything, the delete of the old run too
    with dbapi.connect(pg_database) as conn, conn.cursor() as cursor:
        cursor.execute("ALTER TABLE influence_edges ALTER weight TYPE timestamptz USING NULL")
        conn.commit()
    with pytest.raises(OutputError, match="nothing was written"):
        write_database(result, pg_database, run_id="2026-03")
    assert _pg(pg_database, "SELECT run_id, count(*) FROM influence_customers GROUP BY 1 "
                            "ORDER BY 1") == [("2026-02", n), ("2026-03", n)]


def _leaks(texts, secrets):
    return [s for s in secrets for text in texts if s and s in text]


def test_postgresql_events_and_results_never_show_the_password(events, postgres,
                                                               pg_database, tmp_path):
    from urllib.parse import quote

    from adbc_driver_postgresql import dbapi

    secrets = [postgres.password, quote(postgres.password, safe="")]
    with dbapi.connect(pg_database) as conn, conn.cursor() as cursor:
        cursor.adbc_ingest("events", pa.Table.from_pandas(events, preserve_index=False),
                           mode="create")
        conn.commit()
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(cli, ["analyze", pg_database, "--query",
                                 "SELECT source, target, type, timestamp, converted, value "
                                 "FROM events", "--out", str(out)])
    assert result.exit_code == 0, result.output
    texts = [result.stdout, result.stderr]
    texts += [p.read_text(errors="replace") for p in out.iterdir() if p.is_file()]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["kind"] == "database"
    assert manifest["input"]["uri"] == f"postgresql://127.0.0.1:{postgres.port}/" \
                                       f"{pg_database.rsplit('/', 1)[1]}"
    assert manifest["input"]["query"].startswith("SELECT source")
    assert manifest["rows_read"] == len(events) == \
        manifest["rows_used"] + sum(manifest["dropped"].values())
    reference = influence.analyze(events, seed=0)
    saved = influence.Analysis.load(out)
    assert saved.customers["customer_id"].tolist() == \
        reference.customers["customer_id"].tolist()
    # results into the same database: nothing there holds the password either
    result = runner.invoke(cli, ["analyze", pg_database, "--table", "events", "--out",
                                 pg_database, "--run-id", "2026-03"])
    assert result.exit_code == 0, result.output
    texts += [result.stdout, result.stderr]
    texts += [str(row) for row in _pg(pg_database, f"SELECT input, manifest::text FROM {RUNS}")]
    # error paths: a wrong password, a port nobody listens on, for reading and writing
    wrong = postgres.uri(pg_database.rsplit("/", 1)[1], password=postgres.password + "x")
    closed = postgres.uri(pg_database.rsplit("/", 1)[1], port=1)
    csv = str(influence.write_events(events, tmp_path / "e.csv"))
    other = str(tmp_path / "other")
    for args, code, message in [
            (["analyze", wrong, "--table", "events", "--out", other], 3,
             "password authentication failed"),
            (["analyze", closed, "--table", "events", "--out", other], 3, "Connection refused"),
            (["analyze", csv, "--out", wrong, "-q"], 5, "password authentication failed"),
            (["analyze", csv, "--out", closed, "-q"], 5, "Connection refused"),
            (["validate", pg_database, "--query", "SELECT nope FROM events"], 3, "nope")]:
        result = runner.invoke(cli, args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"127.0.0.1:{postgres.port}" in result.stderr or ":1/" in result.stderr
        texts += [result.stdout, result.stderr]
    assert _leaks(texts, secrets) == []
    # the API's objects do not show it either
    assert _leaks([repr(Query(pg_database, table="events")), str(saved.manifest)], secrets) == []
