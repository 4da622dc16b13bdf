"""Where events come from: any input, read into one table, with a record of its origin.

:func:`open_table` resolves what ``EVENTS`` (the command line's argument, the API's
``events=``) names, and reads it into one Arrow table (a pandas DataFrame for pandas
input and for the few inputs that only pandas can read), together with an *origin*
record that the manifest keeps as ``input``. Everything then goes through the same
column mapping (:func:`read_events`), validation and accounting
(:func:`influence.validation.clean_events`), whatever the source.

==========================================  =======================================
``EVENTS``                                  read by
==========================================  =======================================
a CSV, TSV, Parquet or JSON Lines file      pyarrow (``.gz`` for CSV/TSV/JSON Lines)
a folder of part files (Spark, Hive)        each part as a file; ``k=v`` folders
                                            become columns; ``.``/``_`` names skipped
a glob: ``'events/2026-*.parquet'``         the same, for the files it matches
``-``                                       standard input, with ``input_format``
                                            (gzip recognised by its magic bytes)
an object with ``__arrow_c_stream__``       ``pyarrow.table(obj)``: polars, DuckDB
                                            relations, pyarrow tables and readers,
                                            ADBC results; no copy through pandas
:class:`Query` (``--query``/``--table``)    DuckDB (``duckdb://``), the ADBC
                                            PostgreSQL driver (``postgresql://``),
                                            sqlite3 (``sqlite://``)
a pandas DataFrame                          as it is
==========================================  =======================================

Nested records (JSON objects, Parquet/Arrow structs, DuckDB ``STRUCT``) are kept and
also flattened: each field is a column named by its dotted path, so
``--map target=properties.recipient_id`` maps it. Credentials in a database URI
never leave this module: the origin, every error message and ``repr`` carry the
URI without them (:func:`redact_uri`). See ``docs/sources.md``.
"""

from __future__ import annotations

import glob as globbing
import hashlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConfigError, InputError, InputTypeError
from .io import (
    NUMERIC_COLUMNS,
    _apply_mapping,
    _check_unique_columns,
    _id_text,
    _read_file,
    _to_pandas,
    choose_columns,
    detect_format,
    parse_buffer,
    text_cells,
)
from .schema import BAD_ID, CUSTOMER_ID, EVENT_COLUMNS, REQUIRED_COLUMNS, SOURCE, TARGET

__all__ = ["Query", "LoadedTable", "open_table", "load", "to_frame", "flatten",
           "read_table", "read_events", "read_customers",
           "redact_uri", "scrub", "quote_name", "is_database_uri", "database_kind", "STDIN",
           "SCHEMES", "EXTRAS"]

logger = logging.getLogger(__name__)

#: The name of standard input as ``EVENTS``.
STDIN = "-"
#: Database URI schemes and the engine that reads each.
SCHEMES = {"duckdb": "duckdb", "postgresql": "postgresql", "postgres": "postgresql",
           "sqlite": "sqlite"}
#: Extras to install for each engine (sqlite3 is in the standard library).
EXTRAS = {"duckdb": ("duckdb", "duckdb"), "postgresql": ("adbc_driver_postgresql", "postgresql")}
# URI query parameters kept in the origin record (the others may hold secrets)
_SAFE_PARAMS = frozenset({"sslmode", "connect_timeout", "application_name",
                          "target_session_attrs", "options", "read_only"})
# names skipped in folders of parts, as pyarrow.dataset and Spark skip them
_HIDDEN = (".", "_")


# ------------------------------------------------------------------ URIs and credentials
def is_database_uri(value: Any) -> bool:
    """Whether ``value`` is a text naming a database: ``duckdb://``, ``postgresql://``,
    ``postgres://`` or ``sqlite://``."""
    if not isinstance(value, str) or "://" not in value:
        return False
    return value.split("://", 1)[0].lower() in SCHEMES


def database_kind(uri: str) -> str:
    """``"duckdb"``, ``"postgresql"`` or ``"sqlite"``: the engine of a database URI."""
    return SCHEMES[uri.split("://", 1)[0].lower()]


