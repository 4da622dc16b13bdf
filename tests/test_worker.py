"""The forked Leiden worker never outlives its parent, and its death is reported.

Real processes: a parent killed with SIGKILL (its child must follow within seconds),
``influence analyze`` stopped with SIGTERM while its worker runs (one line, exit 143,
no worker left, the results folder untouched), and a worker killed as the kernel's
out-of-memory killer would (exit 5, one line naming SIGKILL and the
``[communities] parallel = false`` hint, not "this is a bug").
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from influence.errors import WorkerError
from influence.parallel import Background, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="the worker forks on Linux only")


def _children(pid: int) -> list[int]:
    """Live (non-zombie) child processes of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _python(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_worker_dies_with_its_parent():
    parent = _python("""
        import sys, time
        from influence.parallel import Background
        job = Background(time.sleep, (120,), fork=True)
        print(job.pid, flush=True)
        time.sleep(120)
    """)
    try:
        ready, _, _ = select.select([parent.stdout], [], [], 60)
        assert ready, parent.stderr.read()
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()  # SIGKILL: no handler, no finally
        parent.wait(timeout=30)
        assert _gone_within(child, 5), f"worker {child} outlived its parent"
    finally:
        parent.kill()
        parent.wait()


# ``influence analyze`` with Leiden forked even on a small graph, through a
# worker function that first does what the test asks (sleep, or die as the
# out-of-memory killer kills: SIGKILL)
_ANALYZE = """
    import os, signal, sys, time
    import influence.local as analysis
    from influence.cli import main

    analysis.PARALLEL_MIN_EDGES = 0
    inner = analysis._background

    def worker(*args):
        if sys.argv[1] == "sleep":
            time.sleep(120)
        else:
            os.kill(os.getpid(), signal.SIGKILL)
        return inner(*args)

    analysis._background = worker
    sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def events(tmp_path, small_events):
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    return path


def test_sigterm_ends_the_worker_and_leaves_the_folder(tmp_path, events):
    from influence import Analysis, analyze

    folder = analyze(events).save(tmp_path / "R")
    before = (folder / "manifest.json").read_bytes()
    parent = _python(_ANALYZE, "sleep", "analyze", str(events), "--out", str(folder), "-q")
    try:
        deadline = time.monotonic() + 60
        while not _children(parent.pid):
            assert parent.poll() is None and time.monotonic() < deadline, \
                parent.stderr.read()
            time.sleep(0.02)
        [child] = _children(parent.pid)
        parent.send_signal(signal.SIGTERM)
        out, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
        parent.wait()
    assert (parent.returncode, out, err) == (143, b"",
                                             b"influence: error: terminated (SIGTERM)\n")
    assert _gone_within(child, 5)
    assert (folder / "manifest.json").read_bytes() == before
    assert len(Analysis.load(folder).customers) == 6


def test_a_killed_worker_is_named_with_the_hint(tmp_path, events):
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(_ANALYZE), "kill", "analyze",
                          str(events), "--out", str(tmp_path / "R"), "-q"],
                         capture_output=True, timeout=120)
    message = run.stderr.decode()
    assert run.returncode == 5, message
    assert message.count("\n") == 1 and message.startswith("influence: error: the Leiden "
                                                           "worker process (pid ")
    assert "killed by SIGKILL" in message and "ran out of memory" in message
    assert "[communities] parallel = false" in message and "bug" not in message
    assert not (tmp_path / "R").exists()


def test_background_reports_a_child_killed_by_a_signal():
    def die():
        os.kill(os.getpid(), signal.SIGTERM)

    job = Background(die, fork=True, name="test worker")
    with pytest.raises(WorkerError, match=r"the test worker process \(pid \d+\) was stopped "
                                          r"by SIGTERM.*parallel = false"):
        job.result()
    assert not _alive(job.pid)
