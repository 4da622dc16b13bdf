"""Run one stage in a second process while the caller goes on.

The stages after the graph is built are single-threaded library kernels
(python-igraph holds the GIL, so threads do not overlap). On the 2-core
machines this package is designed for, the slowest one, Leiden, runs in a
forked child process while the parent computes centrality, activity,
referrals and reach. The child inherits the built graph copy-on-write (no
pickling of the graph); only its result comes back, through a pipe. Results
are identical to running inline: the same code runs on the same graph with
the same seed.

The child never outlives its parent: on Linux it asks the kernel for SIGKILL
when the parent dies (``prctl(PR_SET_PDEATHSIG)``), however the parent dies
(SIGKILL included); the parent kills it when it fails or is interrupted before
the result (:meth:`Background.cancel`); and it takes the default action on
SIGINT, SIGTERM and SIGHUP rather than the parent's handlers. When the child
dies first (the kernel's out-of-memory killer), the parent sees the end of the
pipe and raises :class:`~influence.errors.WorkerError` naming the signal.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from .errors import WorkerError

__all__ = ["Background", "can_fork"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def can_fork() -> bool:
    """True where a forked child is safe and available (Linux)."""
    return sys.platform.startswith("linux") and \
        "fork" in multiprocessing.get_all_start_methods()


class Background:
    """``func(*args)`` in a forked process (or inline when ``fork`` is False).

    Parameters
    ----------
    func : callable
    args : tuple, default=()
    fork : bool, default=True
        Run in a forked child (where :func:`can_fork`), else inline, now.
    name : str, default="worker"
        What the child computes, for error messages ("the Leiden worker process").

    Attributes
    ----------
    forked : bool
        Whether it runs in a child process.
    seconds : float
        Wall seconds ``func`` took (set once :meth:`result` returned).
    pid : int or None
        The child's process id (``None`` inline).
    """

    def __init__(self, func: Callable[..., Any], args: tuple = (), *, fork: bool = True,
                 name: str = "worker"):
        self.forked = bool(fork) and can_fork()
        self.name = name
        self.pid = None
        self.seconds = float("nan")
        self._value: Any = None
        if not self.forked:
            began = time.perf_counter()
            self._value = func(*args)
            self.seconds = time.perf_counter() - began
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_child, args=(send, func, args, os.getpid()),
                                        daemon=True)
        self._process.start()
        self.pid = self._process.pid
        send.close()

    def result(self) -> Any:
        """Wait for the value; an exception in the child is raised here."""
        if not self.forked:
            return self._value
        try:
            status, payload, seconds = self._receive.recv()
        except EOFError:  # the child's end closed without a result: it died
            self._process.join()
            raise WorkerError(self._death(self._process.exitcode)) from None
        finally:
            self._receive.close()
        self._process.join()
        if status == "error":
            raise payload
        self.seconds = seconds
        return payload

    def _death(self, code: int | None) -> str:
        what = f"the {self.name} process (pid {self.pid})"
        hint = ("Set [communities] parallel = false in the config to run everything in "
                "one process, which needs less memory at its peak")
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return (f"{what} was killed by SIGKILL before it returned a result; the "
                        "system most likely ran out of memory (the kernel's out-of-memory "
                        f"killer sends SIGKILL; see dmesg). {hint}")
            return (f"{what} was stopped by {name} before it returned a result (sent by "
                    f"another process). {hint}")
        return f"{what} exited (code {code}) without a result. {hint}"

    def cancel(self) -> None:
        """Stop the child (when the caller fails or is interrupted before the result)."""
        if self.forked and self._process.exitcode is None:
            self._process.kill()
            self._process.join()


def _prctl():
    """libc's ``prctl`` (Linux), looked up before forking; ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None


_PRCTL = _prctl()


def _child(send, func: Callable[..., Any], args: tuple, parent: int) -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)  # not the parent's handlers: just end
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
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