def redact_uri(uri: str) -> str:
    """The URI without credentials: no user name or password, and of its query
    parameters only those that cannot hold a secret (``sslmode``, ``connect_timeout``,
    ``application_name``, ``target_session_attrs``, ``options``, ``read_only``).

    Examples
    --------
    >>> redact_uri("postgresql://ann:s3cret@db.example.com:5432/crm?sslmode=require&password=x")
    'postgresql://db.example.com:5432/crm?sslmode=require'
    >>> redact_uri("duckdb:///data/events.duckdb")
    'duckdb:///data/events.duckdb'
    """
    scheme, _, rest = uri.partition("://")
    parts = urlsplit("x://" + rest)
    netloc = parts.netloc.rpartition("@")[2]
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
              if k.lower() in _SAFE_PARAMS]
    query = f"?{urlencode(params)}" if params else ""
    return f"{scheme}://{netloc}{parts.path}{query}"


def _secrets(uri: str) -> list[str]:
    """The parts of ``uri`` that must not be shown: user info and the values of
    query parameters that :func:`redact_uri` drops (raw and percent-decoded)."""
    _, _, rest = uri.partition("://")
    parts = urlsplit("x://" + rest)
    found = []
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        found.append(userinfo)
        password = userinfo.partition(":")[2]
        if password:
            found += [password, unquote(password)]
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() not in _SAFE_PARAMS and value:
            found += [value, unquote(value)]
    # longest first, so that a secret inside another is not left half shown
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, uri: str) -> str:
    """``text`` (an error message of a database driver) with ``uri`` shown without
    credentials and every secret of it replaced by ``***``."""
    text = text.replace(uri, redact_uri(uri))
    for secret in _secrets(uri):
        text = text.replace(secret, "***")
    return text


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _path_of(uri: str) -> str | None:
    """The file of a ``duckdb://`` or ``sqlite://`` URI, as SQLAlchemy reads them:
    ``duckdb:///rel/x.duckdb`` is relative, ``duckdb:////abs/x.duckdb`` absolute,
    ``duckdb://`` and ``duckdb:///:memory:`` in memory (None)."""
    rest = uri.split("://", 1)[1]
    path = unquote(rest.split("?", 1)[0])
    if path.startswith("/"):
        path = path[1:]
    return None if path in ("", ":memory:") else path


def _import(kind: str):
    """The driver module of ``kind``; a missing one is a config error naming the extra."""
    module, extra = EXTRAS[kind]
    try:
        return __import__(module)
    except ImportError:
        raise ConfigError(f"reading or writing {kind}:// needs the {module} package, not "
                          f"installed; install it with: pip install 'influence[{extra}]'"
                          ) from None


def quote_name(name: str) -> str:
    """A table name (``events`` or ``schema.events``) quoted for SQL."""
    parts = name.split(".")
    if not all(part.strip() for part in parts):
        raise InputError(f"--table {name!r} is not a table name; expected NAME or "
                         "SCHEMA.NAME")
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


