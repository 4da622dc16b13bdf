"""The ``influence`` command line: a thin client of the Python API.

Results go to stdout or files; warnings, progress and errors go to stderr.
Exit codes: 0 success, 1 internal error (a bug), 2 usage error, 3 input data
error, 4 config error, 5 the system stopped the run (out of memory, disk full,
output not writable); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129
hangup, 141 standard output closed. An error is one line,
``influence: error: ...``; add ``--traceback`` to see where it came from.
"""

from __future__ import annotations

import sys

try:  # Ctrl-C while the command line starts: one line, not a traceback
    import contextlib
    import errno
    import functools
    import json
    import logging
    import os
    import signal
    import threading
    import warnings
    from pathlib import Path
    from typing import Any

    import click

    from . import __version__
    from .errors import ConfigError, InfluenceError, InputError, OutputError
except KeyboardInterrupt:  # pragma: no cover - timing
    sys.stderr.write("influence: error: interrupted\n")
    raise SystemExit(130) from None

__all__ = ["cli", "main"]

ISSUES_URL = "https://github.com/influence-dev/influence/issues"
_state = {"traceback": False}


def _fail(message: str) -> None:
    click.echo(f"influence: error: {message}", err=True)


#: Signals that end a command with one line and exit code 128 + the signal number.
_STOP_SIGNALS = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)",
                 "SIGHUP": "hangup: the terminal closed (SIGHUP)"}


class _Stopped(BaseException):
    """Raised by the command line's signal handlers. A BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` stops it: it unwinds
    through every ``finally`` (the worker process is killed, a half-written
    results folder removed) and ends as one line and exit code 128 + signal."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class _StdoutFailed(Exception):
    """Writing the results to standard output failed (closed pipe, full disk)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


@contextlib.contextmanager
def _stop_on_signals():
    """While a command runs: SIGINT, SIGTERM and SIGHUP raise :class:`_Stopped`
    (once; a second signal during the clean-up is ignored). Signals set to be
    ignored (``nohup``, background jobs) stay ignored; off the main thread
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def stop(number, frame):
        if not stopping:
            stopping.append(number)
            raise _Stopped(number)

    previous = {}
    for name in _STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is None or signal.getsignal(number) is signal.SIG_IGN:
            continue
        previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _from_stdout(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by ``click.echo`` writing to standard output."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "echo" and \
                frame.f_globals.get("__name__") == "click.utils":
            return not frame.f_locals.get("err", False)
        tb = tb.tb_next
    return False


@contextlib.contextmanager
def _stdout_checked():
    """Turn a failed write to standard output into :class:`_StdoutFailed` (before
    click, which would end a closed pipe with exit 1)."""
    try:
        yield
    except OSError as exc:
        if not isinstance(exc, InfluenceError) and _from_stdout(exc):
            raise _StdoutFailed(exc) from None
        raise


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that Python's final flush of what
    could not be written raises nothing more at exit."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _Group(click.Group):
    """Maps every failure to one stderr line and its documented exit code."""

    def make_context(self, *args, **kwargs):  # --help, --version
        with _stdout_checked():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):  # the commands
        with _stdout_checked():
            return super().invoke(ctx)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        _state["traceback"] = False
        try:
            with _stop_on_signals():
                rv = super().main(args=args, prog_name=prog_name or "influence",
                                  complete_var=complete_var, standalone_mode=False, **extra)
        except _Stopped as stop:
            name = signal.Signals(stop.number).name
            _fail(_STOP_SIGNALS.get(name, name))
            sys.exit(128 + stop.number)
        except (KeyboardInterrupt, click.Abort):  # Ctrl-C outside our handler
            _fail(_STOP_SIGNALS["SIGINT"])
            sys.exit(128 + signal.SIGINT)
        except _StdoutFailed as exc:
            _silence_stdout()
            if exc.error.errno == errno.EPIPE:  # `| head`: the reader has what it wanted
                sys.exit(128 + signal.SIGPIPE)
            _fail(f"cannot write to standard output: {exc.error.strerror or exc.error}; "
                  "send the results to a file with --out or to a device with free space")
            sys.exit(OutputError.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "influence"
            _fail(f"{exc.format_message()} (see '{where} --help')")
            sys.exit(2)
        except click.ClickException as exc:
            _fail(exc.format_message())
            sys.exit(exc.exit_code)
        except InfluenceError as exc:
            if _state["traceback"]:
                raise
            _fail(str(exc))
            sys.exit(exc.exit_code)
        except Exception as exc:  # a bug: say so, and where to report it
            if _state["traceback"]:
                raise
            _fail(f"internal error ({type(exc).__name__}: {exc}). This is a bug; please "
                  f"report it with the output of --traceback at {ISSUES_URL}")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _traceback_option(func):
    def enable(ctx, param, value):
        if value:
            _state["traceback"] = True
        return value

    return click.option("--traceback", is_flag=True, expose_value=False, is_eager=True,
                        callback=enable, help="Show the full traceback of an error.")(func)


def _parse_map(values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in values:
        canonical, sep, column = item.partition("=")
        if not sep or not canonical.strip() or not column.strip():
            raise click.BadParameter(f"expected CANONICAL=COLUMN, got {item!r}",
                                     param_hint="--map")
        mapping[canonical.strip()] = column.strip()
    return mapping


def _remember(ctx, param, value):
    """Keep an option's value for :func:`_load_config` (options every command shares)."""
    ctx.meta[f"influence.{param.name}"] = value
    return value


