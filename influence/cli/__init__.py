"""The ``influence`` command line: a thin client of the Python API.

Results go to stdout or files; warnings, progress and errors go to stderr.
Exit codes (:class:`~influence.errors.ExitStatus`): 0 success, 1 internal error
(a bug), 2 usage error, 3 input data error, 4 config error, 5 the system
stopped the run (out of memory, disk full, output not writable); 130
interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hangup, 141 standard output
closed. An error is one line, ``influence: error: ...``; add ``--traceback`` to
see where it came from.

Layout (one module per command group, each only parsing options and calling the
API): :mod:`.app` (``main``, the group, signals, errors), :mod:`.options`
(shared options and options bound to config keys), :mod:`.output` (stderr
logging, progress, tables), :mod:`.run` (``analyze``), :mod:`.results`
(``top``, ``report``, ``export``), :mod:`.periods` (``compare``,
``backtest``), :mod:`.data` (``validate``, ``generate``, ``propagators``),
:mod:`.completion` (``completion``).
Each command imports what it computes with when it runs, so ``influence
--help`` loads neither pandas nor igraph.

>>> main(["--version"])  # doctest: +SKIP
influence 0.1.0
0
"""

from __future__ import annotations

import sys

try:  # Ctrl-C while the command line starts: one line, not a traceback
    from . import completion, data, periods, results, run  # noqa: F401 - they add the commands
    from .app import ExitStatus, cli, main
except KeyboardInterrupt:  # pragma: no cover - timing
    sys.stderr.write("influence: error: interrupted\n")
    raise SystemExit(130) from None

__all__ = ["ExitStatus", "cli", "main"]
