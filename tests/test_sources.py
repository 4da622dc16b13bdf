"""Events from where users keep them (influence/sources.py): folders and globs of parts,
standard input, Arrow C stream objects (pyarrow, DuckDB, polars), databases (DuckDB,
SQLite; PostgreSQL in test_sinks.py), nested fields by dotted name. Every source goes
through the same validation and accounting."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import influence
from influence.cli import cli
from influence.config import AnalysisConfig
from influence.errors import ConfigError, InputError, InputTypeError
from influence.io import write_events
from influence.sources import Query, open_table, read_events, read_table, redact_uri, scrub
from influence.validation import clean_events

duckdb = pytest.importorskip("duckdb", reason="DuckDB is in the test extra: "
                                              "pip install '.[test]'")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    """Synthetic events plus rows that validation drops (so accounting is tested)."""
    generated, _ = influence.generate_events(150, seed=3, days=60)
    dirty = pd.DataFrame({"source": [None, "c0000001", generated["source"].iloc[0]],
                          "target": ["c0000002", "c0000001", generated["target"].iloc[0]],
                          "type": ["share", "share", generated["type"].iloc[0]],
                          "timestamp": ["2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z",
                                        generated["timestamp"].iloc[0]],
                          "converted": [None, None, generated["converted"].iloc[0]],
                          "value": [None, None, generated["value"].iloc[0]]})
    table = pd.concat([generated, dirty], ignore_index=True)
    return table.astype({c: "str" for c in ("source", "target", "type", "timestamp",
                                            "converted")})


@pytest.fixture(scope="module")
def reference(events):
    raw, _ = read_events(events)
    return clean_events(raw, AnalysisConfig())


def _parts(events, n=3):
    size = -(-len(events) // n)
    return [events.iloc[i:i + size].reset_index(drop=True) for i in range(0, len(events), size)]


def _source(kind, events, tmp_path, monkeypatch):
    """``kind`` of source holding ``events``; returns (source, expected origin kind)."""
    if kind == "csv file":
        return write_events(events, tmp_path / "e.csv"), None
    if kind == "parquet folder":  # as Spark writes it: parts, _SUCCESS, hidden .crc files
        folder = tmp_path / "events"
        for i, part in enumerate(_parts(events)):
            path = folder / f"dt=2026-0{i + 1}" / f"part-{i:05d}.snappy.parquet"
            path.parent.mkdir(parents=True)
            write_events(part, path)
            (path.parent / f".part-{i:05d}.crc").write_bytes(b"\0junk")
        (folder / "_SUCCESS").write_bytes(b"")
        return folder, "folder"
    if kind == "csv glob (one part gzip)":
        folder = tmp_path / "exports"
        folder.mkdir()
        for i, part in enumerate(_parts(events)):
            path = write_events(part, folder / f"2026-0{i + 1}.csv")
            if i == 1:
                gz = folder / f"2026-0{i + 1}.csv.gz"
                gz.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
                path.unlink()
        (folder / "notes.txt").write_text("not a part")
        return str(folder / "2026-*.csv*"), "glob"
    if kind == "stdin jsonl":
        buffer = io.BytesIO()
        events.to_json(buffer, orient="records", lines=True)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(buffer.getvalue())))
        return "-", "stdin"
    if kind == "pyarrow table":
        return pa.Table.from_pandas(events, preserve_index=False), "arrow"
    if kind == "pyarrow RecordBatchReader":
        table = pa.Table.from_pandas(events, preserve_index=False)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(100)), "arrow"
    if kind == "only __arrow_c_stream__":
        class Stream:  # any object that speaks the interface, nothing else
            def __init__(self, table):
                self._table = table

            def __arrow_c_stream__(self, requested_schema=None):
                return self._table.__arrow_c_stream__(requested_schema)

        return Stream(pa.Table.from_pandas(events, preserve_index=False)), "arrow"
    if kind == "duckdb relation":
        con = duckdb.connect()
        con.register("frame", pa.Table.from_pandas(events, preserve_index=False))
        return con.sql("SELECT * FROM frame"), "arrow"
    if kind == "polars":
        polars = pytest.importorskip("polars")
        return polars.from_pandas(events), "arrow"
    if kind in ("duckdb query, typed timestamps", "duckdb table"):
        path = tmp_path / "warehouse.duckdb"
        con = duckdb.connect(str(path))
        con.register("frame", pa.Table.from_pandas(events, preserve_index=False))
        con.execute("CREATE TABLE events AS SELECT source AS user_id, target, type, "
                    "CAST(timestamp AS TIMESTAMPTZ) AS ts, converted, value FROM frame")
        con.close()
        uri = f"duckdb:///{path}"  # four slashes: absolute
        if kind == "duckdb table":
            return Query(uri, table="events"), "database"
        return Query(uri, "SELECT user_id AS source, target, type, ts AS timestamp, "
                          "converted, value FROM events"), "database"
    if kind == "sqlite table":
        path = tmp_path / "events.db"
        con = sqlite3.connect(path)
        events.to_sql("events", con, index=False)
        con.close()
        return Query(f"sqlite:///{path}", table="events"), "database"
    raise AssertionError(kind)


KINDS = ["csv file", "parquet folder", "csv glob (one part gzip)", "stdin jsonl",
         "pyarrow table", "pyarrow RecordBatchReader", "only __arrow_c_stream__",
         "duckdb relation", "polars", "duckdb query, typed timestamps", "duckdb table",
         "sqlite table"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_source_is_validated_and_accounted_the_same(kind, events, reference, tmp_path,
                                                          monkeypatch):
    source, origin_kind = _source(kind, events, tmp_path, monkeypatch)
    columns = {"source": "user_id", "timestamp": "ts"} if kind == "duckdb table" else {}
    raw, info = read_events(source, columns=columns,
                            input_format="jsonl" if kind == "stdin jsonl" else None)
    clean = clean_events(raw, AnalysisConfig())
    assert clean.rows_read == clean.rows_used + sum(clean.dropped.values()) == len(events)
    assert clean.dropped == reference.dropped
    assert clean.dropped["null_source"] == clean.dropped["self_loop"] == 1
    assert clean.dropped["duplicate"] >= 1
    got = clean.events.sort_values(["source", "target", "timestamp"], ignore_index=True)
    want = reference.events.sort_values(["source", "target", "timestamp"], ignore_index=True)
    for column in want.columns:
        assert got[column].astype(str).tolist() == want[column].astype(str).tolist(), column
    assert info.get("kind") == origin_kind


def test_folder_of_parts_as_spark_writes_it(events, tmp_path, monkeypatch):
    source, _ = _source("parquet folder", events, tmp_path, monkeypatch)
    table, info = read_table(source)
    assert "dt" in table.columns  # hive-style folder names become columns
    assert sorted(table["dt"].unique()) == ["2026-01", "2026-02", "2026-03"]
    assert info["kind"] == "folder" and info["parts"] == 3 and info["format"] == "parquet"
    # the hash names the parts and their bytes: stable, and changes with a part
    assert read_table(source)[1]["sha256"] == info["sha256"]
    part = next(source.glob("dt=2026-02/*.parquet"))
    write_events(events.iloc[:5], part)
    assert read_table(source)[1]["sha256"] != info["sha256"]
    # analyze takes the folder; the manifest says where the events came from
    result = influence.analyze(source, seed=0)
    assert result.manifest["input"]["kind"] == "folder"
    assert result.manifest["input"]["path"] == str(source)
    m = result.manifest
    assert m["rows_read"] == m["rows_used"] + sum(m["dropped"].values())


def test_folder_and_glob_errors(tmp_path, events):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")
    with pytest.raises(InputError, match="holds no files"):
        read_events(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_events(events.iloc[:5], mixed / "a.csv")
    write_events(events.iloc[5:10], mixed / "b.parquet")
    with pytest.raises(InputError, match=r"mixes formats \(csv, parquet\)"):
        read_events(mixed)
    (mixed / "b.parquet").unlink()
    (mixed / "README").write_text("hello")
    with pytest.raises(InputError, match="cannot tell the format of .*README.*--input-format"):
        read_events(mixed)
    with pytest.raises(InputError, match="matches no files"):
        read_events(str(tmp_path / "nothing-*.parquet"))
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nothing-*.csv")])
    assert result.exit_code == 3 and "matches no files" in result.output


def test_stdin_on_the_command_line(events, tmp_path):
    data = events.to_csv(index=False).encode()
    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", "-", "--input-format", "csv", "--out",
                                 str(tmp_path / "out"), "--no-report", "-q"], input=data)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["input"] == {"path": "-", "format": "csv", "kind": "stdin",
                                 "sha256": hashlib.sha256(data).hexdigest()}
    assert manifest["rows_read"] == len(events)
    assert manifest["rows_read"] == manifest["rows_used"] + sum(manifest["dropped"].values())
    # gzip is recognised by its magic bytes; --snapshots reads the events again (once read)
    result = runner.invoke(cli, ["analyze", "-", "--input-format", "csv", "--out",
                                 str(tmp_path / "snap"), "--no-report", "-q",
                                 "--snapshots", "30d"], input=gzip.compress(data))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "snap" / "snapshots.csv").is_file()
    result = runner.invoke(cli, ["validate", "-"], input=data)
    assert result.exit_code == 2
    assert "needs its format: add --input-format" in result.output
    result = runner.invoke(cli, ["validate", "-", "--input-format", "csv"], input=b"")
    assert result.exit_code == 3 and "standard input is empty" in result.output


SEGMENT_ROWS = [  # a Segment-style export: the counterpart inside properties
    {"userId": "ann", "event": "share", "properties": {"recipient_id": "bob", "n": 1}},
    {"userId": "bob", "event": "share", "properties": {"recipient_id": "cat", "n": 2}},
    {"userId": "cat", "event": "comment", "properties": {"recipient_id": "ann"}},
    {"userId": "ann", "event": "referral", "properties": None},
]
NESTED = {"source": "userId", "type": "event", "target": "properties.recipient_id"}


def _check_nested(raw):
    assert raw["source"].tolist() == ["ann", "bob", "cat", "ann"]
    assert raw["target"].tolist()[:3] == ["bob", "cat", "ann"]
    assert pd.isna(raw["target"].iloc[3])  # missing record: missing field


def test_nested_fields_map_by_dotted_name(tmp_path):
    path = tmp_path / "segment.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in SEGMENT_ROWS))
    _check_nested(read_events(path, columns=NESTED)[0])
    # a field whose values are of two kinds: pandas reads it, nested fields still map
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({**row, "context": 1 if i else "x"}) + "\n"
                             for i, row in enumerate(SEGMENT_ROWS)))
    _check_nested(read_events(mixed, columns=NESTED)[0])
    table = pa.Table.from_pylist(SEGMENT_ROWS)
    pq.write_table(table, tmp_path / "segment.parquet")
    _check_nested(read_events(tmp_path / "segment.parquet", columns=NESTED)[0])
    _check_nested(read_events(table, columns=NESTED)[0])
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    con.register("t", table)
    con.execute("CREATE TABLE events AS SELECT * FROM t")
    con.close()
    _check_nested(read_events(Query(f"duckdb:///{tmp_path}/s.duckdb", table="events"),
                              columns=NESTED)[0])
    result = CliRunner().invoke(cli, ["validate", str(path), "--map", "source=userId",
                                      "--map", "type=event", "--map",
                                      "target=properties.recipient_id", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_used"] == 4


def test_json_lines_are_read_by_pyarrow(tmp_path, monkeypatch):
    """Not by pandas (measured 3x faster; docs/sources.md): pandas' reader is not called."""
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({"source": f"{i:03d}", "target": "1", "type": "share",
                                        "timestamp": "2026-01-02T03:04:05+02:00"}) + "\n"
                            for i in range(5)))

    def refuse(*args, **kwargs):
        raise AssertionError("pandas.read_json called")

    monkeypatch.setattr(pd, "read_json", refuse)
    raw, info = read_events(path)
    assert raw["source"].tolist() == ["000", "001", "002", "003", "004"]
    clean = clean_events(raw, AnalysisConfig())
    assert clean.events["timestamp"].iloc[0] == pd.Timestamp("2026-01-02T01:04:05Z")