def _core_input_options(func):
    """Input options without the window (commands that set windows their own way)."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="TOML config file (column mapping, event types, window, ...)."),
        click.option("--map", "mapping", multiple=True, metavar="CANONICAL=COLUMN",
                     help="Map an input column to a canonical one, e.g. --map "
                          "source=user_id. Repeatable."),
        click.option("--input-format", type=click.Choice(["csv", "tsv", "parquet", "jsonl"]),
                     help="Input format, if the file extension does not tell."),
        click.option("--timestamp-unit", type=click.Choice(["s", "ms", "us", "ns"]),
                     expose_value=False, callback=_remember,
                     help="Unit of timestamps written as bare numbers (epoch time): seconds "
                          "(default), ms, us or ns. Overrides [input] timestamp_unit."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _input_options(func):
    """Options shared by every command that reads events: the core ones and the window."""
    func = click.option("--until", metavar="DATE",
                        help="Keep events on or before DATE (ISO).")(func)
    func = click.option("--since", metavar="DATE", help="Keep events on or after DATE (ISO).")(func)
    return _core_input_options(func)


def _privacy_options(func):
    """--pseudonymize and --key-file."""
    options = [
        click.option("--pseudonymize", is_flag=True,
                     help="Replace customer ids with keyed hashes (HMAC-SHA256) in every "
                          "output; needs --key-file or $INFLUENCE_PSEUDONYM_KEY."),
        click.option("--key-file", type=click.Path(dir_okay=False),
                     help="File holding the secret pseudonymisation key, at least 16 bytes "
                          "(else $INFLUENCE_PSEUDONYM_KEY); only with --pseudonymize. Never "
                          "written to any output."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _pseudonym_key(pseudonymize: bool, key_file: str | None) -> bytes | None:
    """The key when --pseudonymize is on; --key-file alone is a usage error (exit 2): it
    would otherwise write raw ids where the user expects pseudonyms."""
    from .export import load_pseudonym_key

    if key_file is not None and not pseudonymize:
        raise click.UsageError("--key-file needs --pseudonymize (without it ids are written "
                               "as they are); add --pseudonymize or drop --key-file")
    return load_pseudonym_key(key_file) if pseudonymize else None


def _load_config(config_path, mapping, since=None, until=None):
    from .config import load_config

    config = load_config(config_path)
    columns = _parse_map(mapping)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    ctx = click.get_current_context(silent=True)
    unit = None if ctx is None else ctx.meta.get("influence.timestamp_unit")
    config = config.replace(input__timestamp_unit=unit)
    try:
        return config.replace(window__since=since, window__until=until)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config key 'window.", "option '--")) from None


def _quiet_warnings(func):
    """With ``--quiet``, Python warnings (numpy, matplotlib, ...) stay off stderr too."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            if kwargs.get("quiet"):
                warnings.simplefilter("ignore")
            return func(*args, **kwargs)

    return wrapper


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("influence: warning: %(message)s"))
    root = logging.getLogger("influence")
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)
    root.propagate = False


