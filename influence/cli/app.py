"""The program around the commands: ``main(argv) -> int``, signals, errors, exit statuses.

httpie's layering: :func:`main` runs the click group and maps every way a run can
end to one :class:`~influence.errors.ExitStatus` and at most one line on stderr;
the commands (``run``, ``results``, ``periods``, ``data``) only parse options and
call the Python API. Settings of one run (``--traceback``) live in a
:class:`Settings` object that click hands to every command as ``ctx.obj``, not in
module state, so that runs in one process (tests, notebooks) cannot leak into
each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__
from ..errors import ConfigError, ExitStatus, InfluenceError

__all__ = ["ExitStatus", "Settings", "cli", "execute", "main", "render_error"]

ISSUES_URL = "https://github.com/influence-dev/influence/issues"

#: Signals that end a command with one line and exit code 128 + the signal number.
STOP_SIGNALS = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)",
                "SIGHUP": "hangup: the terminal closed (SIGHUP)"}


@dataclasses.dataclass
class Settings:
    """What one run of the command line decided before its command ran (``ctx.obj``).

    Attributes
    ----------
    traceback : bool
        ``--traceback``: let an error propagate with its traceback instead of
        ending as one line.
    options : dict of str to str
        The API arguments set by an option in this run, by the key an error
        about them carries (``"horizon"``), with the option's name
        (``"--horizon"``): an error about that key names the option
        (:func:`render_error`).
    """

    traceback: bool = False
    options: dict[str, str] = dataclasses.field(default_factory=dict)


def render_error(error: InfluenceError, options: dict[str, str]) -> str:
    """The one line of ``error``, from its fields: a :class:`ConfigError` about a
    value an option set names the option (``option '--horizon' must be ...``),
    any other error is its message.

    >>> from influence.errors import ConfigError
    >>> error = ConfigError.invalid("horizon", "a positive number of days", "soon")
    >>> render_error(error, {"horizon": "--horizon"})
    "option '--horizon' must be a positive number of days; got 'soon'"
    >>> render_error(error, {})
    "config key 'horizon' must be a positive number of days; got 'soon'"
    """
    name = options.get(error.key) if error.key is not None else None
    if name is None or error.expected is None or not isinstance(error, ConfigError):
        return str(error)
    return error.describe(f"option '{name}'")


def fail(message: str) -> None:
    """Write the one error line: ``influence: error: MESSAGE``."""
    click.echo(f"influence: error: {message}", err=True)


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
    stopping: list[int] = []

    def stop(number, frame):
        if not stopping:
            stopping.append(number)
            raise _Stopped(number)

    previous = {}
    for name in STOP_SIGNALS:
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


def execute(group: click.Group, args: Sequence[str] | None = None, *,
        prog_name: str = "influence", **extra: Any) -> int:
    """Run ``group`` on ``args`` and return the exit status; errors become one line.

    With ``--traceback`` an error propagates instead (the caller sees the
    exception and Python prints its traceback).
    """
    settings = Settings()
    try:
        with _stop_on_signals():
            status = click.Group.main(group, args=args, prog_name=prog_name,
                                      standalone_mode=False, obj=settings, **extra)
    except _Stopped as stop:
        name = signal.Signals(stop.number).name
        fail(STOP_SIGNALS.get(name, name))
        return ExitStatus(128 + stop.number)
    except (KeyboardInterrupt, click.Abort):  # Ctrl-C outside our handler
        fail(STOP_SIGNALS["SIGINT"])
        return ExitStatus.INTERRUPTED
    except _StdoutFailed as exc:
        _silence_stdout()
        if exc.error.errno == errno.EPIPE:  # `| head`: the reader has what it wanted
            return ExitStatus.OUTPUT_CLOSED
        fail(f"cannot write to standard output: {exc.error.strerror or exc.error}; "
             "send the results to a file with --out or to a device with free space")
        return ExitStatus.SYSTEM
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else prog_name
        fail(f"{exc.format_message()} (see '{where} --help')")
        return ExitStatus.USAGE
    except click.ClickException as exc:
        fail(exc.format_message())
        return exc.exit_code
    except InfluenceError as exc:
        if settings.traceback:
            raise
        fail(render_error(exc, settings.options))
        return exc.exit_code
    except Exception as exc:  # a bug: say so, and where to report it
        if settings.traceback:
            raise
        fail(f"internal error ({type(exc).__name__}: {exc}). This is a bug; please "
             f"report it with the output of --traceback at {ISSUES_URL}")
        return ExitStatus.ERROR
    return status if isinstance(status, int) else ExitStatus.OK


class Group(click.Group):
    """The ``influence`` group: failures become one stderr line and an exit status.

    ``Group.main`` (what ``CliRunner.invoke`` and ``cli()`` call) exits with the
    status of :func:`execute`; :func:`main` returns it.
    """

    def make_context(self, *args, **kwargs):  # --help, --version
        with _stdout_checked():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):  # the commands
        with _stdout_checked():
            return super().invoke(ctx)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        sys.exit(execute(self, args, prog_name=prog_name or "influence",
                     complete_var=complete_var, **extra))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"],
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return its exit status.

    The console script ``influence`` is ``sys.exit(main())``.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name.

    Returns
    -------
    ExitStatus or int
        0 on success; see :class:`~influence.errors.ExitStatus` and ``docs/cli.md``.
    """
    return execute(cli, argv)
