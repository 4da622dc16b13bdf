"""Results into a database: every table of an analysis and its manifest, in one transaction.

:func:`write_database` writes what :meth:`influence.Analysis.save` writes into a
folder (``customers``, ``communities``, ``segments``, ``cascades``, ``kfactor``,
``snapshots``, ``edges`` and the manifest) into DuckDB (``duckdb://``) or PostgreSQL
(``postgresql://``, through the ADBC driver), all or nothing: one transaction, rolled
back on any failure. Every row carries a ``run_id``, so a scheduled job appends one
run a month to the same tables; writing a run id that is already there replaces that
run, in the same transaction (readers see the old run or the new one, never a mix).

Schema (stable; see ``docs/sources.md``)
----------------------------------------
``influence_runs``
    One row per run: ``run_id``, ``written_at``, ``influence_version``, ``input``
    (where the events came from, as JSON, without credentials), ``period_start``,
    ``period_end``, ``rows_read``, ``rows_used``, ``customers``, ``edges``,
    ``communities``, ``manifest`` (JSON; ``JSONB`` in PostgreSQL).
``influence_<table>``
    ``run_id`` and then the columns of the result table as ``Analysis`` holds
    them. Types: text -> ``TEXT``/``VARCHAR``, integers -> ``BIGINT``, floats ->
    ``DOUBLE``, booleans -> ``BOOLEAN``, datetimes -> ``TIMESTAMPTZ`` (microseconds,
    UTC); missing values are ``NULL``. A column a later run has and the table lacks
    (a new event type's ``sent_<type>``, a new customer attribute) is added,
    nullable; earlier runs read ``NULL`` there.
``influence_crm`` (a view)
    The customers of the latest run (latest ``period_end``, then ``written_at``)
    with ``crm_tag`` (``influence:<segment>``), for reverse-ETL tools.

This module reads only the public attributes of an :class:`~influence.Analysis`;
nothing in the result type imports it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConfigError, OutputError
from .folder import with_outputs
from .sources import _first_line, _import, database_kind, is_database_uri, redact_uri, scrub

__all__ = ["write_database", "TABLES", "RUNS", "CRM_VIEW", "PREFIX", "default_run_id",
           "WRITABLE"]

logger = logging.getLogger(__name__)

#: Prefix of every table and view name.
PREFIX = "influence_"
#: Result tables written, in order (each as ``influence_<name>``).
TABLES = ("customers", "communities", "segments", "cascades", "kfactor", "snapshots", "edges")
#: The table of runs.
RUNS = PREFIX + "runs"
#: The view of the latest run's customers with ``crm_tag``.
CRM_VIEW = PREFIX + "crm"
#: Database kinds results can be written to.
WRITABLE = ("duckdb", "postgresql")
#: Columns of the CRM view, after ``run_id`` (``crm_tag`` comes third).
CRM_COLUMNS = ("customer_id", "segment", "segment_reason", "influence_rank", "influence_score",
               "community")
_MAX_RUN_ID = 200

# Arrow type of every written column -> SQL type, per engine
_SQL_TYPES = {
    "duckdb": {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
               pa.bool_(): "BOOLEAN", pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ"},
    "postgresql": {pa.string(): "TEXT", pa.int64(): "BIGINT",
                   pa.float64(): "DOUBLE PRECISION", pa.bool_(): "BOOLEAN",
                   pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ"},
}
# information_schema.columns.data_type -> Arrow type (the column types we create)
_FROM_SQL = {"varchar": pa.string(), "text": pa.string(), "character varying": pa.string(),
             "bigint": pa.int64(), "double": pa.float64(), "double precision": pa.float64(),
             "boolean": pa.bool_(), "timestamp with time zone": pa.timestamp("us", tz="UTC")}
_TIME = pa.timestamp("us", tz="UTC")
_RUN_COLUMNS = (("run_id", pa.string()), ("written_at", _TIME),
                ("influence_version", pa.string()), ("input", pa.string()),
                ("period_start", _TIME), ("period_end", _TIME),
                ("rows_read", pa.int64()), ("rows_used", pa.int64()),
                ("customers", pa.int64()), ("edges", pa.int64()),
                ("communities", pa.int64()))


def default_run_id(now: dt.datetime | None = None) -> str:
    """A run id from the time of writing: ``2026-03-31T08:15:02.123456Z`` (UTC, sorts
    in time order)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is usable: 1 to 200 printable characters.

    Raises
    ------
    ConfigError
        It is not (key ``run_id``; the command line names ``--run-id``).
    """
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > _MAX_RUN_ID \
            or not run_id.isprintable():
        raise ConfigError.invalid("run_id", f"1 to {_MAX_RUN_ID} printable characters, such "
                                  "as '2026-03'", run_id, subject="argument 'run_id'")
    return run_id


def write_database(result, uri: str, *, run_id: str | None = None) -> str:
    """Write every table of ``result`` and its manifest into a database, in one transaction.

    Parameters
    ----------
    result : Analysis
        What :func:`influence.analyze` returned (or :meth:`Analysis.load` read).
    uri : str
        ``duckdb:///path/results.duckdb`` (relative path; four slashes for an
        absolute one; the file and its folder are created when missing) or
        ``postgresql://user@host:5432/db`` (libpq URI; the password may come from
        ``PGPASSWORD`` or ``~/.pgpass``; tables go into the first schema of the
        search path, e.g. ``?options=-csearch_path%3Danalytics``).
    run_id : str, optional
        The run's id in every table. Default: the time of writing
        (:func:`default_run_id`). A run id already in the database is replaced
        (its rows deleted and the new ones written in the same transaction).

    Returns
    -------
    str
        The run id written.

    Raises
    ------
    OutputError
        The database cannot be reached or written, or a column's type differs
        from the one an earlier run gave it; nothing is written. The message
        shows the URI without credentials.
    ConfigError
        The driver is not installed (the message names the extra).
    """
    if not is_database_uri(uri) or database_kind(uri) not in WRITABLE:
        raise OutputError(f"cannot write results to {redact_uri(uri) if '://' in uri else uri!r}:"
                          " expected duckdb:///path/results.duckdb or "
                          "postgresql://host/db")
    kind = database_kind(uri)
    run_id = check_run_id(run_id if run_id is not None else default_run_id())
    tables = {name: _arrow(table, run_id) for name in TABLES
              if (table := getattr(result, name, None)) is not None}
    manifest = with_outputs(result.manifest, {
        "database": redact_uri(uri), "run_id": run_id,
        "tables": {PREFIX + name: table.num_rows for name, table in tables.items()}})
    run = _run_row(manifest, run_id)
    writer = _write_duckdb if kind == "duckdb" else _write_postgresql
    try:
        writer(uri, tables, run, json.dumps(manifest, ensure_ascii=False, sort_keys=False))
    except (OutputError, pa.ArrowException) as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write results to {redact_uri(uri)}: "
                          f"{scrub(_first_line(exc), uri)}; nothing was written") from None
    except Exception as exc:
        module = (type(exc).__module__ or "").split(".")[0]
        if module not in ("duckdb", "_duckdb", "adbc_driver_manager", "adbc_driver_postgresql") \
                and not isinstance(exc, OSError):
            raise
        raise OutputError(f"cannot write results to {redact_uri(uri)}: "
                          f"{scrub(_first_line(exc), uri)}; nothing was written (the "
                          "transaction was rolled back)") from None
    logger.info("wrote run %s into %s", run_id, redact_uri(uri))
    return run_id


# ------------------------------------------------------------------ tables as Arrow
def _arrow(frame: pd.DataFrame, run_id: str) -> pa.Table:
    """A result table as Arrow with ``run_id`` first, every column one of the five
    written types (text, int64, float64, bool, timestamp[us, UTC]); NaN as null."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = [pa.array([run_id] * table.num_rows, type=pa.string())]
    for name, column in zip(table.column_names, table.columns):
        columns.append(_column(column, name))
    return pa.Table.from_arrays(columns, names=["run_id"] + [str(n) for n in table.column_names])


