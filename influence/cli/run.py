"""``influence analyze``: the main job, events in, a results folder out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from .app import cli
from .options import (
    argument_option,
    config_option,
    configured,
    database_out,
    events_source,
    input_options,
    privacy_options,
    pseudonym_key,
    quiet_warnings,
    traceback_option,
)
from .output import reporter, save_errors, setup_logging


@cli.command()
@click.argument("events", type=click.Path())
@click.option("--customers", "customers_path", type=click.Path(dir_okay=False),
              help="Customers table: customer_id plus attributes. Every customer listed "
                   "appears in the output.")
@input_options
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local",
              show_default=True,
              help="Where the analysis runs: this machine, or Apache Spark (needs "
                   "pip install 'influence[spark]' and Java 17; see docs/scale-out.md).")
@config_option("--spark-master", key="spark.master", metavar="URL", expose_value=True,
               help="Spark master for --engine spark (default: [spark] master of the "
                    "config, else local[*]); ignored inside spark-submit.")
@click.option("--out", "out_dir", default="influence-out", show_default=True,
              type=click.Path(file_okay=False),
              help="Results folder, or a database: duckdb:///results.duckdb, "
                   "postgresql://host/db (every table in one transaction, see --run-id).")
@argument_option("--run-id", key="run_id", metavar="ID",
                 help="With --out DATABASE: the run's id in every table (default: the time "
                      "of writing). A run id already there is replaced.")
@config_option("--seed", key="communities.seed", help="Seed for community detection.")
@config_option("--resolution", key="communities.resolution",
               help="Leiden modularity resolution (larger: smaller communities).")
@click.option("--format", "formats", type=click.Choice(["csv", "parquet", "json"]),
              multiple=True,
              help="csv (default) or parquet: format of the result tables; json: print a "
                   "JSON summary of the run (rows, customers, segments, folder, timings) "
                   "instead of the folder's path. Repeatable: --format parquet --format json.")
@argument_option("--snapshots", "snapshot_every", key="snapshots", metavar="DAYS",
                 help="Also write snapshots: segment sizes over rolling windows ending "
                      "every DAYS (30d, 30, 4w). One extra analysis per snapshot.")
@argument_option("--snapshot-window", key="snapshots.window", metavar="DAYS",
                 help="Length of each snapshot's window (default: the --snapshots step).")
@click.option("--report/--no-report", "with_report", default=True, show_default=True,
              help="Write report.html (the analyst's report) into --out.")
@click.option("--graph-format", type=click.Choice(["gexf", "graphml"]),
              help="Also write the influence graph as graph.gexf or graph.graphml (Gephi).")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no warnings on stderr.")
@privacy_options
@traceback_option
@quiet_warnings
def analyze(events, customers_path, config_path, mapping, input_format, engine, spark_master,
            out_dir, run_id, formats, snapshot_every, snapshot_window, with_report,
            graph_format, quiet,
            pseudonymize, key_file):
    """Analyze EVENTS and write customers, communities, segments, edges, manifest.json and
    report.html to --out.

    \b
    Examples:
      influence analyze events.csv
      influence analyze events.parquet --out results/ --format parquet --seed 7
      influence analyze events.csv --graph-format gexf --no-report
      influence analyze events.csv --format json -q > run.json
      influence analyze log.csv --map source=user_id --map target=friend_id \\
          --since 2026-01-01 --until 2026-03-31 --customers customers.csv
      influence analyze events.csv --pseudonymize --key-file influence.key --out shared/
      influence analyze events/ --engine spark --spark-master spark://host:7077
      influence analyze 'exports/2026-*.parquet' --out duckdb:///results.duckdb
      influence analyze postgresql://analyst@db/crm --query "SELECT * FROM events" \\
          --out postgresql://analyst@db/crm --run-id 2026-03
      zcat events.jsonl.gz | influence analyze - --input-format jsonl \\
          --map target=properties.recipient_id
    """
    from .. import analysis
    from .. import folder as results_folder
    from ..sources import STDIN, is_database_uri

    setup_logging(quiet)
    ctx = click.get_current_context()
    files = [name for name, param in (("--format", "formats"), ("--report", "with_report"))
             if ctx.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE
             and (param != "formats" or set(formats) - {"json"})]
    files += ["--graph-format"] if graph_format is not None else []
    database = database_out(out_dir, run_id, files=tuple(files))
    if run_id is not None:  # before the analysis, not after it
        from ..sinks import check_run_id

        check_run_id(run_id)
    if engine == "spark" and (events == STDIN or is_database_uri(events)):
        raise click.UsageError("--engine spark reads files and folders; read standard "
                               "input and databases with --engine local")
    events = events_source(events, input_format)
    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master needs --engine spark")
    if engine == "spark" and snapshot_every is not None:
        raise click.UsageError("--snapshots runs with --engine local only")
    if snapshot_window is not None and snapshot_every is None:
        raise click.UsageError("--snapshot-window needs --snapshots")
    tables = [f for f in formats if f != "json"]
    if len(set(tables)) > 1:
        raise click.UsageError(f"--format takes one table format (csv or parquet); got "
                               f"{' and '.join(dict.fromkeys(tables))}")
    fmt = tables[0] if tables else "csv"
    key = pseudonym_key(pseudonymize, key_file)
    config = configured(config_path, mapping)
    snapshots = (None if snapshot_every is None else
                 {"every": snapshot_every, "window": snapshot_window})
    if database:
        result, written, saved = _into_database(events, customers_path, config, input_format,
                                                engine, snapshots, key, out_dir, run_id, quiet)
        click.echo(json.dumps(run_summary(result, database=written, save_seconds=saved),
                              indent=2, ensure_ascii=False) if "json" in formats else written)
        return
    # before the analysis, not after it: a second run into the same folder, or a
    # folder holding other files, fails now rather than minutes later
    with results_folder.locked(out_dir) as target:
        results_folder.prepare(target)
        with reporter(quiet) as progress:
            result = analysis.analyze(events, customers=customers_path, config=config,
                                      input_format=input_format, engine=engine,
                                      snapshots=snapshots, pseudonymize_key=key,
                                      reporter=progress)
            began = time.perf_counter()
            with save_errors(out_dir, "; the folder was left as it was"):
                folder = result.save(out_dir, fmt, report=with_report,
                                     graph_format=graph_format, reporter=progress)
            saved = time.perf_counter() - began
    if not quiet:
        click.echo(_summary(result.manifest), err=True)
    if "json" in formats:
        click.echo(json.dumps(run_summary(result, folder=folder, save_seconds=saved),
                              indent=2, ensure_ascii=False))
        return
    click.echo(str(folder))


def _into_database(events, customers_path, config, input_format, engine, snapshots, key,
                   out, run_id, quiet) -> tuple:
    """``analyze --out DATABASE``: the analysis, then every table into the database in one
    transaction. Returns the result, what stdout shows (the database without credentials,
    the run id) and the seconds the save took."""
    from .. import analysis
    from ..sources import redact_uri

    with reporter(quiet) as progress:
        result = analysis.analyze(events, customers=customers_path, config=config,
                                  input_format=input_format, engine=engine,
                                  snapshots=snapshots, pseudonymize_key=key,
                                  reporter=progress)
        progress.start("save")
        began = time.perf_counter()
        written = result.to_database(out, run_id=run_id)
        seconds = time.perf_counter() - began
        progress.done("save", seconds)
    if not quiet:
        click.echo(_summary(result.manifest), err=True)
    return result, f"{redact_uri(out)} {written}", seconds


def run_summary(result, *, folder=None, database: str | None = None,
                save_seconds: float) -> dict:
    """What ``analyze --format json`` prints: the run in numbers, from its manifest.

    Keys: ``folder`` and ``files`` (as its manifest lists them; with ``--out
    DATABASE`` instead ``database``: the database without credentials and the run
    id), ``rows_read``, ``rows_used``, ``dropped`` (reason -> count), ``customers``,
    ``edges``, ``communities``, ``modularity``, ``segments`` (name -> customers),
    ``warnings`` and ``timings`` (stage -> seconds, with ``save`` for writing the
    results and the report).
    """
    m = result.manifest
    where: dict = {"database": database}
    if folder is not None:
        written = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
        where = {"folder": str(folder), "files": written.get("outputs", {}).get("files", [])}
    return {
        **where,
        "rows_read": m["rows_read"], "rows_used": m["rows_used"], "dropped": m["dropped"],
        "customers": m["customers"], "edges": m["edges"],
        "communities": m["communities"]["count"],
        "modularity": m["communities"]["modularity"],
        "segments": m.get("segments", {}).get("sizes", {}),
        "warnings": m.get("warnings", []),
        "timings": {**m.get("timings", {}), "save": round(save_seconds, 4)},
    }


def _summary(m: dict) -> str:
    """The one-line summary on stderr."""
    dropped = sum(m["dropped"].values())
    return (f"influence: {m['rows_used']} of {m['rows_read']} rows used ({dropped} dropped); "
            f"{m['customers']} customers, {m['edges']} edges, {m['communities']['count']} "
            f"communities (modularity {m['communities']['modularity']:.3f})")
