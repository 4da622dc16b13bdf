"""Options shared by the commands, and options bound to config keys.

An option bound to a config key (:func:`config_option`) takes its type and
range from the key's declaration (:mod:`influence.params`), overrides that key
when given, and is named in an error about that key: ``--since someday`` is
``option '--since' must be an ISO 8601 date ...``, the same key in a config
file ``config key 'window.since' must be ...``. So the mapping between options
and config keys lives here, in the option declarations, and nowhere else.

An option that passes a value to an API argument (:func:`argument_option`:
``--horizon`` -> ``backtest(horizon=)``) is bound the same way to the key the
API's errors about that argument carry (``"horizon"``), and
:func:`~influence.cli.app.render_error` names the option in them.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import click

from ..config import parameter
from ..errors import ConfigError
from .app import Settings

__all__ = ["ArgumentOption", "argument_option", "ConfigOption", "config_option", "configured",
           "with_options", "options_given", "traceback_option", "core_input_options",
           "input_options", "privacy_options", "pseudonym_key", "quiet_warnings",
           "events_source", "is_folder", "database_out", "quiet_option", "json_alias"]

_GIVEN = "influence.config_options"


class ArgumentOption(click.Option):
    """A click option whose value goes to an API argument; errors about it name the option.

    Parameters
    ----------
    param_decls : list of str
        As for :class:`click.Option`.
    key : str
        The ``key`` of the API's errors about the argument (``"horizon"``,
        ``"snapshots.window"``).
    """

    def __init__(self, param_decls: list[str], *, key: str, **attrs: Any) -> None:
        super().__init__(param_decls, **attrs)
        self.argument_key = key

    @property
    def display_name(self) -> str:
        """The name an error uses: the first long form (``--horizon``)."""
        return next((o for o in self.opts if o.startswith("--")), self.opts[0])

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        value = super().process_value(ctx, value)
        settings = ctx.find_object(Settings)
        if value is not None and settings is not None:
            settings.options[self.argument_key] = self.display_name
        return value


def argument_option(*param_decls: str, key: str, **attrs: Any):
    """A decorator adding an :class:`ArgumentOption` bound to the API error key ``key``."""
    return click.option(*param_decls, cls=ArgumentOption, key=key, **attrs)


class ConfigOption(click.Option):
    """A click option bound to a config key.

    Parameters
    ----------
    param_decls : list of str
        As for :class:`click.Option`.
    key : str
        The dotted config key (``"communities.seed"``); its declaration gives the
        option's type (``IntRange``, ``FloatRange``, ``Choice``) unless ``type``
        narrows it.
    scope : str, optional
        Which config the option sets when a command builds several (``compare``:
        ``"old"`` and ``"new"``); ``None`` for the command's one config.
    expose_value : bool, default=False
        Also pass the value to the command function.
    """

    def __init__(self, param_decls: list[str], *, key: str, scope: str | None = None,
                 expose_value: bool = False, **attrs: Any) -> None:
        if attrs.get("type") is None:
            attrs["type"] = parameter(key).click_type()
        super().__init__(param_decls, expose_value=expose_value, callback=_remember, **attrs)
        self.config_key = key
        self.scope = scope

    @property
    def display_name(self) -> str:
        """The name an error uses: the first long form (``--since``)."""
        return next((o for o in self.opts if o.startswith("--")), self.opts[0])


def _remember(ctx: click.Context, option: ConfigOption, value: Any) -> Any:
    if value is not None:
        ctx.meta.setdefault(_GIVEN, {})[option] = value
    return value


def config_option(*param_decls: str, key: str, **attrs: Any):
    """A decorator adding a :class:`ConfigOption` bound to ``key``."""
    return click.option(*param_decls, cls=ConfigOption, key=key, **attrs)


def options_given(scope: str | None = None) -> dict[str, tuple[str, Any]]:
    """Config options given on the command line: ``{key: (option name, value)}``."""
    ctx = click.get_current_context()
    given = ctx.meta.get(_GIVEN, {})
    return {option.config_key: (option.display_name, value)
            for option, value in given.items() if option.scope == scope}


def with_options(config, scope: str | None = None,
                 values: dict[str, tuple[str, Any]] | None = None):
    """``config`` with the options of ``scope`` (or ``values``) applied over it.

    An error about a key set here names the option, not the key.
    """
    values = options_given(scope) if values is None else values
    try:
        return config.replace(**{key.replace(".", "__"): value
                                 for key, (_, value) in values.items()})
    except ConfigError as exc:
        if exc.key not in values:
            raise
        raise exc.naming(f"option '{values[exc.key][0]}'") from None


def configured(config_path: str | None, mapping: tuple[str, ...] = ()):
    """The command's config: ``--config``, then ``--map``, then its config options."""
    from ..config import load_config

    config = load_config(config_path)
    columns = parse_map(mapping)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    return with_options(config)


