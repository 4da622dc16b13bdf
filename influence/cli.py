"""The ``influence`` command line: a thin client of the Python API.

Results go to stdout or files; warnings, progress and errors go to stderr.
Exit codes: 0 success, 1 internal error (a bug), 2 usage error, 3 input data
error, 4 config error. An error is one line, ``influence: error: ...``; add
``--traceback`` to see where it came from.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ConfigError, InfluenceError, InputError

__all__ = ["cli", "main"]

ISSUES_URL = "https://github.com/influence-dev/influence/issues"
_state = {"traceback": False}


def _fail(message: str) -> None:
    click.echo(f"influence: error: {message}", err=True)


class _Group(click.Group):
    """Maps every failure to one stderr line and its documented exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        _state["traceback"] = False
        try:
            rv = super().main(args=args, prog_name=prog_name or "influence",
                              complete_var=complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "influence"
            _fail(f"{exc.format_message()} (see '{where} --help')")
            sys.exit(2)
        except click.ClickException as exc:
            _fail(exc.format_message())
            sys.exit(exc.exit_code)
        except click.Abort:
            _fail("aborted")
            sys.exit(1)
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


def _input_options(func):
    """Options shared by every command that reads events."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="TOML config file (column mapping, event types, window, ...)."),
        click.option("--map", "mapping", multiple=True, metavar="CANONICAL=COLUMN",
                     help="Map an input column to a canonical one, e.g. --map "
                          "source=user_id. Repeatable."),
        click.option("--input-format", type=click.Choice(["csv", "tsv", "parquet", "jsonl"]),
                     help="Input format, if the file extension does not tell."),
        click.option("--since", metavar="DATE", help="Keep events on or after DATE (ISO)."),
        click.option("--until", metavar="DATE", help="Keep events on or before DATE (ISO)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load_config(config_path, mapping, since=None, until=None):
    from .config import load_config

    config = load_config(config_path)
    columns = _parse_map(mapping)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    try:
        return config.replace(window__since=since, window__until=until)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config key 'window.", "option '--")) from None


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("influence: warning: %(message)s"))
    root = logging.getLogger("influence")
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)
    root.propagate = False


class _RichReporter:
    """Shows each stage on stderr while it runs (only on a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = None

    def start(self, stage: str) -> None:
        self.status = self.console.status(f"[bold]{stage}[/bold] ...")
        self.status.start()

    def done(self, stage: str, seconds: float) -> None:
        if self.status is not None:
            self.status.stop()
        self.console.print(f"[green]done[/green] {stage:<12} {seconds:8.2f} s")


def _reporter(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    return _RichReporter()


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

    Exit codes: 0 ok, 1 internal error, 2 usage, 3 input data, 4 config.
    """


@cli.command()
@click.argument("events", type=click.Path(dir_okay=False))
@click.option("--customers", "customers_path", type=click.Path(dir_okay=False),
              help="Customers table: customer_id plus attributes. Every customer listed "
                   "appears in the output.")
@_input_options
@click.option("--out", "out_dir", default="influence-out", show_default=True,
              type=click.Path(file_okay=False), help="Results folder.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for community detection.")
@click.option("--resolution", type=click.FloatRange(min=0, min_open=True),
              help="Leiden modularity resolution (larger: smaller communities).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="Format of the result tables.")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no warnings on stderr.")
@_traceback_option
def analyze(events, customers_path, config_path, mapping, input_format, since, until, out_dir,
            seed, resolution, fmt, quiet):
    """Analyze EVENTS and write customers, communities and manifest.json to --out.

    \b
    Examples:
      influence analyze events.csv
      influence analyze events.parquet --out results/ --format parquet --seed 7
      influence analyze log.csv --map source=user_id --map target=friend_id \\
          --since 2026-01-01 --until 2026-03-31 --customers customers.csv
    """
    from .analysis import analyze as run

    _setup_logging(quiet)
    config = _load_config(config_path, mapping, since, until)
    if seed is not None:
        config = config.replace(communities__seed=seed)
    if resolution is not None:
        config = config.replace(communities__resolution=resolution)
    result = run(events, customers=customers_path, config=config, input_format=input_format,
                 reporter=_reporter(quiet))
    try:
        folder = result.save(out_dir, fmt)
    except OSError as exc:
        raise InputError(f"cannot write results to {out_dir!r}: {exc.strerror}") from None
    m = result.manifest
    if not quiet:
        dropped = sum(m["dropped"].values())
        click.echo(f"influence: {m['rows_used']} of {m['rows_read']} rows used ({dropped} "
                   f"dropped); {m['customers']} customers, {m['edges']} edges, "
                   f"{m['communities']['count']} communities "
                   f"(modularity {m['communities']['modularity']:.3f})", err=True)
    click.echo(str(folder))


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
        write_events(events, path)
        write_events(truth, truth_path)
    except OSError as exc:
        raise InputError(f"cannot write {str(path)!r}: {exc.strerror}") from None
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
    from .io import read_events
    from .validation import clean_events, customer_universe

    config = _load_config(config_path, mapping, since, until)
    raw, info = read_events(events, columns=config.columns, input_format=input_format)
    clean = clean_events(raw, config)
    report = {
        "input": info,
        "rows_read": clean.rows_read,
        "rows_used": clean.rows_used,
        "dropped": clean.dropped,
        "customers": len(customer_universe(raw)),
        "events_by_type": {k: int(v) for k, v in
                           sorted(clean.events["type"].value_counts().items())},
        "has_timestamps": clean.has_timestamps,
        "first_event": None if clean.start is None else clean.start.isoformat(),
        "last_event": None if clean.end is None else clean.end.isoformat(),
        "warnings": clean.warnings,
    }
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
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="table",
              show_default=True)
@_input_options
@_traceback_option
def top(source, n, by, segment, community, fmt, config_path, mapping, input_format, since,
        until):
    """Print the top N customers from a results folder (no recomputation) or an events file.

    \b
    Examples:
      influence top influence-out/ -n 200 --format csv > ambassadors.csv
      influence top events.csv --by out_strength --segment champions --format json
    """
    from .analysis import Analysis, analyze as run
    from .export import top_customers

    _setup_logging(True)
    if Path(source).is_dir():
        result = Analysis.load(source)
    else:
        config = _load_config(config_path, mapping, since, until)
        result = run(source, config=config, input_format=input_format)
    table = top_customers(result.customers, n=n, by=by, segment=segment, community=community)
    click.echo(_render(table, fmt), nl=False)


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
