"""What the commands show and write: logging on stderr, the progress display,
tables on stdout, files beside a results folder."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import OutputError

__all__ = ["setup_logging", "RichReporter", "reporter", "render", "write_list",
           "write_beside", "recover", "save_errors"]


def setup_logging(quiet: bool) -> None:
    """Library warnings as ``influence: warning: ...`` lines on stderr (errors only
    with ``quiet``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("influence: warning: %(message)s"))
    root = logging.getLogger("influence")
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)
    root.propagate = False


class RichReporter:
    """A rich progress display of the stages on stderr: a spinner on the running stage,
    a tick and its time on each finished one (a :class:`influence.progress.Reporter`).
    Used only when stderr is a terminal."""

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


class _Quiet:
    """The reporter when progress is off: does nothing."""

    def start(self, stage: str) -> None:
        pass

    def done(self, stage: str, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


def reporter(quiet: bool) -> RichReporter | _Quiet:
    """The progress display: rich on a terminal stderr, else nothing."""
    if quiet or not sys.stderr.isatty():
        return _Quiet()
    return RichReporter()


def render(table, fmt: str) -> str:
    """A table as text for stdout: JSON records, CSV (cells neutralised against
    spreadsheet formulas) or an aligned table."""
    from ..io import neutralize_formulas

    if fmt == "json":
        return table.to_json(orient="records", force_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        safe = table.copy()
        for column in safe.columns:
            safe[column] = neutralize_formulas(safe[column])
        return safe.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    return table.to_string(index=False) + "\n"


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