class _RichReporter:
    """A rich progress display of the stages on stderr: a spinner on the running stage,
    a tick and its time on each finished one. Used only when stderr is a terminal."""

    def __init__(self, console=None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]\u2713[/green]"),
            TextColumn("{task.description:<12}"),
            TextColumn("{task.fields[seconds]}", style="dim"),
            console=self.console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.started = False

    def start(self, stage: str) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        self.tasks[stage] = self.progress.add_task(stage, total=1, seconds="")

    def done(self, stage: str, seconds: float) -> None:
        task = self.tasks.get(stage)
        if task is not None:
            self.progress.update(task, completed=1, seconds=f"{seconds:8.2f} s")

    def close(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False


def _reporter(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    return _RichReporter()


class _Quiet:
    """The reporter when progress is off: does nothing."""

    def start(self, stage: str) -> None:
        pass

    def done(self, stage: str, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="influence",
                      message="%(prog)s %(version)s")
def cli():
    """Turn customer interaction logs into an influence graph, and segment customers by
    influence, activity and community.

    \b
    Quick start:
      influence generate --customers 2000 --out events.csv
      influence analyze events.csv --out results/
      influence top results/ -n 20
      open results/report.html

    Exit codes: 0 ok, 1 internal error, 2 usage, 3 input data, 4 config, 5 system (out
    of memory, disk full), 130 interrupted, 143 terminated.
    """


@cli.command()
@click.argument("events", type=click.Path())
@click.option("--customers", "customers_path", type=click.Path(dir_okay=False),
              help="Customers table: customer_id plus attributes. Every customer listed "
                   "appears in the output.")
@_input_options
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local",
              show_default=True,
              help="Where the analysis runs: this machine, or Apache Spark (needs "
                   "pip install 'influence[spark]' and Java 17; see docs/scale-out.md).")
@click.option("--spark-master", metavar="URL",
              help="Spark master for --engine spark (default: [spark] master of the "
                   "config, else local[*]); ignored inside spark-submit.")
@click.option("--out", "out_dir", default="influence-out", show_default=True,
              type=click.Path(file_okay=False), help="Results folder.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for community detection.")
@click.option("--resolution", type=click.FloatRange(min=0, min_open=True),
              help="Leiden modularity resolution (larger: smaller communities).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="Format of the result tables.")
@click.option("--snapshots", "snapshot_every", metavar="DAYS",
              help="Also write snapshots: segment sizes over rolling windows ending every "
                   "DAYS (30d, 30, 4w). One extra analysis per snapshot.")
@click.option("--snapshot-window", metavar="DAYS",
              help="Length of each snapshot's window (default: the --snapshots step).")
@click.option("--report/--no-report", "with_report", default=True, show_default=True,
              help="Write report.html (the analyst's report) into --out.")
@click.option("--graph-format", type=click.Choice(["gexf", "graphml"]),
              help="Also write the influence graph as graph.gexf or graph.graphml (Gephi).")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no warnings on stderr.")
@_privacy_options
@_traceback_option
@_quiet_warnings
def analyze(events, customers_path, config_path, mapping, input_format, since, until, engine,
            spark_master, out_dir, seed, resolution, fmt, snapshot_every, snapshot_window,
            with_report, graph_format, quiet, pseudonymize, key_file):
    """Analyze EVENTS and write customers, communities, segments, edges, manifest.json and
    report.html to --out.

    \b
    Examples:
      influence analyze events.csv
      influence analyze events.parquet --out results/ --format parquet --seed 7
      influence analyze events.csv --graph-format gexf --no-report
      influence analyze log.csv --map source=user_id --map target=friend_id \\
          --since 2026-01-01 --until 2026-03-31 --customers customers.csv
      influence analyze events.csv --pseudonymize --key-file influence.key --out shared/
      influence analyze events/ --engine spark --spark-master spark://host:7077
    """
    _setup_logging(quiet)
    if engine == "local" and Path(events).is_dir():
        raise click.BadParameter(f"File {events!r} is a directory.", param_hint="'EVENTS'")
    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master needs --engine spark")
    if engine == "spark" and snapshot_every is not None:
        raise click.UsageError("--snapshots runs with --engine local only")
    key = _pseudonym_key(pseudonymize, key_file)
    config = _load_config(config_path, mapping, since, until)
    if engine == "spark" and spark_master is not None:
        config = config.replace(spark__master=spark_master)
    if seed is not None:
        config = config.replace(communities__seed=seed)
    if resolution is not None:
        config = config.replace(communities__resolution=resolution)
    if snapshot_window is not None and snapshot_every is None:
        raise click.UsageError("--snapshot-window needs --snapshots")
    if snapshot_every is not None:
        from .periods import parse_days

        parse_days("--snapshots", snapshot_every)
        if snapshot_window is not None:
            parse_days("--snapshot-window", snapshot_window)
    from . import folder as results_folder

    # before the analysis, not after it: a second run into the same folder, or a
    # folder holding other files, fails now rather than minutes later
    with results_folder.locked(out_dir) as target:
        results_folder.prepare(target)
        folder = _analyze_and_save(engine, events, customers_path, config, input_format,
                                   snapshot_every, snapshot_window, key, out_dir, fmt,
                                   with_report, graph_format, quiet)
    click.echo(str(folder))


def _analyze_and_save(engine, events, customers_path, config, input_format, snapshot_every,
                      snapshot_window, key, out_dir, fmt, with_report, graph_format, quiet):
    """The body of ``analyze``, under the results folder's lock."""
    import time

    from .analysis import analyze as run

    reporter = _reporter(quiet) or _Quiet()
    try:
        snapshots = (None if snapshot_every is None else
                     {"every": snapshot_every, "window": snapshot_window})
        result = run(events, customers=customers_path, config=config,
                     input_format=input_format, engine=engine, snapshots=snapshots,
                     pseudonymize_key=key, reporter=reporter)
        stage = "save + report" if with_report else "save"
        reporter.start(stage)
        began = time.perf_counter()
        try:
            folder = result.save(out_dir, fmt, report=with_report, graph_format=graph_format)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write results to {out_dir!r}: "
                              f"{exc.strerror or exc}; the folder was left as it was"
                              ) from None
        reporter.done(stage, time.perf_counter() - began)
    finally:
        reporter.close()
    m = result.manifest
    if not quiet:
        dropped = sum(m["dropped"].values())
        click.echo(f"influence: {m['rows_used']} of {m['rows_read']} rows used ({dropped} "
                   f"dropped); {m['customers']} customers, {m['edges']} edges, "
                   f"{m['communities']['count']} communities "
                   f"(modularity {m['communities']['modularity']:.3f})", err=True)
    return folder


@cli.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Where to write the report.  [default: DIR/report.html]")
@_traceback_option
def report(folder, out_path):
    """(Re)render report.html from the saved results in DIR (no recomputation).

    The network picture and community map need DIR/edges.csv (or .parquet), which
    'influence analyze' writes. Same results give the same bytes.

    \b
    Examples:
      influence report influence-out/
      influence report results/ --out /tmp/march.html
    """
    from .analysis import Analysis
    from .report import write_report

    _setup_logging(False)
    result = Analysis.load(folder)
    path = Path(out_path) if out_path else Path(folder) / "report.html"
    _write_beside(folder, path, lambda target: write_report(result, target, folder=folder))
    click.echo(str(path))


def _recover(path) -> None:
    """Put back a results folder that a killed save left missing, so that a command
    taking EVENTS_OR_DIR sees a folder (:func:`influence.folder.recover`)."""
    from . import folder as results_folder

    results_folder.recover(path)


def _write_beside(folder, path: Path, write) -> None:
    """Write ``path`` for ``report``/``export``: into results folder ``folder``
    through its lock and swap, the manifest listing the new file
    (:func:`influence.folder.update_file`); anywhere else, atomically."""
    from . import folder as results_folder

    try:
        if path.resolve().parent == Path(folder).resolve():
            results_folder.update_file(folder, path.name, write)
        else:
            results_folder.write_file(path, write)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


@cli.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--graph-format", type=click.Choice(["gexf", "graphml"]), default="gexf",
              show_default=True, help="GEXF or GraphML; both open in Gephi.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="File to write.  [default: DIR/graph.gexf or DIR/graph.graphml]")
@_traceback_option
def export(folder, graph_format, out_path):
    """Export the influence graph of the saved results in DIR for Gephi or networkx.

    Nodes are customers with every customer column as attributes; edges go from
    influencer to influenced with weight and n_events. Needs DIR/edges.csv (or
    .parquet), which 'influence analyze' writes.

    \b
    Examples:
      influence export influence-out/
      influence export results/ --graph-format graphml --out graph.graphml
    """
    from .analysis import Analysis
    from .export import write_graph

    result = Analysis.load(folder)
    path = Path(out_path) if out_path else Path(folder) / f"graph.{graph_format}"
    _write_beside(folder, path, lambda target: write_graph(result, target, graph_format))
    click.echo(str(path))


@cli.command()
@click.option("--customers", "n_customers", type=click.IntRange(min=2), required=True,
              help="Number of customers.")
@click.option("--days", type=click.IntRange(min=1), default=180, show_default=True,
              help="Length of the period, in days.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--start", default="2026-01-01", show_default=True, help="First day (ISO).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Events file; .csv, .tsv, .parquet or .jsonl. The planted truth goes "
                   "beside it as NAME.truth.EXT.")
@_traceback_option
def generate(n_customers, days, seed, start, out_path):
    """Generate realistic synthetic events with planted ground truth.

    Heavy-tailed activity, communities, referral trees with conversions, a few strong
    propagators and dormant customers, timestamps over the period. Deterministic by seed.

    \b
    Examples:
      influence generate --customers 2000 --out events.csv
      influence generate --customers 1000000 --seed 1 --out big.parquet
    """
    from .io import detect_format, write_events
    from .synth import generate_events

    path = Path(out_path)
    detect_format(path)
    events, truth = generate_events(n_customers, days=days, seed=seed, start=start)
    suffix = "".join(path.suffixes) or path.suffix
    truth_path = path.with_name(path.name[: -len(suffix)] + ".truth" + suffix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_events(events, path)
        write_events(truth, truth_path)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    click.echo(f"influence: wrote {len(events)} events for {n_customers} customers; "
               f"planted truth in {truth_path}", err=True)
    click.echo(str(path))


@cli.command()
@click.argument("events", type=click.Path(dir_okay=False))
@_input_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_traceback_option
def validate(events, config_path, mapping, input_format, since, until, as_json):
    """Check EVENTS without analysing them: what would be used, dropped and why.

    Exit code 0 when the input is usable (even with repairable rows), 3 when it is
    not, 4 for a bad config.

    \b
    Examples:
      influence validate events.csv
      influence validate log.tsv --map source=user_id --json
    """
    from .validation import validate_events

    config = _load_config(config_path, mapping, since, until)
    checked = validate_events(events, config=config, input_format=input_format)
    clean, info, report = checked.accounting, checked.accounting.input, checked.to_dict()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"input      {info['path']} ({info['format']})")
    click.echo(f"rows read  {clean.rows_read}")
    click.echo(f"rows used  {clean.rows_used}")
    for reason, count in clean.dropped.items():
        if count:
            click.echo(f"dropped    {count:>8}  {reason}")
    click.echo(f"customers  {report['customers']}")
    for kind, count in report["events_by_type"].items():
        click.echo(f"type       {count:>8}  {kind}")
    if clean.has_timestamps:
        click.echo(f"period     {report['first_event']} .. {report['last_event']}")
    for warning in clean.warnings:
        click.echo(f"influence: warning: {warning}", err=True)


@cli.command()
@click.argument("source", metavar="EVENTS_OR_DIR", type=click.Path())
@click.option("-n", "n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many customers.")
@click.option("--by", "by", default="influence_rank", show_default=True,
              help="Column to rank by: influence_rank (ascending) or any numeric column "
                   "(descending), ties by customer_id.")
@click.option("--segment", help="Only customers in this segment.")
@click.option("--community", type=int, help="Only customers in this community.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet", "table"]),
              default="table", show_default=True, help="parquet needs --out.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the list to this file instead of stdout (required for parquet).")