# ------------------------------------------------------------------ databases
@dataclass(frozen=True, repr=False)
class Query:
    """Events (or customers) in a database: a URI and a SQL query, or a table.

    The query runs read-only: DuckDB and SQLite files are opened read-only and a
    PostgreSQL query runs in a read-only transaction that is rolled back, so a
    ``--query`` cannot change the database.

    Parameters
    ----------
    uri : str
        ``duckdb:///path/events.duckdb`` (DuckDB; ``duckdb://`` alone is an
        in-memory database, for queries over files such as
        ``SELECT * FROM 'events/*.parquet'``), ``postgresql://user@host:5432/db``
        (the ADBC PostgreSQL driver, libpq URI syntax: the password may come from
        ``PGPASSWORD`` or ``~/.pgpass`` rather than the URI) or
        ``sqlite:///path/events.db``. Three slashes and a path are relative to the
        current folder, four an absolute path (SQLAlchemy's convention).
    sql : str, optional
        A query whose result is the table, e.g. ``SELECT user_id AS source, ...``.
    table : str, optional
        A table or view to read whole (``events`` or ``schema.events``); exactly
        one of ``sql`` and ``table``.

    Examples
    --------
    >>> import influence
    >>> events = influence.Query("duckdb:///warehouse.duckdb",
    ...                          "SELECT * FROM events WHERE ts >= '2026-01-01'")
    >>> result = influence.analyze(events)                      # doctest: +SKIP
    """

    uri: str
    sql: str | None = None
    table: str | None = None

    def __post_init__(self) -> None:
        if not is_database_uri(self.uri):
            raise InputError(f"{_shown(self.uri)!r} is not a database URI; expected "
                             "duckdb://, postgresql:// or sqlite://")
        if (self.sql is None) == (self.table is None):
            raise InputError(f"reading {redact_uri(self.uri)} needs a query or a table: "
                             "exactly one of --query SQL and --table NAME")
        if self.sql is not None and not self.sql.strip():
            raise InputError("--query is empty; give a SELECT statement")
        if self.table is not None:
            quote_name(self.table)

    @property
    def kind(self) -> str:
        """The engine: ``"duckdb"``, ``"postgresql"`` or ``"sqlite"``."""
        return database_kind(self.uri)

    @property
    def statement(self) -> str:
        """The SQL run: the query, or ``SELECT * FROM "table"``."""
        if self.sql is not None:
            return self.sql
        return f"SELECT * FROM {quote_name(self.table or '')}"  # __post_init__: one of them

    def __repr__(self) -> str:
        what = f"sql={self.sql!r}" if self.sql is not None else f"table={self.table!r}"
        return f"Query({redact_uri(self.uri)!r}, {what})"

    __str__ = __repr__

    def origin(self) -> dict[str, Any]:
        """Where the rows came from, for the manifest (the URI without credentials)."""
        shown = redact_uri(self.uri)
        origin = {"path": shown, "format": self.kind, "sha256": None, "kind": "database",
                  "uri": shown}
        if self.sql is not None:
            origin["query"] = self.sql
        else:
            origin["table"] = self.table
        return origin

    def read(self, *, what: str = "events") -> pa.Table | pd.DataFrame:
        """Run the query. Returns an Arrow table (DuckDB, PostgreSQL) or a DataFrame
        of the values as SQLite stores them.

        Raises
        ------
        InputError
            The database cannot be reached or opened, the query fails or returns
            no table; the message shows the URI without credentials.
        ConfigError
            The driver of this kind of database is not installed (names the extra).
        """
        reader = {"duckdb": _read_duckdb, "postgresql": _read_postgresql,
                  "sqlite": _read_sqlite}[self.kind]
        try:
            return reader(self)
        except (InputError, ConfigError):
            raise
        except Exception as exc:  # the drivers' own error classes, whatever they are
            if not _is_driver_error(exc):
                raise
            raise InputError(f"cannot read {what} from {redact_uri(self.uri)}: "
                             f"{scrub(_first_line(exc), self.uri)}") from None


def _shown(text: str) -> str:
    return redact_uri(text) if "://" in text else text


def _is_driver_error(exc: BaseException) -> bool:
    """Errors of DuckDB, ADBC and sqlite3 (and the OS), not bugs of ours."""
    import sqlite3

    module = type(exc).__module__ or ""
    return (isinstance(exc, (sqlite3.Error, OSError, pa.ArrowException))
            or module.split(".")[0] in ("duckdb", "_duckdb", "adbc_driver_manager",
                                        "adbc_driver_postgresql"))


def _database_file(query: Query) -> str | None:
    path = _path_of(query.uri)
    if path is not None and not Path(path).is_file():
        raise InputError(f"database file {path!r} ({redact_uri(query.uri)}) does not exist; "
                         f"{query.kind}:///relative/path or {query.kind}:////absolute/path")
    return path


def _read_duckdb(query: Query) -> pa.Table:
    duckdb = _import("duckdb")
    path = _database_file(query)
    con = duckdb.connect(path if path is not None else ":memory:", read_only=path is not None)
    try:
        relation = con.sql(query.statement)
        if relation is None:
            raise InputError(f"--query returned no table ({redact_uri(query.uri)}); give a "
                             "SELECT statement")
        return pa.table(relation)
    finally:
        con.close()


def _read_postgresql(query: Query) -> pa.Table:
    _import("postgresql")
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(query.uri) as conn:  # autocommit off: one transaction
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(query.statement)
            if cursor.description is None:
                raise InputError(f"--query returned no table ({redact_uri(query.uri)}); "
                                 "give a SELECT statement")
            table = cursor.fetch_arrow_table()
        conn.rollback()
    return table


