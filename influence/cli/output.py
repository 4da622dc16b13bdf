"""What the commands show and write: logging on stderr, the progress display,
tables on stdout, files beside a results folder."""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import OutputError

__all__ = ["setup_logging", "RichReporter", "reporter", "render", "write_list",
           "write_beside", "recover", "save_errors", "stdout_is_terminal", "terminal_width",
           "rich_table", "table_text"]


def setup_logging(quiet: bool) -> None:
    """Library warnings as ``influence: warning: ...`` lines on stderr (errors only
    with ``quiet``)."""
    import logging  # here, not at the top: influence --help does without it

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("influence: warning: %(message)s"))
    root = logging.getLogger("influence")
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)
    root.propagate = False


class RichReporter:
    """A rich progress display of the stages on stderr (a
    :class:`influence.progress.Reporter`): a spinner on the running stage, a bar
    and a count while a long stage says how far it is, a tick and its time on each
    finished one. One line per stage name: a stage that runs again (snapshots) adds
    its time to its line. Used only when stderr is a terminal."""

    def __init__(self, console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]\u2713[/green]"),
            TextColumn("{task.description:<16}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[count]:>15}"),
            TextColumn("{task.fields[seconds]}", style="dim"),
            console=self.console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.started = False

    def __enter__(self) -> RichReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, stage: str) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        if stage in self.tasks:
            self.progress.update(self.tasks[stage], completed=0, total=None)
        else:
            self.tasks[stage] = self.progress.add_task(stage, total=None, seconds="",
                                                       count="")

    def advance(self, stage: str, completed: int, total: int) -> None:
        task = self.tasks.get(stage)
        if task is not None:
            self.progress.update(task, completed=completed, total=max(total, completed),
                                 count=f"{completed}/{max(total, completed)}")

    def done(self, stage: str, seconds: float) -> None:
        task = self.tasks.get(stage)
        if task is not None:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, total=total, completed=total,
                                 seconds=f"{self.seconds[stage]:8.2f} s")

    def close(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False


class _Quiet:
    """The reporter when progress is off: does nothing."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, stage: str) -> None:
        pass

    def done(self, stage: str, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


def reporter(quiet: bool) -> RichReporter | _Quiet:
    """The progress display: rich on a terminal stderr, else nothing (``-q``, a pipe,
    a file, a CI log)."""
    if quiet or not sys.stderr.isatty():
        return _Quiet()
    return RichReporter()


def render(table, fmt: str) -> str:
    """A table as text for stdout: JSON records, CSV (cells neutralised against
    spreadsheet formulas) or an aligned table."""
    from ..io import neutralize_formulas

    if fmt == "json":
        return table.to_json(orient="records", force_ascii=False, indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        safe = table.copy()
        for column in safe.columns:
            safe[column] = neutralize_formulas(safe[column])
        return safe.to_csv(index=False, float_format="%.10g", lineterminator="\n",
                           sep="\t" if fmt == "tsv" else ",")
    return table.to_string(index=False) + "\n"


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (``TTY_COMPATIBLE=1``/``0`` decides, as
    for rich; ``FORCE_COLOR`` does not: piped output stays plain for scripts)."""
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS`` first, as :func:`shutil.get_terminal_size`)."""
    import shutil

    return max(20, shutil.get_terminal_size((100, 24)).columns)


def _printable(text: str) -> str:
    """``text`` with control characters written as ``\\xNN``: an id holding an escape
    sequence cannot recolour, move or retitle the terminal it is printed to."""
    import re

    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def _cells(column) -> list[str]:
    """A column's values as text: numbers to 4 significant digits, missing as empty,
    control characters escaped (:func:`_printable`)."""
    import pandas as pd

    kind = column.dtype
    if pd.api.types.is_float_dtype(kind):
        return ["" if pd.isna(v) else f"{v:.4g}" for v in column]
    return ["" if v is None or (not isinstance(v, str) and pd.isna(v)) else _printable(str(v))
            for v in column]


def rich_table(frame, *, width: int | None, flexible: tuple[str, ...] = (),
               optional: tuple[str, ...] = ()) -> str:
    """``frame`` as a rich table for a terminal ``width`` columns wide, as text.

    Every column keeps its full width on one line except the ``flexible`` ones
    (``segment_reason``), which get what is left and are cut with an ellipsis,
    never below 12 columns; when even that does not fit, the ``optional``
    columns are left out (last first) and a caption names them. ``width=None``
    (``--wide``) shows every column and every cell in full, however wide.
    """
    import pandas as pd
    from rich import box
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    texts = {_printable(str(name)): _cells(frame[name]) for name in frame.columns}
    natural = {name: max([cell_len(name), *map(cell_len, cells)])
               for name, cells in texts.items()}
    shown = list(texts)
    left_out: list[str] = []

    def needed(names):  # two spaces between columns: a right padding and the divider
        fixed = sum(natural[c] if c not in flexible else min(natural[c], max(len(c), 12))
                    for c in names)
        return fixed + 2 * (len(names) - 1)

    if width is not None:
        for name in reversed([c for c in optional if c in shown]):
            if needed(shown) <= width:
                break
            shown.remove(name)
            left_out.insert(0, name)
    spare = math.inf if width is None else width - needed(shown)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  header_style="bold",
                  caption=(f"{len(left_out)} more column{'s' * (len(left_out) > 1)}: "
                           f"{', '.join(left_out)} (--wide shows all)") if left_out else None,
                  caption_justify="left")
    kinds = dict(zip(texts, frame.dtypes, strict=True))
    for name in shown:
        numeric = pd.api.types.is_numeric_dtype(kinds[name])
        column_width = natural[name]
        if name in flexible and spare < math.inf:
            least = min(natural[name], max(len(name), 12))
            column_width = min(natural[name], least + max(0, int(spare)))
            spare -= column_width - least
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True,
                         overflow="ellipsis", width=column_width,
                         style="dim" if name in flexible else None)
    for row in zip(*(texts[name] for name in shown), strict=True):
        table.add_row(*row)
    total = sum(c.width or 0 for c in table.columns) + 2 * (len(shown) - 1)
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(total, width or 0, 20), force_terminal=True,
                      highlight=False, emoji=False, markup=False)
    console.print(table)
    return buffer.getvalue()


def table_text(frame, fmt: str, *, wide: bool = False, flexible: tuple[str, ...] = (),
               optional: tuple[str, ...] = ()) -> str:
    """What a list prints as ``fmt``: ``table`` is a rich table on a terminal (fitted to
    its width unless ``wide``) and the plain aligned text elsewhere, byte for byte
    what earlier versions printed; ``csv``, ``tsv``, ``json`` as :func:`render`."""
    if fmt != "table" or not stdout_is_terminal():
        return render(frame, fmt)
    return rich_table(frame, width=None if wide else terminal_width(), flexible=flexible,
                      optional=optional)


def write_list(table, path: Path, fmt: str) -> None:
    """Write a list (``top --out``) as CSV, Parquet, JSON or a text table."""
    from ..io import write_table

    try:
        if fmt in ("csv", "parquet"):
            write_table(table, path, fmt)
        else:
            path.write_text(render(table, fmt), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None


@contextlib.contextmanager
def save_errors(where: Any, suffix: str = "") -> Iterator[None]:
    """Turn an ``OSError`` of a save into one :class:`OutputError` line (exit 5)
    naming ``where``."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write results to {where!r}: {exc.strerror or exc}"
                          f"{suffix}") from None


def recover(path) -> None:
    """Put back a results folder that a killed save left missing, so that a command
    taking EVENTS_OR_DIR sees a folder (:func:`influence.folder.recover`)."""
    from .. import folder as results_folder

    results_folder.recover(path)


def write_beside(folder, path: Path, write) -> None:
    """Write ``path`` for ``report``/``export``: into results folder ``folder``
    through its lock and swap, the manifest listing the new file
    (:func:`influence.folder.update_file`); anywhere else, atomically."""
    from .. import folder as results_folder

    try:
        if path.resolve().parent == Path(folder).resolve():
            results_folder.update_file(folder, path.name, write)
        else:
            results_folder.write_file(path, write)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