@click.option("--with-attributes", is_flag=True,
              help="Append the customers-table attribute columns (CRM hand-off).")
@_privacy_options
@_input_options
@_traceback_option
def top(source, n, by, segment, community, fmt, out_path, with_attributes, pseudonymize,
        key_file, config_path, mapping, input_format, since, until):
    """Print the top N customers from a results folder (no recomputation) or an events file.

    \b
    Examples:
      influence top influence-out/ -n 200 --format csv > ambassadors.csv
      influence top events.csv --by out_strength --segment champions --format json
      influence top influence-out/ --segment dormant_advocates --with-attributes \\
          --format csv --out wake-up.csv
      influence top influence-out/ --pseudonymize --key-file influence.key \\
          --format parquet --out shared.parquet
    """
    from .analysis import Analysis
    from .analysis import analyze as run
    from .config import PrivacyConfig
    from .export import drop_small_segments, pseudonymize_analysis, top_customers

    _setup_logging(False)
    if fmt == "parquet" and out_path is None:
        raise click.UsageError("--format parquet needs --out FILE (Parquet is not written "
                               "to a terminal)")
    if pseudonymize and with_attributes:
        raise click.UsageError("--with-attributes cannot be combined with --pseudonymize: "
                               "attributes may identify customers")
    key = _pseudonym_key(pseudonymize, key_file)
    _recover(source)
    config = _load_config(config_path, mapping, since, until) if config_path or not \
        Path(source).is_dir() else None
    if Path(source).is_dir():
        result = Analysis.load(source)
    else:
        result = run(source, config=config, input_format=input_format)
    if config is not None:
        min_size = config.privacy.min_segment_size
    else:
        saved = result.manifest.get("config", {}).get("privacy", {})
        min_size = saved.get("min_segment_size", PrivacyConfig().min_segment_size)
    if key is not None:
        result = pseudonymize_analysis(result, key)
    table = top_customers(result.customers, n=n, by=by, segment=segment, community=community,
                          with_attributes=with_attributes,
                          attributes=result.manifest.get("attribute_columns"))
    if key is not None:
        table, small = drop_small_segments(table, result.customers, min_size)
        if small:
            logging.getLogger("influence").warning(
                "segments with fewer than %d customers left out of the pseudonymized list: "
                "%s", min_size, small)
    if out_path is not None:
        _write_list(table, Path(out_path), fmt)
        click.echo(str(out_path))
        return
    click.echo(_render(table, fmt), nl=False)