def _read_sqlite(query: Query) -> pd.DataFrame:
    """SQLite through the standard library: values as SQLite stores them (a column
    may mix kinds), so they arrive as Python objects and become text as a pandas
    frame's do."""
    import sqlite3
    from urllib.parse import quote

    path = _database_file(query)
    target = f"file:{quote(path)}?mode=ro" if path is not None else ":memory:"
    con = sqlite3.connect(target, uri=path is not None)
    try:
        cursor = con.execute(query.statement)
        if cursor.description is None:
            raise InputError(f"--query returned no table ({redact_uri(query.uri)}); give a "
                             "SELECT statement")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    columns = {i: pd.array([row[i] for row in rows], dtype=object) for i in range(len(names))}
    frame = pd.DataFrame(columns)
    frame.columns = names
    return frame


# ------------------------------------------------------------------ tables already read
@dataclass(frozen=True, repr=False)
class LoadedTable:
    """A table read once (:func:`load`), with its origin: read again for free.

    The command line loads standard input and database queries this way, so that
    ``--snapshots``, ``compare`` and ``backtest``, which read their events more than
    once, run the query (or read standard input) once.
    """

    table: pa.Table | pd.DataFrame
    origin: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"LoadedTable({self.origin.get('path')!r}, {self.table.shape[0]} rows)"

    def __arrow_c_stream__(self, requested_schema=None):
        table = self.table if isinstance(self.table, pa.Table) else pa.table(self.table)
        return table.__arrow_c_stream__(requested_schema)


def load(source: Any, *, input_format: str | None = None, what: str = "events") -> LoadedTable:
    """Read ``source`` now (see :func:`open_table`) into a :class:`LoadedTable`."""
    if isinstance(source, LoadedTable):
        return source
    table, origin = open_table(source, input_format=input_format, what=what)
    return LoadedTable(table, origin)


# ------------------------------------------------------------------ any source
def open_table(source: Any, *, input_format: str | None = None,
               what: str = "events") -> tuple[pa.Table | pd.DataFrame, dict[str, Any]]:
    """Read whatever ``source`` names into one table, and say where it came from.

    Parameters
    ----------
    source : path, str, Query, LoadedTable, Arrow-compatible object or DataFrame
        A file (CSV, TSV, Parquet, JSON Lines: by extension or ``input_format``;
        ``.gz`` compressed text formats), a folder of part files, a glob pattern,
        ``"-"`` (standard input; needs ``input_format``), a :class:`Query`, any
        object with ``__arrow_c_stream__`` or ``__arrow_c_array__`` (polars and
        DuckDB relations, pyarrow tables, record batches and readers, ADBC
        results), or a pandas DataFrame (returned as it is).
    input_format : {"csv", "tsv", "parquet", "jsonl"}, optional
        The format of a file, of every part of a folder or glob, of standard input.
    what : str, default="events"
        What is read, for messages (``"events"``, ``"customers"``).

    Returns
    -------
    table : pyarrow.Table or pandas.DataFrame
        Columns as found; struct columns also flattened into dotted names
        (:func:`flatten`). A DataFrame for pandas input, SQLite and JSON Lines whose
        fields mix kinds of values.
    origin : dict
        For the manifest's ``input``: ``path``, ``format``, ``sha256`` (of the bytes
        parsed; for folders and globs, of the list of parts and their hashes) and,
        beyond a single file, ``kind`` (``folder``, ``glob``, ``stdin``, ``arrow``,
        ``database``) with ``parts``, ``uri`` (without credentials), ``query`` or
        ``table`` as they apply.

    Raises
    ------
    InputError
        Missing, empty or unreadable input; a database URI without a query.
    InputTypeError
        ``source`` is none of the above.
    """
    if isinstance(source, pd.DataFrame):
        return source, {"path": None, "format": "dataframe", "sha256": None}
    if isinstance(source, LoadedTable):
        return source.table, dict(source.origin)
    if isinstance(source, Query):
        table = source.read(what=what)
        return (flatten(table) if isinstance(table, pa.Table) else table), source.origin()
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        if text == STDIN:
            return _read_stdin(input_format, what)
        if is_database_uri(text):
            raise InputError(f"{what} {redact_uri(text)} is a database: say what to read "
                             "with --query SQL or --table NAME (in Python: "
                             "influence.Query(uri, sql) or influence.Query(uri, table=NAME))")
        path = Path(text)
        if path.is_dir():
            return _read_parts(_folder_parts(path, what), text, "folder", input_format, what,
                               root=path)
        if not path.exists() and globbing.has_magic(text):
            return _read_parts(_glob_parts(text, what), text, "glob", input_format, what)
        return _read_path(path, input_format, what)
    if hasattr(source, "__arrow_c_stream__") or hasattr(source, "__arrow_c_array__"):
        try:
            table = pa.table(source)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InputError(f"cannot read {what} from {type(source).__name__} through the "
                             f"Arrow C stream interface: {_first_line(exc)}") from None
        kind = type(source)
        return _tidy(table), {"path": None, "format": "arrow", "sha256": None, "kind": "arrow",
                              "object": f"{kind.__module__}.{kind.__qualname__}"}
    raise InputTypeError(
        f"{what} must be a path, '-', a folder or glob of files, an influence.Query, a "
        f"pandas DataFrame or a table with the Arrow C stream interface (__arrow_c_stream__:"
        f" polars, DuckDB, pyarrow); got {type(source).__name__}")


