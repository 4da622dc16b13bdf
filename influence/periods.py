"""Points in time and lengths of time given on the command line or to the API.

Shared by ``compare``, ``backtest`` and snapshots so that every command reads
dates and durations the same way.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .errors import ConfigError

__all__ = ["parse_instant", "parse_days"]

_DAYS = re.compile(r"^\s*(\d+)\s*(d|days?)?\s*$", re.IGNORECASE)
_WEEKS = re.compile(r"^\s*(\d+)\s*(w|weeks?)\s*$", re.IGNORECASE)


def parse_instant(key: str, value: Any) -> pd.Timestamp:
    """Parse an ISO 8601 date or datetime to a UTC :class:`pandas.Timestamp`.

    A date alone means midnight UTC at its start; text without a zone is UTC.

    Parameters
    ----------
    key : str
        The name of the argument the value was given as (``"split"``): the
        error's ``key``, and its message's subject.
    value : str or datetime-like

    Raises
    ------
    ConfigError
        The value does not parse: ``argument 'KEY' must be an ISO 8601 date ...``
        (exit code 4, as for ``--since``; the command line names its option).

    Examples
    --------
    >>> parse_instant("split", "2026-04-01")
    Timestamp('2026-04-01 00:00:00+0000', tz='UTC')
    """
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        raise ConfigError.invalid(key, "an ISO 8601 date like 2026-01-31", value,
                                  subject=f"argument '{key}'")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_days(key: str, value: Any) -> int:
    """Parse a length of time in whole days: ``30``, ``30d``, ``30 days`` or ``4w``.

    Parameters
    ----------
    key : str
        The name of the argument the value was given as (``"horizon"``): the
        error's ``key``, and its message's subject.
    value : int or str

    Raises
    ------
    ConfigError
        Not a positive whole number of days or weeks: ``argument 'KEY' must be a
        positive number of days ...`` (the command line names its option).

    Examples
    --------
    >>> parse_days("horizon", "30d"), parse_days("horizon", "2w"), parse_days("x", 7)
    (30, 14, 7)
    >>> try:
    ...     parse_days("horizon", "soon")
    ... except ConfigError as error:
    ...     print(error.key, error.got)
    horizon soon
    """
    if isinstance(value, int) and not isinstance(value, bool):
        days = value
    else:
        text = str(value)
        match = _DAYS.match(text)
        weeks = _WEEKS.match(text)
        if match:
            days = int(match.group(1))
        elif weeks:
            days = 7 * int(weeks.group(1))
        else:
            days = 0
    if days <= 0:
        raise ConfigError.invalid(key, "a positive number of days like 30d (or weeks like "
                                  "4w)", value, subject=f"argument '{key}'")
    return days