def _write_list(table, path: Path, fmt: str) -> None:
    from .io import write_table

    try:
        if fmt in ("csv", "parquet"):
            write_table(table, path, fmt)
        else:
            path.write_text(_render(table, fmt), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None


def _period(source, label, config, input_format, since, until, cache):
    """One period of ``compare``: a results folder, or an events file with a window."""
    from .analysis import Analysis
    from .analysis import analyze as run

    path = Path(source)
    _recover(path)
    if path.is_dir():
        if since is not None or until is not None:
            raise click.UsageError(f"{label} is a results folder ({source}); window options "
                                   f"--{label}-since/--{label}-until/--split need an "
                                   "events file")
        return Analysis.load(path)
    if not path.exists():
        raise InputError(f"{label} {source!r} does not exist; expected a results folder "
                         "(from 'influence analyze') or an events file")
    key = (str(path.resolve()), input_format)
    if key not in cache:
        from .io import read_events

        cache[key] = read_events(path, columns=config.columns, input_format=input_format)[0]
    raw = cache[key]
    window = config.replace(columns={})
    try:
        window = window.replace(window__since=since, window__until=until)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config key 'window.", f"option '--{label}-")
                          ) from None
    return run(raw, config=window)


@cli.command()
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path(), required=False)
@click.option("--split", metavar="DATE",
              help="With one events file: OLD period is before DATE, NEW period on or "
                   "after it.")