def _read_path(path: Path, input_format: str | None, what: str
               ) -> tuple[pa.Table | pd.DataFrame, dict[str, Any]]:
    """One file, as :func:`read_table` has always read it."""
    fmt = detect_format(path, input_format)
    if not path.is_file():
        raise InputError(f"{what} file {str(path)!r} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} file {str(path)!r} is empty (0 bytes); "
                         "expected a header row and at least one event")
    table, sha256 = _parse(lambda: _read_file(path, fmt), f"{what} file {str(path)!r}", fmt)
    # the hash of the very bytes parsed (a file that changes meanwhile cannot mislead)
    return table, {"path": str(path), "format": fmt, "sha256": sha256}


def _parse(read, label: str, fmt: str):
    """``read()``, its failures as one line naming ``label``; structs flattened."""
    try:
        result = read()
    except InputError:
        raise
    except (pa.ArrowInvalid, pa.ArrowException, ValueError, UnicodeDecodeError,
            OSError) as exc:
        raise InputError(f"cannot read {label} as {fmt}: {_first_line(exc)}") from None
    if isinstance(result, tuple):
        return _tidy(result[0]), result[1]
    return _tidy(result)


def _read_stdin(input_format: str | None, what: str
                ) -> tuple[pa.Table | pd.DataFrame, dict[str, Any]]:
    if input_format is None:
        raise InputError(f"reading {what} from standard input ('-') needs its format: add "
                         "--input-format csv|tsv|parquet|jsonl")
    fmt = detect_format(Path(STDIN), input_format)
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputError(f"{what} '-' names standard input, but there is none")
    data = stream.read()
    if not data:
        raise InputError(f"standard input is empty; expected {what} as {fmt}")
    sha256 = hashlib.sha256(data).hexdigest()
    codec = "gzip" if data[:2] == b"\x1f\x8b" else None
    table = _parse(lambda: parse_buffer(pa.py_buffer(data), fmt, codec=codec,
                                        name="standard input"), "standard input", fmt)
    origin = {"path": STDIN, "format": fmt, "sha256": sha256, "kind": "stdin"}
    if codec is not None:
        origin["compression"] = codec
    return table, origin


# ------------------------------------------------------------------ folders and globs
def _folder_parts(folder: Path, what: str) -> list[Path]:
    """Every file under ``folder`` (sorted, recursively), less names starting with
    ``.`` or ``_`` (``_SUCCESS``, ``.crc`` files, ``_temporary/``)."""
    parts = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_HIDDEN))
        parts += [Path(root) / name for name in sorted(files) if not name.startswith(_HIDDEN)]
    if not parts:
        raise InputError(f"{what} folder {str(folder)!r} holds no files (names starting "
                         "with . or _ are skipped); expected part files such as "
                         "part-0.parquet")
    return parts


def _glob_parts(pattern: str, what: str) -> list[Path]:
    found = sorted(Path(p) for p in globbing.glob(pattern, recursive=True))
    parts = [p for p in found if p.is_file() and not p.name.startswith(_HIDDEN)]
    if not parts:
        raise InputError(f"{what} pattern {pattern!r} matches no files; quote it so that the "
                         "shell does not expand it, and check the folder")
    return parts


