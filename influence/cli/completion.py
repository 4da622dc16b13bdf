"""``influence completion SHELL``: the shell completion script, and what it completes.

Click completes commands, options, choices and paths; :func:`segment_names`
completes ``--segment`` with segment names.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .app import cli

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

__all__ = ["completion", "segment_names", "complete_segment", "SHELLS", "COMPLETE_VAR"]

#: Shells :func:`completion` writes a script for.
SHELLS = ("bash", "zsh", "fish")

#: The environment variable the completion scripts set when they ask for candidates.
COMPLETE_VAR = "_INFLUENCE_COMPLETE"


def segment_names(folder: str | Path | None = None) -> list[str]:
    """Segment names to complete: the built-in ones, then those of ``folder``'s
    ``segments.csv`` (a results folder, whose config may define its own).

    Parameters
    ----------
    folder : path, optional
        A results folder; anything else (an events file, a missing folder, an
        unreadable ``segments.csv``) adds nothing.

    Returns
    -------
    list of str
        Names without repeats, built-in ones first, in their priority order.
    """
    from ..schema import SEGMENTS

    names = list(SEGMENTS)
    table = Path(folder) / "segments.csv" if folder else None
    if table is not None and table.is_file():
        try:
            with table.open(newline="", encoding="utf-8") as file:
                names += [row["segment"] for row in csv.DictReader(file) if row.get("segment")]
        except (OSError, UnicodeDecodeError, KeyError, csv.Error):
            pass
    return list(dict.fromkeys(names))


def complete_segment(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[CompletionItem]:
    """Click's ``shell_complete`` for ``--segment``: names starting with what is typed,
    from the built-in rules and the ``DIR`` given earlier on the line, if any."""
    from click.shell_completion import CompletionItem

    source = ctx.params.get("source")
    if source is None:  # click leaves DIR unassigned while --segment waits for its value
        source = next((arg for arg in ctx.args if not arg.startswith("-")), None)
    return [CompletionItem(name) for name in segment_names(source)
            if name.startswith(incomplete)]


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell):
    """Print the shell completion script for SHELL (bash, zsh or fish).

    It completes commands, options, their choices, file names and --segment
    (the built-in segment names, and those of DIR's segments.csv when the
    results folder DIR comes earlier on the line).

    \b
    Examples:
      eval "$(influence completion bash)"        # in ~/.bashrc
      eval "$(influence completion zsh)"         # in ~/.zshrc
      influence completion fish > ~/.config/fish/completions/influence.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # every name in SHELLS is one of click's
    click.echo(cls(cli, {}, "influence", COMPLETE_VAR).source())