@click.option("--old-since", metavar="DATE", help="Window of OLD when it is an events file.")
@click.option("--old-until", metavar="DATE", help="(a date alone covers that whole day)")
@click.option("--new-since", metavar="DATE", help="Window of NEW when it is an events file.")
@click.option("--new-until", metavar="DATE")
@_core_input_options
@click.option("--seed", type=click.IntRange(min=0), help="Seed for community detection.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.3,
              show_default=True, help="Jaccard index at which two communities are matched.")
@click.option("-n", "n", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many customers of each list to print.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write migration.csv, customer_changes.csv, community_matches.csv "
                   "here.")
@_traceback_option
def compare(old, new, split, old_since, old_until, new_since, new_until, config_path,
            mapping, input_format, seed, threshold, n, fmt, out_dir):
    """Compare two periods: segment migration, rising stars, dormant advocates, new
    propagators, lost champions, and how communities continued, merged, split, were born
    or died.

    OLD and NEW are results folders (read as saved, no recomputation) or events files
    (analysed in memory, each with its own window). With --split, give one events file.

    \b
    Examples:
      influence compare results-march/ results-april/
      influence compare events.csv events.csv --old-until 2026-03-31 --new-since 2026-04-01
      influence compare events.csv --split 2026-04-01 --out changes/
      influence compare events.csv --split 2026-04-01 --format json
    """
    from .compare import CHANGE_LISTS
    from .compare import compare as run_compare
    from .periods import parse_instant

    _setup_logging(True)
    if split is not None:
        if new is not None:
            raise click.UsageError("--split takes one events file (OLD); got two arguments")
        if any(v is not None for v in (old_since, old_until, new_since, new_until)):
            raise click.UsageError("--split sets both windows; do not combine it with "
                                   "--old-since/--old-until/--new-since/--new-until")
        import pandas as pd

        stamp = parse_instant("--split", split)
        new = old
        old_until, new_since = stamp - pd.Timedelta(nanoseconds=1), stamp
    elif new is None:
        raise click.UsageError("missing argument 'NEW' (or give --split DATE with one "
                               "events file)")
    config = _load_config(config_path, mapping)
    if seed is not None:
        config = config.replace(communities__seed=seed)
    cache = {}
    before = _period(old, "old", config, input_format, old_since, old_until, cache)
    after = _period(new, "new", config, input_format, new_since, new_until, cache)
    result = run_compare(before, after, threshold=threshold)
    if out_dir is not None:
        try:
            result.save(out_dir)
        except OSError as exc:
            raise OutputError(f"cannot write results to {out_dir!r}: {exc.strerror}") from None
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(n), indent=2, ensure_ascii=False))
        return
    s = result.summary
    click.echo(f"customers: {s['customers_old']} old, {s['customers_new']} new, "
               f"{s['customers_both']} in both")
    click.echo("\nsegment migration (rows: old segment, columns: new segment; customers)")
    click.echo(result.migration_matrix().to_string())
    columns = ["customer_id", "old_segment", "new_segment", "old_influence_score",
               "new_influence_score", "influence_change"]
    for name in CHANGE_LISTS:
        table = result.changes(name, n)
        click.echo(f"\n{name.replace('_', ' ')}s: {s['lists'][name]} customers"
                   + (f" (first {len(table)})" if len(table) else ""))
        if len(table):
            click.echo(table[columns].to_string(index=False))
    events = ", ".join(f"{k} {v}" for k, v in s["community_events"].items())
    click.echo(f"\ncommunities (Jaccard >= {threshold:g}): {events}")


