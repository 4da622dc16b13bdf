"""One small interface for stage timing and progress.

The library never prints: :func:`influence.analyze` reports each stage to a
``reporter`` (anything with ``start(stage)`` and ``done(stage, seconds)``),
and records the timings for the manifest. A long stage (``propagators``,
``spread``, ``report``) also reports how far it is, to a reporter that has
``advance(stage, completed, total)``; the stage hands the work a callback from
:meth:`StageClock.steps`, which does nothing for a reporter without it. The CLI
passes a reporter that draws on stderr with rich when stderr is a terminal.

A stage has one name, and a reporter shows it on one line however often it
runs (``snapshots``' analyses, both periods of ``compare`` under
:func:`prefixed` names).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Reporter", "Advance", "StageClock", "prefixed", "no_progress"]

#: ``advance(completed, total)``: how far the running stage is (``total`` may grow).
Advance = Callable[[int, int], None]


class Reporter(Protocol):
    """What :class:`StageClock` reports to (``advance(stage, completed, total)``
    is optional: a reporter without it sees stages start and end only)."""

    def start(self, stage: str) -> None: ...

    def done(self, stage: str, seconds: float) -> None: ...


def no_progress(completed: int, total: int) -> None:
    """The :data:`Advance` callback of work nobody watches."""


class StageClock:
    """Times named stages and forwards them to an optional reporter."""

    def __init__(self, reporter: Reporter | None = None) -> None:
        self.reporter = reporter
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.reporter is not None:
            self.reporter.start(name)
        began = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - began
            self.timings[name] = self.timings.get(name, 0.0) + seconds
            if self.reporter is not None:
                self.reporter.done(name, seconds)

    def steps(self, name: str) -> Advance:
        """The callback through which the work of stage ``name`` says how far it is."""
        advance = getattr(self.reporter, "advance", None)
        if advance is None:
            return no_progress

        def step(completed: int, total: int) -> None:
            advance(name, completed, total)

        return step


class _Prefixed:
    """A reporter passing every stage on to another under ``prefix + stage``."""

    def __init__(self, reporter: Reporter, prefix: str) -> None:
        self.reporter = reporter
        self.prefix = prefix
        if hasattr(reporter, "advance"):
            self.advance = self._advance

    def start(self, stage: str) -> None:
        self.reporter.start(self.prefix + stage)

    def done(self, stage: str, seconds: float) -> None:
        self.reporter.done(self.prefix + stage, seconds)

    def _advance(self, stage: str, completed: int, total: int) -> None:
        self.reporter.advance(self.prefix + stage, completed, total)  # type: ignore[attr-defined]


def prefixed(reporter: Reporter | None, prefix: str) -> Reporter | None:
    """``reporter`` naming each stage ``prefix + stage`` (``compare``: ``"old graph"``)."""
    return None if reporter is None else _Prefixed(reporter, prefix)