def test_arrow_text_reaches_pandas_without_a_copy():
    ids = pa.array([f"customer-{i}" for i in range(1000)])
    table = pa.table({"source": ids, "target": ids, "type": pa.array(["share"] * 1000),
                      "unused": pa.array([[1, 2]] * 1000)})
    raw, _ = read_events(table)
    chunk = raw["source"].array._pa_array.chunk(0)
    assert chunk.buffers()[2].address == ids.buffers()[2].address
    assert "unused" not in raw.columns


def test_queries_cannot_change_the_database(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events AS SELECT 'a' AS source, 'b' AS target, "
                "'share' AS type")
    con.close()
    with pytest.raises(InputError, match="cannot read events from duckdb:///"):
        read_events(Query(f"duckdb:///{path}", "DELETE FROM events"))
    db = tmp_path / "w.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE events (source, target, type)")
        con.execute("INSERT INTO events VALUES ('a', 'b', 'share')")
    with pytest.raises(InputError, match="readonly"):
        read_events(Query(f"sqlite:///{db}", "DELETE FROM events"))
    assert duckdb.connect(str(path)).execute("SELECT count(*) FROM events").fetchall() == [(1,)]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_database_errors_are_one_line_exit_3(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", f"duckdb:///{tmp_path}/missing.duckdb",
                                 "--table", "events"])
    assert result.exit_code == 3
    assert "does not exist" in result.output and "Traceback" not in result.output
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    result = runner.invoke(cli, ["validate", f"duckdb:///{tmp_path}/w.duckdb", "--table",
                                 "events"])
    assert result.exit_code == 3 and "cannot read events from duckdb:///" in result.output
    assert len(result.output.strip().splitlines()) == 1
    for args, message in [
            ([f"duckdb:///{tmp_path}/w.duckdb"], "--query SQL or --table NAME"),
            ([str(tmp_path / "e.csv"), "--query", "SELECT 1"], "not a database URI"),
            ([f"duckdb:///{tmp_path}/w.duckdb", "--query", "SELECT 1", "--table", "t"],
             "exclude each other")]:
        result = runner.invoke(cli, ["validate", *args])
        assert result.exit_code == 2 and message in result.output
    with pytest.raises(InputError, match="is a database"):
        influence.analyze(f"duckdb:///{tmp_path}/w.duckdb")


