"""The exception family of ``influence``.

Every error the package raises on purpose is an :class:`InfluenceError`. Each
subclass also subclasses the builtin it refines, so ``except ValueError`` keeps
working for callers who do not know this package. Each class carries its exit
status (:class:`ExitStatus`), which the command line uses (see ``docs/cli.md``).

An error about one value can carry structured fields besides its message:
``key`` (the dotted config key or parameter), ``expected`` (what the value
must be), ``got`` (the value) and ``hint``. The message is built from them
(:meth:`ConfigError.invalid`), and a caller that knows the value by another
name (the command line knows ``window.since`` as ``--since``) renders the
same fields under that name (:meth:`InfluenceError.describe`).

Examples
--------
>>> error = ConfigError.invalid("communities.resolution", "a number > 0", -1)
>>> str(error)
"config key 'communities.resolution' must be a number > 0; got -1"
>>> error.describe("option '--resolution'")
"option '--resolution' must be a number > 0; got -1"
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = ["ExitStatus", "InfluenceError", "InputError", "InputTypeError", "ConfigError",
           "ConfigTypeError", "OutputError", "WorkerError", "EXIT_CODES"]


class ExitStatus(IntEnum):
    """Exit statuses of the command line, by meaning (a promise to scripts).

    A run stopped by a signal exits 128 + its number: 130 for Ctrl-C (SIGINT),
    143 for SIGTERM, 129 for SIGHUP; 141 when standard output is closed (SIGPIPE).
    """

    OK = 0
    ERROR = 1            # an internal error: a bug
    USAGE = 2            # unknown flag, missing argument, bad flag value
    INPUT = 3            # the input data cannot be used
    CONFIG = 4           # unknown key, wrong type or range; a missing engine dependency
    SYSTEM = 5           # out of memory, disk full, output not writable
    HANGUP = 129         # SIGHUP
    INTERRUPTED = 130    # SIGINT (Ctrl-C)
    OUTPUT_CLOSED = 141  # SIGPIPE: the reader of standard output went away
    TERMINATED = 143     # SIGTERM


class _Unset:
    """The value of ``got`` when no value was found (not even ``None``)."""

    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self) -> str:
        return "_UNSET"  # one object, also after pickling (worker processes)


_UNSET: Any = _Unset()


def _show(value: Any) -> str:
    """A value as an error message quotes it: ``repr``, and dates as ISO text."""
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat) and not isinstance(value, type):
        text = isoformat()
        return repr(text[:10] if text.endswith("T00:00:00+00:00") else text)
    return repr(value)


class InfluenceError(Exception):
    """Base class of every error raised on purpose by ``influence``.

    Parameters
    ----------
    *args : str
        The message: one line saying what was wrong, what was expected, what
        was got, a hint.
    key : str, optional
        What it is about: a dotted config key (``communities.resolution``), a
        column, an argument (``snapshots``).
    expected : optional
        What the value must be, as a phrase that follows "must be"
        (``"a number > 0"``) where the error is about one value.
    got : optional
        The value found (not given: no value, which differs from ``None``).
    hint : str, optional
        What to do about it.

    Notes
    -----
    The fields are also attributes (``None`` when not given; ``got`` then the
    unset marker), and survive pickling (errors raised in a worker process
    reach the caller whole). :meth:`describe` renders the fields under another
    name for the value.

    Examples
    --------
    >>> err = ConfigError("bad", key="communities.resolution", expected="> 0", got=-1)
    >>> (err.key, err.expected, err.got, err.hint, str(err))
    ('communities.resolution', '> 0', -1, None, 'bad')
    """

    exit_code = ExitStatus.ERROR

    def __init__(self, *args, key: str | None = None, expected: Any = None,
                 got: Any = _UNSET, hint: str | None = None) -> None:
        super().__init__(*args)
        self.key = key
        self.expected = expected
        self.got = got
        self.hint = hint

    def __reduce__(self):
        return (_rebuild, (type(self), self.args, self.fields()))

    def fields(self) -> dict:
        """``key``, ``expected``, ``got`` and ``hint``, where given."""
        given = {name: getattr(self, name, None) for name in ("key", "expected", "hint")}
        given = {name: value for name, value in given.items() if value is not None}
        got = getattr(self, "got", _UNSET)
        return given if got is _UNSET else {**given, "got": got}

    def describe(self, subject: str) -> str:
        """The message with ``subject`` naming the value (``"option '--since'"``):
        ``SUBJECT must be EXPECTED; got GOT. HINT``.

        Errors without ``expected`` have no such form: their message is returned.
        """
        if self.expected is None:
            return str(self)
        text = f"{subject} must be {self.expected}"
        if self.got is not _UNSET:
            text += f"; got {_show(self.got)}"
        return f"{text}. {self.hint}" if self.hint else text

    def naming(self, subject: str) -> InfluenceError:
        """The same error with its message naming the value as ``subject`` (see
        :meth:`describe`): the command line names ``window.since`` ``option '--since'``
        when the value came from ``--since``."""
        return type(self)(self.describe(subject), **self.fields())


def _rebuild(cls, args, fields):
    return cls(*args, **fields)


class InputError(InfluenceError, ValueError):
    """The input data cannot be used: unreadable, empty, missing or unmappable
    column, undeclared event type. Exit code 3."""

    exit_code = ExitStatus.INPUT


class InputTypeError(InputError, TypeError):
    """An input argument of a type no reader takes (neither a path, a query, a
    DataFrame nor an Arrow table). Also a :class:`TypeError`. Exit code 3."""


class ConfigError(InfluenceError, ValueError):
    """The configuration is invalid: unknown key, wrong type or range. Exit code 4."""

    exit_code = ExitStatus.CONFIG

    @classmethod
    def invalid(cls, key: str, expected: str, got: Any = _UNSET, *, hint: str | None = None,
                subject: str | None = None) -> ConfigError:
        """The error for config key ``key`` whose value ``got`` is not ``expected``:
        ``config key 'KEY' must be EXPECTED; got GOT`` (``subject`` instead of
        ``config key 'KEY'`` for a value with another name, such as an option)."""
        error = cls(key=key, expected=expected, got=got, hint=hint)
        error.args = (error.describe(subject or f"config key '{key}'"),)
        return error


class ConfigTypeError(ConfigError, TypeError):
    """A ``config=`` argument of the wrong type (neither a config, a path nor a
    mapping). Also a :class:`TypeError`. Exit code 4."""


class OutputError(InfluenceError, OSError):
    """A result cannot be written: the disk is full, a folder is not writable,
    standard output is full or closed. Exit code 5."""

    exit_code = ExitStatus.SYSTEM


class WorkerError(InfluenceError, RuntimeError):
    """A worker process ended without a result: the system killed it (most
    often for lack of memory) or it exited. Exit code 5."""

    exit_code = ExitStatus.SYSTEM


#: Exit codes of the command line, by meaning (:class:`ExitStatus` as a dict).
EXIT_CODES = {
    "success": int(ExitStatus.OK),
    "internal": int(ExitStatus.ERROR),
    "usage": int(ExitStatus.USAGE),
    "input": int(InputError.exit_code),
    "config": int(ConfigError.exit_code),
    "system": int(OutputError.exit_code),
    "hangup": int(ExitStatus.HANGUP),
    "interrupted": int(ExitStatus.INTERRUPTED),
    "output_closed": int(ExitStatus.OUTPUT_CLOSED),
    "terminated": int(ExitStatus.TERMINATED),
}