def _read_parts(parts: list[Path], name: str, kind: str, input_format: str | None, what: str,
                root: Path | None = None) -> tuple[pa.Table | pd.DataFrame, dict[str, Any]]:
    """Every part read as a file is read, then stacked (columns matched by name)."""
    formats = {}
    for part in parts:
        try:
            formats[part] = detect_format(part, input_format)
        except InputError:
            raise InputError(f"cannot tell the format of {str(part)!r} in {kind} {name!r} from "
                             "its extension; name it with --input-format csv|tsv|parquet|"
                             "jsonl, or move the file out") from None
    found = sorted(set(formats.values()))
    if len(found) > 1:
        raise InputError(f"{kind} {name!r} mixes formats ({', '.join(found)}); its parts must "
                         "all be of one format")
    fmt = found[0]
    tables, listing, size = [], [], 0
    for part in parts:
        size += part.stat().st_size
        relative = part.relative_to(root).as_posix() if root is not None else part.as_posix()
        if part.stat().st_size == 0:  # Spark writes empty parts for empty partitions
            listing.append(f"{relative}\tempty\n")
            continue
        table, sha256 = _parse(lambda part=part: _read_file(part, fmt),
                               f"{what} part {str(part)!r}", fmt)
        listing.append(f"{relative}\t{sha256}\n")
        if root is not None:
            table = _partition_columns(table, part.relative_to(root))
        tables.append(table)
    if not tables:
        raise InputError(f"every part of {kind} {name!r} is empty (0 bytes)")
    table = _stack(tables, f"{kind} {name!r}")
    origin = {"path": name, "format": fmt,
              "sha256": hashlib.sha256("".join(listing).encode()).hexdigest(),
              "kind": kind, "parts": len(parts), "bytes": size}
    return table, origin


def _partition_columns(table, relative: Path):
    """Hive-style ``key=value`` folders above a part, as text columns (a column of
    that name in the data wins)."""
    names = table.column_names if isinstance(table, pa.Table) else list(table.columns)
    for folder in relative.parts[:-1]:
        key, sep, text = folder.partition("=")
        if not sep or not key or key in names:
            continue
        value: str | None = unquote(text)
        if value == "__HIVE_DEFAULT_PARTITION__":
            value = None
        n = len(table)
        if isinstance(table, pa.Table):
            table = table.append_column(key, pa.array([value] * n, type=pa.string()))
        else:
            table = table.assign(**{key: pd.Series([value] * n, dtype="str")})
        names.append(key)
    return table


def _stack(tables: list, label: str):
    if len(tables) == 1:
        return tables[0]
    if any(isinstance(t, pd.DataFrame) for t in tables):
        return pd.concat([to_frame(t) if isinstance(t, pa.Table) else t for t in tables],
                         ignore_index=True)
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"the parts of {label} do not fit together: "
                         f"{_first_line(exc)}; every part needs the same columns with the "
                         "same kinds of values") from None


# ------------------------------------------------------------------ nested records
def flatten(table: pa.Table) -> pa.Table:
    """Keep every column, and add each field of a struct column as a column named
    by its dotted path (``properties`` -> ``properties.recipient_id``), at any depth.

    A field is missing where its record is missing.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"a": [{"b": 1, "c": {"d": "x"}}]})
    >>> flatten(t).column_names
    ['a', 'a.b', 'a.c', 'a.c.d']
    """
    if not any(pa.types.is_struct(t) for t in table.schema.types):
        return table
    names, columns = [], []

    def add(name: str, column: pa.ChunkedArray) -> None:
        names.append(name)
        columns.append(column)
        if pa.types.is_struct(column.type):
            for child, value in zip(column.type, column.flatten()):
                add(f"{name}.{child.name}", value)

    for name, column in zip(table.column_names, table.columns):
        add(name, column)
    return pa.Table.from_arrays(columns, names=names)


def _flatten_records(frame: pd.DataFrame) -> pd.DataFrame:
    """The pandas counterpart of :func:`flatten` for JSON objects read by pandas:
    dict cells of an object column also become dotted columns."""
    added = {}
    pending = [(str(name), frame.iloc[:, i]) for i, name in enumerate(frame.columns)
               if frame.iloc[:, i].dtype == object]
    while pending:
        name, column = pending.pop(0)
        cells = column.to_numpy()
        keys: dict[str, None] = {}
        for cell in cells:
            if isinstance(cell, dict):
                keys.update(dict.fromkeys(map(str, cell)))
        for key in keys:
            child = pd.Series([cell.get(key) if isinstance(cell, dict) else None
                               for cell in cells], index=column.index, dtype=object)
            added[f"{name}.{key}"] = child
            pending.append((f"{name}.{key}", child))
    if not added:
        return frame
    return pd.concat([frame, pd.DataFrame(added, index=frame.index)], axis=1)


