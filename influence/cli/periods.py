"""Commands over two periods: ``compare`` and ``backtest``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError
from ..progress import StageClock, prefixed
from .app import cli
from .options import (
    argument_option,
    config_option,
    configured,
    core_input_options,
    events_source,
    json_alias,
    options_given,
    quiet_option,
    traceback_option,
    with_options,
)
from .output import (
    recover,
    render,
    reporter,
    rich_table,
    save_errors,
    setup_logging,
    stdout_is_terminal,
    terminal_width,
)

_WINDOWS = ("old", "new")

#: Column headers of compare's lists on a terminal (the JSON and CSV keep the names).
_SHORT = {"old_segment": "old segment", "new_segment": "new segment",
          "old_influence_score": "old score", "new_influence_score": "new score",
          "influence_change": "change"}


@cli.command()
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path(), required=False)
@argument_option("--split", key="split", metavar="DATE",
                 help="With one events file: OLD period is before DATE, NEW period on "
                      "or after it.")
@config_option("--old-since", key="window.since", scope="old", metavar="DATE",
               help="Window of OLD when it is an events file.")
@config_option("--old-until", key="window.until", scope="old", metavar="DATE",
               help="(a date alone covers that whole day)")
@config_option("--new-since", key="window.since", scope="new", metavar="DATE",
               help="Window of NEW when it is an events file.")
@config_option("--new-until", key="window.until", scope="new", metavar="DATE")
@core_input_options
@config_option("--seed", key="communities.seed", help="Seed for community detection.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.3,
              show_default=True, help="Jaccard index at which two communities are matched.")
@click.option("-n", "n", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many customers of each list to print.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json"]),
              default="table", show_default=True,
              help="table: rich tables fitted to the terminal (plain text when stdout is "
                   "not a terminal); csv/tsv: the first N of each list, one row per "
                   "customer and list; json: summary, migration, lists, communities.")
@click.option("--wide", is_flag=True, help="Tables: every cell in full, however wide.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write migration.csv, customer_changes.csv, community_matches.csv "
                   "here.")
@quiet_option
@traceback_option
def compare(old, new, split, config_path, mapping, input_format, threshold, n, fmt, wide,
            out_dir, quiet):
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
    from ..compare import CHANGE_LISTS
    from ..compare import compare as run_compare

    setup_logging(True)
    windows = {label: options_given(label) for label in _WINDOWS}
    if split is not None:
        if new is not None:
            raise click.UsageError("--split takes one events file (OLD); got two arguments")
        if any(windows.values()):
            raise click.UsageError("--split sets both windows; do not combine it with "
                                   "--old-since/--old-until/--new-since/--new-until")
        new = old
        windows = _split_windows(split)
    elif new is None:
        raise click.UsageError("missing argument 'NEW' (or give --split DATE with one "
                               "events file)")
    config = configured(config_path, mapping)
    cache: dict = {}
    same = new == old
    old = events_source(old, input_format, "OLD")
    new = old if same else events_source(new, input_format, "NEW")
    with reporter(quiet) as progress:
        before = _period(old, "old", config, input_format, windows["old"], cache,
                         prefixed(progress, "old "))
        after = _period(new, "new", config, input_format, windows["new"], cache,
                        prefixed(progress, "new "))
        with StageClock(progress).stage("compare"):
            result = run_compare(before, after, threshold=threshold)
    if out_dir is not None:
        with save_errors(out_dir):
            result.save(out_dir)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(n), indent=2, ensure_ascii=False))
        return
    columns = ["customer_id", "old_segment", "new_segment", "old_influence_score",
               "new_influence_score", "influence_change"]
    if fmt in ("csv", "tsv"):
        import pandas as pd

        lists = [result.changes(name, n)[columns].assign(list=name) for name in CHANGE_LISTS]
        rows = pd.concat(lists, ignore_index=True)[["list", *columns]]
        click.echo(render(rows, fmt), nl=False)
        return
    terminal = stdout_is_terminal()
    width = None if wide else terminal_width()

    def show(table, *, index=False):
        if not terminal:
            click.echo(table.to_string(index=index))
            return
        if index:
            table = _numbered(table, width)
        else:
            table = table.rename(columns=_SHORT)
        click.echo(rich_table(table, width=width, flexible=("customer_id", "old segment",
                                                            "new segment")), nl=False)

    s = result.summary
    click.echo(f"customers: {s['customers_old']} old, {s['customers_new']} new, "
               f"{s['customers_both']} in both")
    click.echo("\nsegment migration (rows: old segment, columns: new segment; customers)")
    show(result.migration_matrix(), index=True)
    for name in CHANGE_LISTS:
        table = result.changes(name, n)
        click.echo(f"\n{name.replace('_', ' ')}s: {s['lists'][name]} customers"
                   + (f" (first {len(table)})" if len(table) else ""))
        if len(table):
            show(table[columns])
    events = ", ".join(f"{k} {v}" for k, v in s["community_events"].items())
    line = f"communities (Jaccard >= {threshold:g}): {events}"
    click.echo("\n" + (click.wrap_text(line, width) if terminal and width else line))


def _numbered(matrix, width: int | None):
    """The migration matrix as a table for a terminal ``width`` wide: old segments
    in the first column; new segments as column headers, or, when their names do
    not fit, numbered (``1``, ``2``, ...) with a last row naming each number."""
    table = matrix.reset_index()
    table.columns = [str(c) for c in table.columns]
    first = table.columns[0]
    names = [str(c) for c in matrix.columns]
    full = len(first) + sum(len(c) + 2 for c in names) + max(map(len, table[first]))
    if width is None or full <= width:
        return table
    numbers = [str(i) for i in range(1, len(names) + 1)]
    table.columns = [first, *numbers]
    legend = "; ".join(f"{i} {name}" for i, name in zip(numbers, names, strict=True))
    click.echo(click.wrap_text(f"new segments: {legend}", width, subsequent_indent="  "))
    return table


def _split_windows(split: str) -> dict[str, dict]:
    """The two windows ``--split DATE`` stands for: before the instant, and from it on."""
    import pandas as pd

    from ..periods import parse_instant

    stamp = parse_instant("split", split)
    return {"old": {"window.until": ("--split", stamp - pd.Timedelta(nanoseconds=1))},
            "new": {"window.since": ("--split", stamp)}}


def _period(source, label, config, input_format, window, cache, progress):
    """One period of ``compare``: a results folder, or an events file with a window
    (analysed with its stages shown as ``old read``, ``new graph``, ...)."""
    from .. import analysis

    if isinstance(source, str):
        path = Path(source)
        recover(path)
        if path.is_dir():
            if window:
                raise click.UsageError(f"{label} is a results folder ({source}); window "
                                       f"options --{label}-since/--{label}-until/--split "
                                       "need an events file")
            return analysis.Analysis.load(path)
        if not path.exists() and not any(c in source for c in "*?["):
            raise InputError(f"{label} {source!r} does not exist; expected a results folder "
                             "(from 'influence analyze') or an events file")
        key: tuple = (str(path.resolve()), input_format)
    else:  # events read already (a database query, standard input)
        key = (id(source), input_format)
    if key not in cache:
        from ..sources import read_events

        with StageClock(progress).stage("read"):
            cache[key] = read_events(source, columns=config.columns,
                                     input_format=input_format)[0]
    windowed = with_options(config.replace(columns={}), label, window)
    return analysis.analyze(cache[key], config=windowed, reporter=progress)


@cli.command()
@click.argument("events", type=click.Path())
@argument_option("--split", key="split", metavar="DATE", required=True,
                 help="Score on events before DATE, judge on events from DATE on.")
@argument_option("--horizon", key="horizon", default="30d", show_default=True,
                 metavar="DAYS", help="Length of the judging period: 30d, 30, 4w, or 'all'.")
@click.option("-k", "k", type=click.IntRange(min=1), default=100, show_default=True,
              help="Customers each score picks.")
@core_input_options
@config_option("--since", key="window.since", metavar="DATE",
               help="Score only on events on or after DATE.")
@config_option("--seed", key="communities.seed", help="Seed for community detection.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Print the result as a table or as JSON.")
@json_alias
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write backtest.json and backtest_customers.csv here.")
@quiet_option
@traceback_option
def backtest(events, split, horizon, k, config_path, mapping, input_format, fmt, out_dir,
             quiet):
    """Judge the scores: compute them on events before --split, and measure how well
    each one's top K picks the customers whose content and referrals moved the most
    people in the --horizon after it (precision@K, lift, Spearman). See
    docs/backtest.md for the exact target.

    \b
    Examples:
      influence backtest events.csv --split 2026-04-01
      influence backtest events.csv --split 2026-04-01 --horizon 60d -k 200 --format json
      influence backtest mo.csv --config mo.toml --split 2012-12-31 --out bt/
    """
    from ..backtest import backtest as run

    setup_logging(True)
    config = configured(config_path, mapping)
    events = events_source(events, input_format)
    with reporter(quiet) as progress:
        result = run(events, split, k=k, config=config, input_format=input_format,
                     horizon=None if horizon.strip().lower() == "all" else horizon,
                     reporter=progress)
    if out_dir is not None:
        with save_errors(out_dir):
            result.save(out_dir)
    if fmt == "json":
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