@cli.command()
@click.argument("events", type=click.Path(dir_okay=False))
@click.option("--split", metavar="DATE", required=True,
              help="Score on events before DATE, judge on events from DATE on.")
@click.option("--horizon", default="30d", show_default=True, metavar="DAYS",
              help="Length of the judging period: 30d, 30, 4w, or 'all'.")
@click.option("-k", "k", type=click.IntRange(min=1), default=100, show_default=True,
              help="Customers each score picks.")
@_core_input_options
@click.option("--since", metavar="DATE", help="Score only on events on or after DATE.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for community detection.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write backtest.json and backtest_customers.csv here.")
@_traceback_option
def backtest(events, split, horizon, k, config_path, mapping, input_format, since, seed,
             as_json, out_dir):
    """Judge the scores: compute them on events before --split, and measure how well
    each one's top K picks the customers whose content and referrals moved the most
    people in the --horizon after it (precision@K, lift, Spearman). See
    docs/backtest.md for the exact target.

    \b
    Examples:
      influence backtest events.csv --split 2026-04-01
      influence backtest events.csv --split 2026-04-01 --horizon 60d -k 200 --json
      influence backtest mo.csv --config mo.toml --split 2012-12-31 --out bt/
    """
    from .backtest import backtest as run

    _setup_logging(True)
    config = _load_config(config_path, mapping, since)
    if seed is not None:
        config = config.replace(communities__seed=seed)
    result = run(events, split, horizon=None if horizon.strip().lower() == "all" else horizon,
                 k=k, config=config, input_format=input_format)
    if out_dir is not None:
        try:
            result.save(out_dir)
        except OSError as exc:
            raise OutputError(f"cannot write results to {out_dir!r}: {exc.strerror}") from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    s = result.summary
    horizon_text = "all later events" if s["horizon_days"] is None else \
        f"{s['horizon_days']} days, until {s['judging_until']}"
    click.echo(f"split {s['split']}; judged on {horizon_text}")
    click.echo(f"events: {s['events_before']} before, {s['events_after']} in the horizon; "
               f"judged customers {s['judged_customers']}, relevant (spread >= "
               f"{s['relevant_spread_cut']}) {s['relevant_customers']}; new customers "
               f"after the split {s['new_customers_after_split']} (spread "
               f"{s['spread_by_new_customers']} of {s['spread_total']}, not judged)")
    # each row's precision is over its own picks (column k): the propagator seed set
    # can hold fewer judged customers than k
    table = result.scores.rename(columns={"precision_at_k": "precision"})
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    short = [f"{row.score} {row.k}" for row in table.itertuples() if row.k < s["k"]]
    if short:
        click.echo(f"k: picks each score made (of {s['k']}); fewer for {', '.join(short)}: "
                   "its precision, lift and captured spread are over those picks")


