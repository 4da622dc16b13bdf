"""Run one stage in a second process while the caller goes on.

The stages after the graph is built are single-threaded library kernels
(python-igraph holds the GIL, so threads do not overlap). On the 2-core
machines this package is designed for, the slowest one, Leiden, runs in a
forked child process while the parent computes centrality, activity,
referrals and reach. The child inherits the built graph copy-on-write (no
pickling of the graph); only its result comes back, through a pipe. Results
are identical to running inline: the same code runs on the same graph with
the same seed.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from typing import Any, Callable

__all__ = ["Background", "can_fork"]


def can_fork() -> bool:
    """True where a forked child is safe and available (Linux)."""
    return sys.platform.startswith("linux") and \
        "fork" in multiprocessing.get_all_start_methods()


class Background:
    """``func(*args)`` in a forked process (or inline when ``fork`` is False).

    Attributes
    ----------
    forked : bool
        Whether it runs in a child process.
    seconds : float
        Wall seconds ``func`` took (set once :meth:`result` returned).
    """

    def __init__(self, func: Callable[..., Any], args: tuple = (), *, fork: bool = True):
        self.forked = bool(fork) and can_fork()
        self.seconds = float("nan")
        self._value: Any = None
        if not self.forked:
            began = time.perf_counter()
            self._value = func(*args)
            self.seconds = time.perf_counter() - began
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_child, args=(send, func, args), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> Any:
        """Wait for the value; an exception in the child is raised here."""
        if not self.forked:
            return self._value
        try:
            status, payload, seconds = self._receive.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(
                f"the worker process died without a result (exit code "
                f"{self._process.exitcode}; out of memory?). Set [communities] "
                "parallel = false to run everything in one process") from None
        finally:
            self._receive.close()
        self._process.join()
        if status == "error":
            raise payload
        self.seconds = seconds
        return payload

    def cancel(self) -> None:
        """Stop the child (when the caller fails before asking for the result)."""
        if self.forked and self._process.is_alive():
            self._process.kill()
            self._process.join()


def _child(send, func: Callable[..., Any], args: tuple) -> None:
    began = time.perf_counter()
    try:
        try:
            message = ("ok", func(*args), time.perf_counter() - began)
        except BaseException as exc:  # sent back and raised in the parent
            message = ("error", exc, 0.0)
        try:
            send.send(message)
        except Exception as exc:  # an unpicklable result or exception
            send.send(("error", RuntimeError(f"worker process: {exc!r}"), 0.0))
        send.close()
    finally:
        os._exit(0)  # no atexit handlers or buffers of the parent in the child