def parse_map(values: tuple[str, ...]) -> dict[str, str]:
    """``--map CANONICAL=COLUMN`` values as a mapping (a bad one is a usage error)."""
    mapping = {}
    for item in values:
        canonical, sep, column = item.partition("=")
        if not sep or not canonical.strip() or not column.strip():
            raise click.BadParameter(f"expected CANONICAL=COLUMN, got {item!r}",
                                     param_hint="--map")
        mapping[canonical.strip()] = column.strip()
    return mapping


def _enable_traceback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    settings = ctx.find_object(Settings)
    if value and settings is not None:
        settings.traceback = True
    return value


def traceback_option(func):
    """``--traceback``: show the full traceback of an error (a :class:`Settings` flag)."""
    return click.option("--traceback", is_flag=True, expose_value=False, is_eager=True,
                        callback=_enable_traceback,
                        help="Show the full traceback of an error.")(func)


def _apply(func, options):
    for option in reversed(options):
        func = option(func)
    return func


def core_input_options(func):
    """Input options without the window (commands that set windows their own way)."""
    return _apply(func, [
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="TOML config file (column mapping, event types, window, ...)."),
        click.option("--map", "mapping", multiple=True, metavar="CANONICAL=COLUMN",
                     help="Map an input column to a canonical one, e.g. --map "
                          "source=user_id. Repeatable."),
        click.option("--input-format", type=click.Choice(["csv", "tsv", "parquet", "jsonl"]),
                     help="Input format, if the file extension does not tell."),
        config_option("--timestamp-unit", key="input.timestamp_unit",
                      help="Unit of timestamps written as bare numbers (epoch time): "
                           "seconds (default), ms, us or ns. Overrides [input] "
                           "timestamp_unit."),
        *_SOURCE_OPTIONS,
    ])


# ------------------------------------------------------------------ where EVENTS come from
# (issue 18: databases and standard input; paths, folders and globs are read by the API,
# through influence.sources)
_SOURCE = "influence.source_options"