def _tidy(table):
    """Struct columns flattened (both kinds of table)."""
    if isinstance(table, pa.Table):
        return flatten(table)
    return _flatten_records(table)


# ------------------------------------------------------------------ Arrow -> pandas
def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a DataFrame, text kept in Arrow memory (no copy).

    Arrow types pandas would turn into Python objects one by one are made text in
    Arrow first: timestamps as ISO 8601 (``2026-01-31T09:30:00Z`` in UTC for zoned
    ones, wall time for naive ones, which validation takes as UTC), dates as
    ``2026-01-31``; ``string_view`` (polars) as text. Integer columns with missing
    values become pandas' nullable integers (not float64, which rounds ids above 2**53).
    """
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_timestamp(kind):
            if kind.tz is not None:
                column = pc.strftime(column.cast(pa.timestamp(kind.unit, tz="UTC")),
                                     format="%Y-%m-%dT%H:%M:%SZ")
            else:
                column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        elif pa.types.is_date(kind):
            column = pc.strftime(column, format="%Y-%m-%d")
        elif pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
            column = column.cast(pa.large_string() if pa.types.is_string_view(kind)
                                 else pa.large_binary())
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    if not any(pa.types.is_integer(c.type) and c.null_count for c in table.columns):
        return _to_pandas(table)
    # integers with missing values as pandas' nullable integers, not float64: a 64-bit
    # id such as 1234567890123456781 keeps its last digits
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    mapping = {pa.string(): text, pa.large_string(): text,
               **{getattr(pa, name)(): pd.api.types.pandas_dtype(name.capitalize())
                  for name in ("int8", "int16", "int32", "int64")},
               **{getattr(pa, name)(): pd.api.types.pandas_dtype("UInt" + name[4:])
                  for name in ("uint8", "uint16", "uint32", "uint64")}}
    return table.to_pandas(types_mapper=mapping.get, ignore_metadata=True)


# ------------------------------------------------------------------ read and map
def read_table(source, *, input_format: str | None = None,
               what: str = "events", as_text: bool = True) -> tuple[pd.DataFrame, dict]:
    """Read a table from anywhere :func:`open_table` reads (a CSV,
    TSV, Parquet or JSON Lines file, a folder or glob of parts, ``-`` for standard
    input, an Arrow table or stream, a :class:`Query`, a
    DataFrame) as text columns.

    ``as_text=False`` leaves the columns as read (the caller converts what it
    keeps with :func:`as_text`).

    Returns
    -------
    table : pandas.DataFrame
        The columns as found, every value text (``str`` dtype) or missing.
    info : dict
        ``path``, ``format`` and ``sha256`` of the input, and where it came
        from (:func:`open_table`), for the manifest.

    Raises
    ------
    InputError
        If the input is missing, unreadable, empty or not in the stated format.
    """
    table, info = open_table(source, input_format=input_format, what=what)
    table = to_frame(table) if isinstance(table, pa.Table) else table.copy()
    if table.shape[1] == 0:
        raise InputError(f"{what} input has no columns")
    table.columns = [str(c).strip() for c in table.columns]
    if as_text:
        _check_unique_columns(table, what)
        for column in table.columns:
            table[column] = text_cells(table[column])[0] if column else table[column]
    return table, info


def read_events(source, *, columns: Mapping[str, str] | None = None,
                input_format: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read an events table and rename its columns to the canonical ones.

    Parameters
    ----------
    source : path, str, Arrow-compatible table, Query or pandas.DataFrame
        A CSV, TSV, Parquet or JSON Lines file (format by extension or
        ``input_format``; ``.gz`` compressed CSV/TSV/JSON Lines too), a folder
        or glob of such parts, ``"-"`` for standard input, any object with
        ``__arrow_c_stream__`` (pyarrow, polars, DuckDB relations, ADBC
        results), a :class:`Query` (a database), or a
        DataFrame. See :func:`open_table`.
    columns : dict of str to str, optional
        Canonical name -> column name in the input, e.g. ``{"source": "user_id"}``;
        a field of a nested record by its dotted name
        (``{"target": "properties.recipient_id"}``).
    input_format : {"csv", "tsv", "parquet", "jsonl"}, optional

    Returns
    -------
    events : pandas.DataFrame
        Canonical columns present in the input (``source, target, type`` always,
        then any of ``timestamp, converted, value, weight``), as text, except
        ``value`` and ``weight`` columns that are numeric in the file; other
        columns are dropped.
    info : dict
        ``path``, ``format``, ``sha256`` and where the events came from
        (:func:`open_table`).

    Raises
    ------
    InputError
        Unreadable or empty input, a missing required column, or a mapping that
        names a column the input does not have.
    """
    table, info = open_table(source, input_format=input_format, what="events")
    if isinstance(table, pa.Table):
        # only the columns used leave Arrow (text stays Arrow-backed: no copy)
        names = [str(c).strip() for c in table.column_names]
        if not names:
            raise InputError("events input has no columns")
        chosen = choose_columns(names, columns or {}, "events", REQUIRED_COLUMNS,
                                EVENT_COLUMNS)
        events = to_frame(table.select(list(chosen.values())))
        events.columns = list(chosen)
        marks = (table.column(names.index(BAD_ID)).fill_null(False).to_numpy(
            zero_copy_only=False) if BAD_ID in names else None)
    else:
        table = table.copy()
        if table.shape[1] == 0:
            raise InputError("events input has no columns")
        table.columns = [str(c).strip() for c in table.columns]
        events = _apply_mapping(table, columns or {}, "events", REQUIRED_COLUMNS,
                                EVENT_COLUMNS)
        marks = table[BAD_ID] if BAD_ID in table.columns else None
    bad_id = np.zeros(len(events), dtype=bool)
    if marks is not None:  # events read before (compare reads a file once)
        bad_id |= np.asarray(marks, dtype=bool)
    for column in events.columns:
        if column in NUMERIC_COLUMNS and pd.api.types.is_numeric_dtype(events[column].dtype) \
                and not pd.api.types.is_bool_dtype(events[column].dtype):
            continue  # numbers stay numbers (validation parses text ones)
        if column in (SOURCE, TARGET):
            events[column], not_id = _id_text(events[column])
            if not_id is not None:
                bad_id |= not_id
        else:
            events[column] = text_cells(events[column])[0]
    if bad_id.any():  # counted as bad_id by validation
        events[BAD_ID] = bad_id
    if len(events) == 0:
        raise InputError("events input has a header but no rows; expected at least one event")
    return events.reset_index(drop=True), info


