"""Results folders are all-or-nothing: real processes killed mid-save, readers that
refuse a folder which does not match its manifest, the write lock, and the command
line's answers to signals and to a standard output that cannot be written.

The kills use the save's testing aid (``influence.folder.checkpoint``): with
``INFLUENCE_TEST_SAVE_STOP=STEP`` a save says on stderr that it reached STEP and sleeps
there, so the test kills it at a known moment instead of racing it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import influence
from influence import Analysis, analyze
from influence.cli import cli
from influence.errors import InputError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="signals, /proc and /dev/full as on Linux")


OLD_CUSTOMERS = 40


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Results of 40 synthetic customers, once per format, with report in CSV (tests copy
    them)."""
    result = analyze(influence.generate_events(OLD_CUSTOMERS, seed=2)[0])
    where = tmp_path_factory.mktemp("saved")
    return {fmt: result.save(where / fmt, fmt, report=fmt == "csv")
            for fmt in ("csv", "parquet")}


@pytest.fixture
def old(tmp_path, saved):
    """A good earlier result in R (with report) and the customers it lists."""
    folder = Path(shutil.copytree(saved["csv"], tmp_path / "R"))
    ids = sorted(Analysis.load(folder).customers["customer_id"])
    assert len(ids) == OLD_CUSTOMERS
    return folder, ids


@pytest.fixture(scope="module")
def new_events(tmp_path_factory):
    """Events of 80 synthetic customers (the earlier result has 40)."""
    path = tmp_path_factory.mktemp("new") / "events.csv"
    events = influence.generate_events(80, seed=4)[0]
    events.to_csv(path, index=False)
    ids = sorted(set(events["source"].dropna()) | set(events["target"].dropna()))
    return path, ids


