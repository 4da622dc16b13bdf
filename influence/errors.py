"""The exception family of ``influence``.

Every error the package raises on purpose is an :class:`InfluenceError`. Each
subclass also subclasses the builtin it refines, so ``except ValueError`` keeps
working for callers who do not know this package. The command line maps each
class to one exit code (see ``docs/cli.md``).
"""

from __future__ import annotations

__all__ = ["InfluenceError", "InputError", "ConfigError", "ConfigTypeError",
           "OutputError", "WorkerError", "EXIT_CODES"]


class InfluenceError(Exception):
    """Base class of every error raised on purpose by ``influence``.

    Parameters
    ----------
    message : str
        One line: what was wrong, what was expected, what was got, a hint.
    key : str, optional
        What it is about: a dotted config key (``communities.resolution``), a
        column, an argument (``snapshots``).
    expected, got : optional
        The expectation and the value found, for renderers that lay them out
        (the command line prints ``message``).
    hint : str, optional
        What to do about it.

    The fields are also attributes (``None`` when not given), and survive
    pickling (errors raised in a worker process reach the caller whole).

    >>> err = ConfigError("bad", key="communities.resolution", expected="> 0", got=-1)
    >>> (err.key, err.expected, err.got, err.hint, str(err))
    ('communities.resolution', '> 0', -1, None, 'bad')
    """

    exit_code = 1

    def __init__(self, *args, key: str | None = None, expected=None, got=None,
                 hint: str | None = None) -> None:
        super().__init__(*args)
        self.key = key
        self.expected = expected
        self.got = got
        self.hint = hint

    def __reduce__(self):
        return (_rebuild, (type(self), self.args, self.fields()))

    def fields(self) -> dict:
        """``key``, ``expected``, ``got`` and ``hint``, where given."""
        return {name: getattr(self, name) for name in ("key", "expected", "got", "hint")
                if getattr(self, name, None) is not None}


def _rebuild(cls, args, fields):
    return cls(*args, **fields)


class InputError(InfluenceError, ValueError):
    """The input data cannot be used: unreadable, empty, missing or unmappable
    column, undeclared event type. Exit code 3."""

    exit_code = 3


class ConfigError(InfluenceError, ValueError):
    """The configuration is invalid: unknown key, wrong type or range. Exit code 4."""

    exit_code = 4


class ConfigTypeError(ConfigError, TypeError):
    """A ``config=`` argument of the wrong type (neither a config, a path nor a
    mapping). Also a :class:`TypeError`. Exit code 4."""


class OutputError(InfluenceError, OSError):
    """A result cannot be written: the disk is full, a folder is not writable,
    standard output is full or closed. Exit code 5."""

    exit_code = 5


class WorkerError(InfluenceError, RuntimeError):
    """A worker process ended without a result: the system killed it (most
    often for lack of memory) or it exited. Exit code 5."""

    exit_code = 5


#: Exit codes of the command line, by meaning (a promise to scripts). A run
#: stopped by a signal exits 128 + its number: 130 for Ctrl-C (SIGINT), 143 for
#: SIGTERM, 129 for SIGHUP; 141 when standard output is closed (SIGPIPE).
EXIT_CODES = {
    "success": 0,
    "internal": 1,
    "usage": 2,
    "input": InputError.exit_code,
    "config": ConfigError.exit_code,
    "system": OutputError.exit_code,
    "hangup": 129,
    "interrupted": 130,
    "output_closed": 141,
    "terminated": 143,
}