def test_credentials_are_redacted_everywhere_we_show_a_uri():
    uri = "postgresql://ann:s%3Acret@db.example.com:5432/crm?sslmode=require&password=p2"
    assert redact_uri(uri) == "postgresql://db.example.com:5432/crm?sslmode=require"
    message = f"could not connect to {uri}: user ann password s:cret and p2"
    cleaned = scrub(message, uri)
    assert "s:cret" not in cleaned and "s%3Acret" not in cleaned and "p2" not in cleaned
    query = Query(uri, "SELECT 1")
    assert "cret" not in repr(query) and "cret" not in str(query)
    assert "cret" not in json.dumps(query.origin())
    assert query.origin()["query"] == "SELECT 1"


def test_missing_driver_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "duckdb", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'influence\[duckdb\]'"):
        read_events(Query(f"duckdb:///{tmp_path}/x.duckdb", "SELECT 1"))


def test_inputs_no_reader_takes():
    with pytest.raises(InputTypeError, match="got list") as caught:
        influence.analyze([("a", "b", "share")])
    assert isinstance(caught.value, TypeError)
    table, info = open_table(pd.DataFrame({"a": [1]}))
    assert info["format"] == "dataframe"


def test_64_bit_integer_ids_with_missing_values_keep_every_digit(tmp_path):
    """A database's BIGINT ids with NULLs (activity-only rows) arrive as Arrow int64 with
    nulls: as float64 in pandas, 1234567890123456781 would become ...768."""
    table = pa.table({"source": pa.array([1234567890123456789, 7], pa.int64()),
                      "target": pa.array([1234567890123456781, None], pa.int64()),
                      "type": ["share", "share"], "value": pa.array([3, None], pa.int32())})
    pq.write_table(table, tmp_path / "e.parquet")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.register("t", table)
    con.execute("CREATE TABLE events AS SELECT * FROM t")
    con.close()
    for source in (table, tmp_path / "e.parquet",
                   Query(f"duckdb:///{tmp_path}/w.duckdb", table="events")):
        raw, _ = read_events(source)
        assert raw["target"].tolist()[0] == "1234567890123456781"
        assert raw["source"].tolist() == ["1234567890123456789", "7"]
        clean = clean_events(raw, AnalysisConfig())
        assert clean.events["value"].tolist()[0] == 3.0 and clean.rows_used == 2