def _column(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_boolean(kind):
        return column
    if pa.types.is_integer(kind):
        return column.cast(pa.int64())
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        column = column.cast(pa.float64())
        return pc.if_else(pc.is_nan(column), pa.scalar(None, pa.float64()), column)
    if pa.types.is_timestamp(kind):  # to microseconds (what both databases hold), UTC
        return column.cast(pa.timestamp("us", tz="UTC"), safe=False)
    if pa.types.is_date(kind):
        return column.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    if pa.types.is_null(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind) \
            or pa.types.is_string_view(kind):
        return column.cast(pa.string())
    try:
        return column.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        logger.debug("column %s written as the text of its values", name)
        return pa.chunked_array([pa.array([None if v is None else str(v)
                                           for v in column.to_pylist()], type=pa.string())])


def _run_row(manifest: dict[str, Any], run_id: str) -> dict[str, Any]:
    window = manifest.get("window") or {}
    communities = manifest.get("communities")
    return {
        "run_id": run_id,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
        "influence_version": manifest.get("influence_version"),
        "input": json.dumps(manifest.get("input"), ensure_ascii=False),
        "period_start": window.get("first_event"),
        "period_end": window.get("end_date"),
        "rows_read": manifest.get("rows_read"),
        "rows_used": manifest.get("rows_used"),
        "customers": manifest.get("customers"),
        "edges": manifest.get("edges"),
        "communities": communities.get("count") if isinstance(communities, dict) else None,
    }


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _columns_sql(schema: pa.Schema, kind: str) -> str:
    types = _SQL_TYPES[kind]
    return ", ".join(f"{_quote(f.name)} {types[f.type]}" for f in schema)


def _sql_name(kind: pa.DataType) -> str:
    return {pa.string(): "text", pa.int64(): "bigint", pa.float64(): "double",
            pa.bool_(): "boolean", _TIME: "timestamptz"}.get(kind, str(kind))


def _fit(table: pa.Table, existing: dict[str, pa.DataType], name: str) -> pa.Table:
    """``table`` with each column cast to the type it already has in the database."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        want = existing.get(field.name)
        if want is None or want == field.type:
            columns.append(column)
            continue
        if column.null_count == len(column):
            columns.append(pa.nulls(len(column), type=want))
            continue
        try:
            columns.append(column.cast(want))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise OutputError(f"column {field.name!r} of table {name} is {_sql_name(want)} in "
                              f"the database, but this run has {_sql_name(field.type)} there; "
                              "nothing was written: write this run to another database, or "
                              "change or drop that column") from None
    return pa.Table.from_arrays(columns, schema=pa.schema(
        [pa.field(f.name, c.type) for f, c in zip(table.schema, columns)]))


def _statements(tables: dict[str, pa.Table], kind: str,
                existing: dict[str, dict[str, pa.DataType]]) -> list[str]:
    """The DDL and deletes of one write, in order (``?``: the run id)."""
    types = _SQL_TYPES[kind]
    statements = []
    if RUNS not in existing:
        runs = pa.schema(list(_RUN_COLUMNS))
        manifest_type = "JSON" if kind == "duckdb" else "JSONB"
        statements.append(f"CREATE TABLE {_quote(RUNS)} ({_columns_sql(runs, kind)}, "
                          f"{_quote('manifest')} {manifest_type})")
    for name, table in tables.items():
        full = PREFIX + name
        have = existing.get(full)
        if have is None:
            statements.append(f"CREATE TABLE {_quote(full)} "
                              f"({_columns_sql(table.schema, kind)})")
            continue
        statements += [f"ALTER TABLE {_quote(full)} ADD COLUMN {_quote(field.name)} "
                       f"{types[field.type]}" for field in table.schema
                       if field.name not in have]
    # a run id written before is replaced: its rows go first, in every table
    statements += [f"DELETE FROM {_quote(full)} WHERE {_quote('run_id')} = ?"
                   for full in [PREFIX + name for name in TABLES] + [RUNS] if full in existing]
    return statements


def _inserts(tables: dict[str, pa.Table], existing: dict[str, dict[str, pa.DataType]]
             ) -> Iterator[tuple[str, pa.Table]]:
    """(table name, rows) of each table, cast to the types its columns already have."""
    for name, table in tables.items():
        full = PREFIX + name
        yield full, _fit(table, existing.get(full, {}), full)


def _crm_view() -> str:
    """The view of the latest run's customers, with ``crm_tag`` (same SQL for both)."""
    from .export import CRM_TAG_PREFIX

    prefix = CRM_TAG_PREFIX.replace("'", "''")
    c = {name: f"c.{_quote(name)}" for name in ("run_id",) + CRM_COLUMNS}
    latest = (f"SELECT r.{_quote('run_id')} FROM {_quote(RUNS)} r ORDER BY "
              f"r.{_quote('period_end')} DESC NULLS LAST, r.{_quote('written_at')} DESC, "
              f"r.{_quote('run_id')} DESC LIMIT 1")
    columns = [c["run_id"], c["customer_id"], c["segment"],
               f"'{prefix}' || {c['segment']} AS {_quote('crm_tag')}",
               *(c[name] for name in CRM_COLUMNS[2:])]
    return (f"CREATE OR REPLACE VIEW {_quote(CRM_VIEW)} AS SELECT {', '.join(columns)} "
            f"FROM {_quote(PREFIX + 'customers')} c WHERE {c['run_id']} = ({latest})")


# ------------------------------------------------------------------ DuckDB
def _write_duckdb(uri: str, tables: dict[str, pa.Table], run: dict[str, Any],
                  manifest: str) -> None:
    from pathlib import Path

    from .sources import _path_of

    duckdb = _import("duckdb")
    path = _path_of(uri)
    if path is None:
        raise OutputError("--out duckdb:// needs a file: duckdb:///path/results.duckdb")
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder of {path!r}: {exc.strerror}") from None
    con = duckdb.connect(path)
    try:
        con.begin()
        try:
            existing = _existing(con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema()").fetchall())
            for sql in _statements(tables, "duckdb", existing):
                con.execute(sql, [run["run_id"]] if sql.endswith("?") else None)
            row = pa.table({name: pa.array([_instant(run[name]) if kind == _TIME else
                                            run[name]], type=kind)
                            for name, kind in _RUN_COLUMNS})
            row = row.append_column("manifest", pa.array([manifest], type=pa.string()))
            for full, data in [*_inserts(tables, existing), (RUNS, row)]:
                con.register("_influence_rows", data)
                try:
                    con.execute(f"INSERT INTO {_quote(full)} BY NAME SELECT * FROM "
                                "_influence_rows")
                finally:
                    con.unregister("_influence_rows")
            if "customers" in tables:
                con.execute(_crm_view())
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        con.close()


def _instant(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()


def _existing(rows) -> dict[str, dict[str, pa.DataType]]:
    """Tables (of ours) and their columns' Arrow types, from information_schema rows."""
    found: dict[str, dict[str, pa.DataType]] = {}
    for table, column, data_type in rows:
        if not str(table).startswith(PREFIX):
            continue
        found.setdefault(table, {})[column] = _FROM_SQL.get(str(data_type).lower(),
                                                             pa.string())
    return found


# ------------------------------------------------------------------ PostgreSQL
def _write_postgresql(uri: str, tables: dict[str, pa.Table], run: dict[str, Any],
                      manifest: str) -> None:
    _import("postgresql")
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(uri) as conn:  # autocommit off: everything below is one transaction
        try:
            with conn.cursor() as cursor:
                # influence writers one at a time (CREATE TABLE IF NOT EXISTS races otherwise)
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('influence_results'))")
                cursor.fetchall()
                cursor.execute(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema()")
                existing = _existing(cursor.fetchall())
                for sql in _statements(tables, "postgresql", existing):
                    if sql.endswith("?"):
                        cursor.execute(sql[:-1] + "$1", parameters=(run["run_id"],))
                    else:
                        cursor.execute(sql)
                for full, data in _inserts(tables, existing):
                    cursor.adbc_ingest(full, data, mode="append")
                names = [name for name, _ in _RUN_COLUMNS] + ["manifest"]
                casts = {"written_at": "::timestamptz", "period_start": "::timestamptz",
                         "period_end": "::timestamptz", "manifest": "::jsonb"}
                values = ", ".join(f"${i + 1}{casts.get(name, '')}"
                                   for i, name in enumerate(names))
                cursor.execute(f"INSERT INTO {_quote(RUNS)} ({', '.join(map(_quote, names))}) "
                               f"VALUES ({values})",
                               parameters=tuple(run[n] for n in names[:-1]) + (manifest,))
                if "customers" in tables:
                    cursor.execute(_crm_view())
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
