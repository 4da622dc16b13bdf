"""Commands on saved results: ``top``, ``report``, ``export``."""

from __future__ import annotations

from pathlib import Path

import click

from .app import cli
from .completion import complete_segment
from .options import (
    configured,
    events_source,
    input_options,
    is_folder,
    privacy_options,
    pseudonym_key,
    traceback_option,
)
from .output import recover, setup_logging, table_text, write_beside, write_list


@cli.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Where to write the report.  [default: DIR/report.html]")
@traceback_option
def report(folder, out_path):
    """(Re)render report.html from the saved results in DIR (no recomputation).

    The network picture and community map need DIR/edges.csv (or .parquet), which
    'influence analyze' writes. Same results give the same bytes.

    \b
    Examples:
      influence report influence-out/
      influence report results/ --out /tmp/march.html
    """
    from ..analysis import Analysis
    from ..report import write_report

    setup_logging(False)
    result = Analysis.load(folder)
    path = Path(out_path) if out_path else Path(folder) / "report.html"
    write_beside(folder, path, lambda target: write_report(result, target, folder=folder))
    click.echo(str(path))


@cli.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--graph-format", type=click.Choice(["gexf", "graphml"]), default="gexf",
              show_default=True, help="GEXF or GraphML; both open in Gephi.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="File to write.  [default: DIR/graph.gexf or DIR/graph.graphml]")
@traceback_option
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
    from ..analysis import Analysis
    from ..export import write_graph

    result = Analysis.load(folder)
    path = Path(out_path) if out_path else Path(folder) / f"graph.{graph_format}"
    write_beside(folder, path, lambda target: write_graph(result, target, graph_format))
    click.echo(str(path))


@cli.command()
@click.argument("source", metavar="EVENTS_OR_DIR", type=click.Path())
@click.option("-n", "n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many customers.")
@click.option("--by", "by", default="influence_rank", show_default=True,
              help="Column to rank by: influence_rank (ascending) or any numeric column "
                   "(descending), ties by customer_id.")
@click.option("--segment", shell_complete=complete_segment,
              help="Only customers in this segment.")
@click.option("--community", type=int, help="Only customers in this community.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json", "parquet"]),
              default="table", show_default=True,
              help="table: fitted to the terminal (plain aligned text when stdout is not "
                   "a terminal); csv, tsv, json for scripts; parquet needs --out.")
@click.option("--wide", is_flag=True,
              help="Table: every column and the whole segment_reason, however wide.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the list to this file instead of stdout (required for parquet).")
@click.option("--with-attributes", is_flag=True,
              help="Append the customers-table attribute columns (CRM hand-off).")
@privacy_options
@input_options
@traceback_option
def top(source, n, by, segment, community, fmt, wide, out_path, with_attributes,
        pseudonymize, key_file, config_path, mapping, input_format):
    """Print the top N customers from a results folder (no recomputation) or an events file.

    \b
    Examples:
      influence top influence-out/ -n 200 --format csv > ambassadors.csv
      influence top influence-out/ --wide
      influence top events.csv --by out_strength --segment champions --format json
      influence top influence-out/ --segment dormant_advocates --with-attributes \\
          --format csv --out wake-up.csv
      influence top influence-out/ --pseudonymize --key-file influence.key \\
          --format parquet --out shared.parquet
    """
    from .. import analysis
    from ..config import PrivacyConfig
    from ..export import drop_small_segments, pseudonymize_analysis, top_customers

    setup_logging(False)
    if fmt == "parquet" and out_path is None:
        raise click.UsageError("--format parquet needs --out FILE (Parquet is not written "
                               "to a terminal)")
    if pseudonymize and with_attributes:
        raise click.UsageError("--with-attributes cannot be combined with --pseudonymize: "
                               "attributes may identify customers")
    key = pseudonym_key(pseudonymize, key_file)
    source = events_source(source, input_format, "EVENTS_OR_DIR")
    if isinstance(source, str):
        recover(source)
    saved = is_folder(source)
    config = configured(config_path, mapping) if config_path or not saved else None
    if saved:
        result = analysis.Analysis.load(source)
    else:
        result = analysis.analyze(source, config=config, input_format=input_format)
    if config is not None:
        min_size = config.privacy.min_segment_size
    else:
        written = result.manifest.get("config", {}).get("privacy", {})
        min_size = written.get("min_segment_size", PrivacyConfig().min_segment_size)
    if key is not None:
        result = pseudonymize_analysis(result, key)
    table = top_customers(result.customers, n=n, by=by, segment=segment, community=community,
                          with_attributes=with_attributes,
                          attributes=result.manifest.get("attribute_columns"))
    if key is not None:
        table, small = drop_small_segments(table, result.customers, min_size)
        if small:
            import logging

            logging.getLogger("influence").warning(
                "segments with fewer than %d customers left out of the pseudonymized list: "
                "%s", min_size, small)
    if out_path is not None:
        write_list(table, Path(out_path), fmt)
        click.echo(str(out_path))
        return
    key_columns = ("influence_rank", "customer_id", "segment", "influence_score", by)
    optional = tuple(c for c in table.columns if c not in key_columns
                     and c != "segment_reason")
    click.echo(table_text(table, fmt, wide=wide, flexible=("segment_reason",),
                          optional=optional), nl=False)
