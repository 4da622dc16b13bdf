"""One small interface for stage timing and progress.

The library never prints: :func:`influence.analyze` reports each stage to a
``reporter`` (anything with ``start(stage)`` and ``done(stage, seconds)``),
and records the timings for the manifest. The CLI passes a reporter that
draws on stderr with rich when stderr is a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Reporter", "StageClock"]


class Reporter(Protocol):
    def start(self, stage: str) -> None: ...

    def done(self, stage: str, seconds: float) -> None: ...


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
