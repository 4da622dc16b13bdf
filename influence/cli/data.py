"""Commands on event data: ``validate``, ``generate``, ``propagators``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import OutputError
from .app import cli
from .options import (
    config_option,
    configured,
    events_source,
    input_options,
    json_alias,
    quiet_option,
    traceback_option,
)
from .output import render, reporter, setup_logging


@cli.command()
@click.argument("events", type=click.Path())
@input_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Print the report as text or JSON.")
@json_alias
@traceback_option
def validate(events, config_path, mapping, input_format, fmt):
    """Check EVENTS without analysing them: what would be used, dropped and why.

    Exit code 0 when the input is usable (even with repairable rows), 3 when it is
    not, 4 for a bad config.

    \b
    Examples:
      influence validate events.csv
      influence validate log.tsv --map source=user_id --format json
    """
    from ..validation import validate_events

    config = configured(config_path, mapping)
    events = events_source(events, input_format)
    checked = validate_events(events, config=config, input_format=input_format)
    clean, info, report = checked.accounting, checked.accounting.input, checked.to_dict()
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"input      {info['path']} ({info['format']})")
    for key in ("query", "table", "parts"):
        if info.get(key) is not None:
            click.echo(f"{key:<10} {info[key]}")
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
@click.option("--customers", "n_customers", type=click.IntRange(min=2), required=True,
              help="Number of customers.")
@click.option("--days", type=click.IntRange(min=1), default=180, show_default=True,
              help="Length of the period, in days.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--start", default="2026-01-01", show_default=True, help="First day (ISO).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Events file; .csv, .tsv, .parquet or .jsonl. The planted truth goes "
                   "beside it as NAME.truth.EXT.")
@traceback_option
def generate(n_customers, days, seed, start, out_path):
    """Generate realistic synthetic events with planted ground truth.

    Heavy-tailed activity, communities, referral trees with conversions, a few strong
    propagators and dormant customers, timestamps over the period. Deterministic by seed.

    \b
    Examples:
      influence generate --customers 2000 --out events.csv
      influence generate --customers 1000000 --seed 1 --out big.parquet
    """
    from ..io import detect_format, write_events
    from ..synth import generate_events

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
@click.argument("events", type=click.Path())
@config_option("-k", key="propagators.k", type=click.IntRange(min=1),
               help="Seed set size (default: [propagators] k of the config, 50).")
@click.option("--customers", "customers_path", type=click.Path(dir_okay=False),
              help="Customers table: customer_id plus attributes.")
@input_options
@config_option("--epsilon", key="propagators.epsilon",
               help="IMM approximation slack (default 0.5).")
@config_option("--p0", key="propagators.p0",
               help="Activation probability per unit of edge weight (default 0.02).")
@config_option("--seed", key="propagators.seed", help="Seed of sampling and simulation.")
@config_option("--simulations", key="propagators.simulations",
               help="Monte Carlo runs per seed set for the comparison (default 100).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json"]),
              default="table", show_default=True)
@quiet_option
@traceback_option
def propagators(events, customers_path, config_path, mapping, input_format, fmt, quiet):
    """Print K key propagators: the seed set that maximises expected spread under the
    independent cascade model (IMM), with the spread of the top-K by out-degree and by
    PageRank measured by the same simulator.

    CSV/TSV: one row per seed (order, customer_id, marginal_gain, cumulative_spread); the
    comparison goes to stderr. JSON: {"seeds": [...], "comparison": [...], "info": {...}}.

    \b
    Examples:
      influence propagators events.csv -k 50
      influence propagators events.csv -k 200 --p0 0.01 --format csv > seeds.csv
    """
    from ..reach import find_propagators

    setup_logging(True)
    config = configured(config_path, mapping)
    events = events_source(events, input_format)
    with reporter(quiet) as progress:
        result = find_propagators(events, customers=customers_path, config=config,
                                  input_format=input_format, reporter=progress)
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
    click.echo(render(result.seeds, fmt), nl=False)
    if fmt == "table":
        click.echo("")
        click.echo(comparison.to_string(index=False))
    elif not quiet:
        click.echo(f"influence: {summary}", err=True)