def _remember_source(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.meta.setdefault(_SOURCE, {})[param.name] = value
    return value


_SOURCE_OPTIONS = [
    click.option("--query", metavar="SQL", expose_value=False, callback=_remember_source,
                 help="With a database URI as EVENTS (duckdb:///f.duckdb, postgresql://"
                      "host/db, sqlite:///f.db): the SQL whose result are the events."),
    click.option("--table", metavar="NAME", expose_value=False, callback=_remember_source,
                 help="With a database URI as EVENTS: read this table or view whole."),
]


def events_source(value: str, input_format: str | None, label: str = "EVENTS") -> Any:
    """EVENTS as the API takes it.

    A database URI with ``--query``/``--table`` is read now, once, as is ``-``
    (standard input, with ``--input-format``): a
    :class:`~influence.sources.LoadedTable` that ``--snapshots``, ``compare`` and
    ``backtest`` read again for free. Paths, folders and globs are left to the API.
    Usage errors never show a URI's credentials.
    """
    from ..sources import STDIN, Query, is_database_uri, load, redact_uri

    given = click.get_current_context().meta.get(_SOURCE, {})
    query, table = given.get("query"), given.get("table")
    if query is not None and table is not None:
        raise click.UsageError("--query and --table exclude each other; give one")
    if is_database_uri(value):
        if query is None and table is None:
            raise click.UsageError(f"{label} {redact_uri(value)} is a database: say what to "
                                   "read with --query SQL or --table NAME")
        return load(Query(value, sql=query, table=table))
    if query is not None or table is not None:
        option = "--query" if query is not None else "--table"
        raise click.UsageError(f"{option} reads from a database, but {label} is not a "
                               "database URI (duckdb:///FILE, postgresql://HOST/DB, "
                               "sqlite:///FILE)")
    if value == STDIN:
        if input_format is None:
            raise click.UsageError(f"{label} '-' (standard input) needs its format: add "
                                   "--input-format csv|tsv|parquet|jsonl")
        return load(value, input_format=input_format)
    return value


def is_folder(value: Any) -> bool:
    """Whether EVENTS_OR_DIR names a folder (not a database, standard input, a table)."""
    import os
    from pathlib import Path

    return isinstance(value, (str, os.PathLike)) and Path(value).is_dir()


def database_out(out: str, run_id: str | None, *, files: tuple[str, ...] = ()) -> bool:
    """Whether ``--out`` names a database; a usage error for what only a folder takes.

    ``files`` are the options given that write files into a results folder
    (``--format``, ``--report``, ``--graph-format``).
    """
    from ..sinks import WRITABLE
    from ..sources import database_kind, is_database_uri, redact_uri

    if not is_database_uri(out):
        if run_id is not None:
            raise click.UsageError("--run-id needs --out duckdb:///FILE or "
                                   "postgresql://HOST/DB (a folder holds one run)")
        return False
    if database_kind(out) not in WRITABLE:
        raise click.UsageError(f"--out {redact_uri(out)}: results are written to "
                               "duckdb:///FILE or postgresql://HOST/DB")
    if files:
        raise click.UsageError(f"{', '.join(files)} write files into a results folder; "
                               "with --out DATABASE every table goes into the database "
                               "(run 'influence analyze' again with --out DIR for files)")
    return True


def input_options(func):
    """Options shared by every command that reads events: the core ones and the window."""
    func = config_option("--until", key="window.until", metavar="DATE",
                         help="Keep events on or before DATE (ISO).")(func)
    func = config_option("--since", key="window.since", metavar="DATE",
                         help="Keep events on or after DATE (ISO).")(func)
    return core_input_options(func)


def privacy_options(func):
    """--pseudonymize and --key-file."""
    return _apply(func, [
        click.option("--pseudonymize", is_flag=True,
                     help="Replace customer ids with keyed hashes (HMAC-SHA256) in every "
                          "output; needs --key-file or $INFLUENCE_PSEUDONYM_KEY."),
        click.option("--key-file", type=click.Path(dir_okay=False),
                     help="File holding the secret pseudonymisation key, at least 16 bytes "
                          "(else $INFLUENCE_PSEUDONYM_KEY); only with --pseudonymize. Never "
                          "written to any output."),
    ])


def pseudonym_key(pseudonymize: bool, key_file: str | None) -> bytes | None:
    """The key when --pseudonymize is on; --key-file alone is a usage error (exit 2): it
    would otherwise write raw ids where the user expects pseudonyms."""
    from ..export import load_pseudonym_key

    if key_file is not None and not pseudonymize:
        raise click.UsageError("--key-file needs --pseudonymize (without it ids are written "
                               "as they are); add --pseudonymize or drop --key-file")
    return load_pseudonym_key(key_file) if pseudonymize else None


def quiet_warnings(func):
    """With ``--quiet``, Python warnings (numpy, matplotlib, ...) stay off stderr too."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            if kwargs.get("quiet"):
                warnings.simplefilter("ignore")
            return func(*args, **kwargs)

    return wrapper


def quiet_option(func):
    """``--quiet``/``-q``: no progress and no warnings on stderr."""
    return click.option("--quiet", "-q", is_flag=True,
                        help="No progress and no warnings on stderr.")(func)


def json_alias(func):
    """The old ``--json`` flag, kept working as ``--format json`` (hidden from
    ``--help``, deprecated in docs/cli.md); with another ``--format`` it is a
    usage error."""
    @functools.wraps(func)
    def wrapper(*args, as_json=False, **kwargs):
        if as_json:
            ctx = click.get_current_context()
            source = ctx.get_parameter_source("fmt")
            if source is click.core.ParameterSource.COMMANDLINE and kwargs["fmt"] != "json":
                raise click.UsageError(f"--json is --format json; it cannot be combined "
                                       f"with --format {kwargs['fmt']}")
            kwargs["fmt"] = "json"
        return func(*args, **kwargs)

    return click.option("--json", "as_json", is_flag=True, hidden=True,
                        help="Deprecated: use --format json.")(wrapper)