def read_customers(source: str | Path | pd.DataFrame, *,
                   input_format: str | None = None) -> pd.DataFrame:
    """Read the optional customers table: ``customer_id`` plus any attributes.

    Returns
    -------
    customers : pandas.DataFrame
        One row per distinct ``customer_id`` (text, surrounding whitespace
        stripped, first occurrence kept),
        attribute columns as text, in input order.
    """
    table, _ = read_table(source, input_format=input_format, what="customers", as_text=False)
    _check_unique_columns(table, "customers")
    if CUSTOMER_ID not in table.columns:
        raise InputError(f"customers table is missing column {CUSTOMER_ID!r}; "
                         f"found {list(table.columns)}. Rename the id column to customer_id.")
    ids, not_id = _id_text(table[CUSTOMER_ID])
    if not_id is not None:
        first = int(np.flatnonzero(not_id)[0])
        raise InputError(
            f"customers table column {CUSTOMER_ID!r} holds {int(not_id.sum())} values that "
            f"are no id (row {first + 1}: {table[CUSTOMER_ID].iloc[first]!r}); ids are text "
            "or numbers, not lists, objects or true/false")
    table = table.assign(**{column: text_cells(table[column])[0] for column in table.columns})
    table = table.assign(**{CUSTOMER_ID: ids.str.strip()})
    table = table[table[CUSTOMER_ID].notna() & (table[CUSTOMER_ID] != "")]
    return table.drop_duplicates(subset=CUSTOMER_ID, keep="first").reset_index(drop=True)