def test_every_entry_point_takes_an_arrow_table():
    """analyze, find_propagators, backtest and validate_events take a polars frame (the
    Arrow C stream interface) and give what they give for the same events as a CSV file;
    compare takes the analyses."""
    polars = pytest.importorskip("polars")
    import influence

    path = Path(__file__).resolve().parents[1] / "examples" / "events.csv"
    frame = polars.read_csv(path, infer_schema_length=0)  # every column text, as the CSV
    config = {"propagators": {"simulations": 20}}
    by_file, by_frame = influence.analyze(path, config=config), influence.analyze(frame,
                                                                                  config=config)
    pd.testing.assert_frame_equal(by_frame.customers, by_file.customers)
    assert by_frame.manifest["input"]["kind"] == "arrow"
    assert by_frame.manifest["rows_read"] == by_file.manifest["rows_read"]
    assert influence.compare(by_file, by_frame).summary["lists"] == \
        influence.compare(by_file, by_file).summary["lists"]
    seeds = influence.find_propagators(frame, 5, config=config).seeds
    assert seeds.equals(influence.find_propagators(path, 5, config=config).seeds)
    checked = influence.validate_events(frame).to_dict()
    assert checked["rows_read"] == checked["rows_used"] + sum(checked["dropped"].values())
    split = str(pd.Timestamp(by_file.manifest["window"]["end_date"]) - pd.Timedelta(days=20))[:10]
    scored = influence.backtest(frame, split, horizon=10, k=10, config=config).summary
    want = influence.backtest(path, split, horizon=10, k=10, config=config).summary
    assert scored.pop("input")["kind"] == "arrow"
    want.pop("input")
    assert scored == want