def _sigint_default() -> None:
    """In the child before exec: Ctrl-C acts even when this test run ignores it (a
    shell starts background jobs with SIGINT ignored, and ``influence`` keeps
    ignored signals ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(events: Path, out: Path, stop: str, *args: str, pause: float = 60
           ) -> subprocess.Popen:
    env = dict(os.environ, INFLUENCE_TEST_SAVE_STOP=stop,
               INFLUENCE_TEST_SAVE_PAUSE=str(pause))
    return subprocess.Popen([sys.executable, "-m", "influence", "analyze", str(events),
                             "--out", str(out), "-q", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=_sigint_default)


def _wait_line(proc: subprocess.Popen, timeout: float = 90) -> bytes:
    """The next stderr line of ``proc`` (fails the test after ``timeout`` s)."""
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, "the process did not reach its stop in time"
    return proc.stderr.readline()


def _ids(folder: Path) -> list[str]:
    """Customer ids of a results folder, read as ``top`` reads them (verified)."""
    listed = CliRunner().invoke(cli, ["top", str(folder), "-n", "100000", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    ids = sorted(row["customer_id"] for row in json.loads(listed.stdout))
    assert ids == sorted(Analysis.load(folder).customers["customer_id"])
    return ids


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir()
                  if p.name.startswith(f".{folder.name}.influence-"))


@pytest.mark.parametrize("number, step, outcome", [
    (signal.SIGKILL, "customers.csv", "old"),   # first table half-way in staging
    (signal.SIGTERM, "manifest.json", "old"),   # commit record written, not swapped in
    (signal.SIGINT, "graph.gexf", "old"),       # Ctrl-C once the graph file is written
    (signal.SIGKILL, "aside", "old"),           # between the two renames: put back
    (signal.SIGTERM, "aside", "new"),           # held over the swap, then obeyed
])
def test_killed_rerun_leaves_the_old_or_the_new_result(old, new_events, small_events,
                                                       number, step, outcome):
    folder, old_ids = old
    events, new_ids = new_events
    # a stop of 60 s, killed long before; at "aside" SIGTERM waits for the swap (1 s)
    pause = 1.0 if (step, number) == ("aside", signal.SIGTERM) else 60
    args = ["--graph-format", "gexf", "--no-report"]
    proc = _start(events, folder, step, *args, pause=pause)
    try:
        line = _wait_line(proc)
        assert line == f"influence: test: stopped at {step}\n".encode(), \
            line + proc.stderr.read()
        if pause > 1:  # (while it is stopped)
            _second_writer_fails_fast(folder, proc.pid, small_events, step)
        if step != "aside":  # readers see the earlier result meanwhile, lock or not
            assert _ids(folder) == old_ids
        proc.send_signal(number)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    if number == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:  # one line, exit 128 + signal
        assert proc.returncode == 128 + number, err
        word = "interrupted" if number == signal.SIGINT else "terminated (SIGTERM)"
        assert err.decode() == f"influence: error: {word}\n"
    if step == "aside" and number == signal.SIGKILL:
        assert not folder.exists()  # cut off between the renames; a reader puts it back
    assert _ids(folder) == (old_ids if outcome == "old" else new_ids)
    names = {p.name for p in folder.iterdir()}
    if outcome == "old":  # the earlier result, whole: no graph file of the killed run
        assert "graph.gexf" not in names and "report.html" in names
    else:
        assert "graph.gexf" in names and "report.html" not in names
    if number != signal.SIGKILL:  # stopped cleanly: nothing left beside the folder
        assert _leftovers(folder) == []
    elif step == "customers.csv":  # a staging folder is left; the next save removes it
        assert any(".influence-new-" in name for name in _leftovers(folder))
        analyze(small_events).save(folder)
        assert _leftovers(folder) == []


def _second_writer_fails_fast(folder: Path, holder: int, small_events, step: str) -> None:
    """While ``holder`` saves into ``folder``: another analyze fails at once, with
    one line and exit 3, as do the API and ``report`` (which writes into it)."""
    events = folder.parent / "second.csv"
    small_events.to_csv(events, index=False)
    began = time.monotonic()
    second = CliRunner().invoke(cli, ["analyze", str(events), "--out", str(folder)])
    assert second.exit_code == 3, second.output
    assert second.stderr == (
        f"influence: error: results folder {str(folder)!r} is being written by another "
        f"influence process (pid {holder}) (lock .R.influence-lock); wait for it to finish "
        "or choose another --out\n")
    assert time.monotonic() - began < 5  # before its analysis, not after it
    with pytest.raises(InputError, match="being written"):
        analyze(small_events).save(folder)
    if step != "aside":  # (there it waits for the folder to come back, then says so)
        report = CliRunner().invoke(cli, ["report", str(folder)])
        assert report.exit_code == 3 and "being written" in report.stderr


def test_a_full_disk_while_saving_leaves_the_old_result(old, small_events, monkeypatch):
    import errno

    import influence.result as analysis

    folder, old_ids = old
    events = folder.parent / "events.csv"
    small_events.to_csv(events, index=False)
    written = []

    def write_table(table, path, fmt="csv"):
        if len(written) == 2:
            path.write_bytes(b"customer_id,segm")  # part of a file, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path.name)
        return real(table, path, fmt)

    real = analysis.write_table
    monkeypatch.setattr(analysis, "write_table", write_table)
    result = CliRunner().invoke(cli, ["analyze", str(events), "--out", str(folder), "-q"])
    assert result.exit_code == 5
    assert result.stderr == (f"influence: error: cannot write results to {str(folder)!r}: "
                             "No space left on device; the folder was left as it was\n")
    assert _ids(folder) == old_ids and _leftovers(folder) == []


def test_rerun_leaves_nothing_of_the_earlier_run(tmp_path, small_events):
    events = tmp_path / "events.csv"
    small_events.to_csv(events, index=False)
    out = tmp_path / "R"
    runner = CliRunner()
    assert runner.invoke(cli, ["analyze", str(events), "--out", str(out), "-q",
                               "--graph-format", "gexf"]).exit_code == 0
    assert {"report.html", "graph.gexf"} <= set(os.listdir(out))
    assert runner.invoke(cli, ["analyze", str(events), "--out", str(out), "-q", "--no-report",
                               "--format", "parquet"]).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(os.listdir(out)) == sorted(manifest["outputs"]["files"])
    assert not any(name.endswith((".csv", ".html", ".gexf")) for name in os.listdir(out))
    for name, check in manifest["outputs"]["checks"].items():
        assert check["bytes"] == (out / name).stat().st_size and len(check["sha256"]) == 64
    assert manifest["outputs"]["checks"]["customers.parquet"]["rows"] == 6


def test_a_folder_with_other_files_is_not_replaced(tmp_path, small_events):
    events = tmp_path / "events.csv"
    small_events.to_csv(events, index=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["analyze", str(events), "--out", str(mine)])
    assert result.exit_code == 3 and "'notes.txt'" in result.stderr
    assert result.stderr.count("\n") == 1
    assert os.listdir(mine) == ["notes.txt"]
    folder = analyze(small_events).save(tmp_path / "R")
    (folder / "notes.txt").write_text("keep me too")
    with pytest.raises(InputError, match="holds files influence did not write"):
        analyze(small_events).save(folder)
    assert (folder / "notes.txt").read_text() == "keep me too"
    assert CliRunner().invoke(cli, ["analyze", str(events), "--out",
                                    str(events)]).exit_code in (2, 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert analyze(small_events).save(empty) == empty


def _truncate(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(16)  # same size, other bytes
    path.write_bytes(bytes(data))


def _halve(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _without_checks(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["outputs"].pop("checks")
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("fmt, damage, needle", [
    ("csv", lambda f: _truncate(f / "customers.csv"), "customers.csv has"),
    ("parquet", lambda f: _flip(f / "customers.parquet"), "content of customers.parquet"),
    ("csv", lambda f: (f / "edges.csv").unlink(), "edges.csv is missing"),
    ("csv", lambda f: (f / "report.html").write_text("<p>x</p>"), "report.html has"),
    ("csv", lambda f: (f / "manifest.json").write_text("{not json"), "manifest.json"),
    # folders from before the checks: still no half-read table
    ("parquet", lambda f: (_without_checks(f), _halve(f / "communities.parquet")),
     "cannot read communities.parquet"),
    ("csv", lambda f: (_without_checks(f), _truncate(f / "customers.csv")),
     f"manifest counts {OLD_CUSTOMERS} customers"),
])
def test_readers_refuse_a_folder_that_does_not_match_its_manifest(tmp_path, saved,
                                                                  fmt, damage, needle):
    folder = Path(shutil.copytree(saved[fmt], tmp_path / "R"))
    assert len(Analysis.load(folder).customers) == OLD_CUSTOMERS
    damage(folder)
    with pytest.raises(InputError, match=needle):
        Analysis.load(folder)
    runner = CliRunner()
    for args in (["top", str(folder)], ["report", str(folder)], ["export", str(folder)],
                 ["compare", str(folder), str(folder)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 3, (args, result.output)
        assert result.stdout == "" and needle in result.stderr
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and "Traceback" not in result.stderr


def test_report_and_export_keep_the_manifest_true(tmp_path, small_events):
    events = tmp_path / "events.csv"
    small_events.to_csv(events, index=False)
    out = tmp_path / "R"
    runner = CliRunner()
    assert runner.invoke(cli, ["analyze", str(events), "--out", str(out), "-q",
                               "--no-report"]).exit_code == 0
    (out / "notes.txt").write_text("mine")  # not listed: carried along, still not listed
    assert runner.invoke(cli, ["report", str(out)]).exit_code == 0
    assert runner.invoke(cli, ["export", str(out), "--graph-format", "graphml"]).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"report.html", "graph.graphml"} <= set(manifest["outputs"]["checks"])
    assert sorted(os.listdir(out)) == sorted(manifest["outputs"]["files"] + ["notes.txt"])
    assert (out / "notes.txt").read_text() == "mine"
    assert _leftovers(out) == []
    Analysis.load(out)  # verifies
    elsewhere = tmp_path / "elsewhere.html"
    assert runner.invoke(cli, ["report", str(out), "--out", str(elsewhere)]).exit_code == 0
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert elsewhere.read_bytes() == (out / "report.html").read_bytes()


def _run_top(folder: Path, stdout) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "influence", "top", str(folder), "-n", "3"],
                          stdout=stdout, stderr=subprocess.PIPE, timeout=60)


def test_stdout_full_or_closed(old):
    folder, _ = old
    with open("/dev/full", "w") as full:
        result = _run_top(folder, full)
    assert result.returncode == 5
    assert result.stderr.decode() == (
        "influence: error: cannot write to standard output: No space left on device; send "
        "the results to a file with --out or to a device with free space\n")
    read, write = os.pipe()
    os.close(read)  # `| head` that has already gone
    try:
        result = _run_top(folder, write)
    finally:
        os.close(write)
    assert result.returncode == 128 + signal.SIGPIPE and result.stderr == b""


def _mapped(pid: int, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_ctrl_c_while_starting_up_is_one_line(old, small_events):
    """SIGINT while the analysis modules are still being imported (numpy is loaded,
    pandas and igraph are not yet): exit 130, one line, no traceback."""
    folder, old_ids = old
    events = folder.parent / "events.csv"
    small_events.to_csv(events, index=False)
    proc = subprocess.Popen([sys.executable, "-m", "influence", "analyze", str(events),
                             "--out", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_sigint_default)
    deadline = time.monotonic() + 60
    while not _mapped(proc.pid, "numpy") and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (130, b"", b"influence: error: interrupted\n")
    assert _ids(folder) == old_ids