@cli.command()
@click.argument("events", type=click.Path(dir_okay=False))
@click.option("-k", "k", type=click.IntRange(min=1), default=None,
              help="Seed set size (default: [propagators] k of the config, 50).")
@click.option("--customers", "customers_path", type=click.Path(dir_okay=False),
              help="Customers table: customer_id plus attributes.")
@_input_options
@click.option("--epsilon", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="IMM approximation slack (default 0.5).")
@click.option("--p0", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Activation probability per unit of edge weight (default 0.02).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of sampling and simulation.")
@click.option("--simulations", type=click.IntRange(min=1),
              help="Monte Carlo runs per seed set for the comparison (default 100).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="table",
              show_default=True)
@_traceback_option
def propagators(events, k, customers_path, config_path, mapping, input_format, since, until,
                epsilon, p0, seed, simulations, fmt):
    """Print K key propagators: the seed set that maximises expected spread under the
    independent cascade model (IMM), with the spread of the top-K by out-degree and by
    PageRank measured by the same simulator.

    CSV: one row per seed (order, customer_id, marginal_gain, cumulative_spread); the
    comparison goes to stderr. JSON: {"seeds": [...], "comparison": [...], "info": {...}}.

    \b
    Examples:
      influence propagators events.csv -k 50
      influence propagators events.csv -k 200 --p0 0.01 --format csv > seeds.csv
    """
    from .reach import find_propagators

    _setup_logging(True)
    config = _load_config(config_path, mapping, since, until)
    result = find_propagators(events, k, customers=customers_path, config=config,
                              input_format=input_format, epsilon=epsilon, p0=p0, seed=seed,
                              simulations=simulations)
    comparison = result.comparison
    summary = "; ".join(f"{row.method} {row.spread:.1f} (se {row.spread_se:.1f})"
                        for row in comparison.itertuples())
    summary = (f"expected spread of {len(result.seeds)} seeds ({result.info['simulations']} "
               f"simulations): {summary}")
    if fmt == "json":
        payload = {"seeds": json.loads(result.seeds.to_json(orient="records")),
                   "comparison": json.loads(comparison.to_json(orient="records")),
                   "info": result.info}
        click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
        return
    click.echo(_render(result.seeds, fmt), nl=False)
    if fmt == "table":
        click.echo("")
        click.echo(comparison.to_string(index=False))
    else:
        click.echo(f"influence: {summary}", err=True)


def _render(table, fmt: str) -> str:
    from .io import neutralize_formulas

    if fmt == "json":
        return table.to_json(orient="records", force_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        safe = table.copy()
        for column in safe.columns:
            safe[column] = neutralize_formulas(safe[column])
        return safe.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    return table.to_string(index=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="influence")


if __name__ == "__main__":  # pragma: no cover
    main()
