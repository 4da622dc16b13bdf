"""Results folders on disk: written whole or not at all, checked when read.

A results folder ``R`` (what ``influence analyze --out R`` writes) is never
edited in place. Every write goes through the same four steps:

1. **lock**: ``.R.influence-lock`` beside ``R`` is locked with
   ``fcntl.flock(LOCK_EX | LOCK_NB)``. A second writer fails at once
   (:class:`~influence.errors.InputError`, exit 3) instead of racing; the
   operating system releases the lock when its holder dies, however it dies.
2. **stage**: every file is written into a temporary sibling,
   ``.R.influence-new-<pid>-<random>``, in the same parent folder, so on the
   same filesystem as ``R``.
3. **commit record**: ``manifest.json`` is written last. Its ``outputs`` lists
   each file with its size in bytes, its sha256 and, for tables, its row count
   (:func:`write_manifest`); files and folder are fsynced.
4. **swap**: ``R`` is renamed to ``.R.influence-old-<pid>-<random>``, the
   staging folder is renamed to ``R``, the old folder is removed. Both renames
   are atomic (``rename(2)`` within one filesystem).

A reader therefore finds either the complete earlier folder or the complete new
one. The only moment where ``R`` does not exist is between the two renames (two
system calls; SIGINT, SIGTERM and SIGHUP are held over them and delivered after,
so only SIGKILL or a power cut can stop a process there). A folder caught in that moment is put
back by the next reader or writer (:func:`recover`): the complete old folder is
renamed back to ``R`` (a run that did not finish did not happen), and leftover
staging folders are removed by the next writer.

Readers (:meth:`influence.Analysis.load`, so ``top``, ``report``, ``export``
and ``compare``) check every listed file against the manifest
(:func:`verify_files`) and refuse a folder that does not match: exit 3, one line.

``influence report DIR`` and ``influence export DIR`` add a file to an existing
folder through the same lock, staging (the unchanged files are hard links, not
copies) and swap: :func:`update_file`.

Notes
-----
The lock is advisory: it keeps ``influence`` processes apart, not other
programs. Hashing costs little next to reading: sha256 runs at several hundred
MB/s, against tens of MB/s for parsing the CSV it checks (see ``docs/cli.md``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import InputError, OutputError
from .io import CSV_ESCAPE, file_sha256

try:  # POSIX; elsewhere writers are not kept apart
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["locked", "staged", "prepare", "recover", "write_manifest", "with_outputs",
           "verify_files",
           "update_file", "write_file", "checkpoint", "OUTPUT_NAMES", "MANIFEST", "PARTS"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: The folder that holds the customers table as part files (``part-00000.csv``, ...)
#: when the executors wrote it (the Spark engine with the hand-off off).
PARTS = "customers"
_TABLE_NAMES = ("customers", "communities", "segments", "cascades", "kfactor", "snapshots",
                "edges")
#: Every file name ``influence`` writes into a results folder (any format).
OUTPUT_NAMES = frozenset({f"{t}.{fmt}" for t in _TABLE_NAMES for fmt in ("csv", "parquet")}
                         | {MANIFEST, "report.html", "graph.gexf", "graph.graphml"})
_LOCK = ".{}.influence-lock"
_NEW = ".{}.influence-new-"
_OLD = ".{}.influence-old-"
_BLOCKED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                 if hasattr(signal, name))
# locks this process holds: lock path -> [file descriptor, depth]
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


def _target(folder: str | Path) -> Path:
    """The absolute path of ``folder``, through a symlink to the folder it names
    (so a symlinked results folder is replaced where it lives)."""
    path = Path(os.path.abspath(folder))
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    return path


def _sibling(folder: Path, pattern: str) -> Path:
    return folder.parent / pattern.format(folder.name)


def _token() -> str:
    return f"{os.getpid()}-{secrets.token_hex(4)}"


# ------------------------------------------------------------------ lock
@contextlib.contextmanager
def locked(folder: str | Path) -> Iterator[Path]:
    """Hold the write lock of results folder ``folder``; yields its absolute path.

    Non-blocking: when another process holds it, raise at once. Re-entrant
    within one process (``influence analyze`` takes it before the analysis,
    :meth:`Analysis.save` again inside). The lock file is removed on release.

    Raises
    ------
    InputError
        Another process is writing ``folder`` (exit 3).
    OutputError
        The lock file cannot be created (the parent folder is not writable).
    """
    folder = _target(folder)
    path = _sibling(folder, _LOCK)
    key = str(path)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield folder
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    if fcntl is None:  # pragma: no cover
        yield folder
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {str(folder.parent)!r}: {exc.strerror}") from None
    fd = _acquire(path, folder)
    with _held_guard:
        _held[key] = [fd, 1]
    try:
        yield folder
    finally:
        with _held_guard:
            del _held[key]
        with contextlib.suppress(OSError):
            os.unlink(path)  # still holding it: nobody can lock this file meanwhile
        os.close(fd)


def _acquire(path: Path, folder: Path) -> int:
    """Lock ``path`` (created if missing); retry when a releasing holder unlinked it."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(
                f"cannot create the lock file {str(path)!r}: {exc.strerror}; writing "
                f"{str(folder)!r} needs write access to the folder that holds it, "
                f"{str(folder.parent)!r}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(f"cannot lock {str(path)!r}: {exc.strerror}") from None
            holder = _holder(path)
            raise InputError(
                f"results folder {str(folder)!r} is being written by another influence "
                f"process{holder} (lock {path.name}); wait for it to finish or choose "
                "another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the previous holder removed it between our open and flock


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        return f" (pid {int(path.read_text().strip())})"
    return ""


def _lock_is_free(folder: Path) -> bool:
    """Whether no other process holds the write lock of ``folder``."""
    path = _sibling(folder, _LOCK)
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


# ------------------------------------------------------------------ recovery
def recover(folder: str | Path, *, wait: float = 5.0) -> None:
    """Put back a results folder left missing by a swap cut off between its two renames.

    When ``folder`` does not exist but an ``.NAME.influence-old-*`` sibling
    does, that complete earlier folder is renamed back to ``folder``. When
    another process holds the write lock (it is in the middle of its own
    swap), wait up to ``wait`` seconds for the folder to appear instead.
    Does nothing when ``folder`` exists or there is nothing to put back.
    """
    folder = _target(folder)
    if os.path.lexists(folder):
        return
    deadline = time.monotonic() + wait
    while not os.path.lexists(folder) and _asides(folder):
        if str(_sibling(folder, _LOCK)) in _held or _lock_is_free(folder):
            try:
                with locked(folder):
                    asides = _asides(folder)
                    if not os.path.lexists(folder) and asides:
                        os.rename(asides[-1], folder)
                        _fsync_dir(folder.parent)
                        logger.warning("%s was missing (a run was cut off while replacing "
                                       "it); put back the previous results from %s",
                                       folder, asides[-1].name)
            except InputError:  # another process took the lock meanwhile
                pass
            except OSError as exc:
                raise InputError(
                    f"results folder {str(folder)!r} is missing (a run was cut off while "
                    f"replacing it) and cannot be put back from {str(_asides(folder)[-1])!r}: "
                    f"{exc.strerror}; rename it to {folder.name!r} yourself") from None
            return
        if time.monotonic() > deadline:
            raise InputError(f"results folder {str(folder)!r} is being replaced by another "
                             "influence process; try again when it has finished")
        time.sleep(0.05)


def _asides(folder: Path) -> list[Path]:
    """Earlier folders moved aside by a swap, oldest first."""
    prefix = _OLD.format(folder.name)
    try:
        found = [p for p in folder.parent.iterdir() if p.name.startswith(prefix) and p.is_dir()]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _leftovers(folder: Path) -> list[Path]:
    prefixes = (_NEW.format(folder.name), _OLD.format(folder.name))
    try:
        return [p for p in folder.parent.iterdir() if p.name.startswith(prefixes)]
    except OSError:
        return []


def prepare(folder: str | Path) -> Path:
    """Check that ``folder`` may be replaced by a new results folder; tidy up.

    Call while holding :func:`locked`. Puts back a folder left missing
    (:func:`recover`), removes staging and aside folders left by runs that
    were killed, and refuses a folder that holds anything ``influence`` did not
    write, so that replacing it cannot delete someone's files.

    Raises
    ------
    InputError
        ``folder`` is a file, or holds other files (exit 3).
    """
    folder = _target(folder)
    recover(folder)
    for leftover in _leftovers(folder):
        shutil.rmtree(leftover, ignore_errors=True)
    if not os.path.lexists(folder):
        return folder
    if not folder.is_dir():
        raise InputError(f"--out {str(folder)!r} is a file, not a folder; choose a folder "
                         "for the results")
    cwd = Path.cwd().resolve()
    if folder == cwd or folder in cwd.parents:
        raise InputError(f"--out {str(folder)!r} is the current folder (or holds it); "
                         "results replace their folder as a whole: name a subfolder, "
                         "e.g. --out influence-out")
    entries = sorted(os.listdir(folder))
    if not entries:
        return folder
    listed: set[str] = set()
    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = set(manifest.get("outputs", {}).get("files", []))
    if MANIFEST not in entries:
        foreign = entries
    else:
        has_parts = any(name.startswith(f"{PARTS}/") for name in listed)

        def ours(name: str) -> bool:
            if name == PARTS and has_parts:  # the customers' part files
                return (folder / name).is_dir() and all(
                    f"{PARTS}/{part}" in listed for part in os.listdir(folder / name))
            return (name in listed or name in OUTPUT_NAMES) and not (folder / name).is_dir()

        foreign = [name for name in entries if not ours(name)]
    if foreign:
        shown = ", ".join(repr(name) for name in foreign[:3])
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        what = ("is not a results folder (no manifest.json) and is not empty"
                if MANIFEST not in entries else "holds files influence did not write")
        raise InputError(f"--out {str(folder)!r} {what}: {shown}{more}. Results replace "
                         "their folder as a whole; move those files or choose another --out")
    return folder


# ------------------------------------------------------------------ staging and swap
@contextlib.contextmanager
def staged(folder: str | Path, *, link: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a fresh staging folder beside ``folder``; swap it in when the block succeeds.

    Call while holding :func:`locked`. The block writes every file, the
    manifest last (:func:`write_manifest`). On success the staging folder
    replaces ``folder`` (see the module notes); on any exception, including
    KeyboardInterrupt and the command line's signals, it is removed and
    ``folder`` is left as it was.

    Parameters
    ----------
    folder : path
    link : iterable of str
        Entries of the current ``folder`` to carry into the staging folder:
        files as hard links (copies where the filesystem has none), folders
        as copies.
    """
    folder = _target(folder)
    staging = _sibling(folder, _NEW + _token())
    try:
        staging.mkdir(parents=False)
    except OSError as exc:
        raise OutputError(f"cannot write results to {str(folder)!r}: cannot create "
                          f"{str(staging)!r}: {exc.strerror}") from None
    try:
        for name in link:
            source = folder / name
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, staging / name, symlinks=True, copy_function=_link)
                continue
            try:
                os.link(source, staging / name, follow_symlinks=False)
            except OSError:
                shutil.copy2(source, staging / name, follow_symlinks=False)
        yield staging
        if not (staging / MANIFEST).is_file():
            raise RuntimeError("staged(): the block wrote no manifest.json")
        for path in staging.iterdir():
            if path.is_dir():  # the customers' parts
                for inner in path.iterdir():
                    _fsync(inner)
            _fsync(path)
        _fsync_dir(staging)
        _swap(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _link(source: str, target: str) -> None:
    """A hard link, or a copy where the filesystem has none."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _swap(staging: Path, folder: Path) -> None:
    """Rename ``folder`` aside and ``staging`` into its place, then drop the old one."""
    aside = None
    swapped = False
    try:
        with _signals_held():  # a signal that arrives here is raised when the block ends
            if os.path.lexists(folder):
                aside = _sibling(folder, _OLD + _token())
                os.rename(folder, aside)
                checkpoint("aside")
                try:
                    os.rename(staging, folder)
                except BaseException:
                    os.rename(aside, folder)
                    raise
            else:
                os.rename(staging, folder)
            swapped = True
            _fsync_dir(folder.parent)
    finally:
        if aside is not None and swapped:  # the old folder is no longer needed
            shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then deliver them.

    Python runs signal handlers in the main thread between bytecodes, whichever
    thread the kernel gave the signal to (so ``pthread_sigmask`` on the main
    thread is not enough while pyarrow's threads run). Here each handler is
    replaced, for the block, by one that only notes the signal; when the block
    ends the handlers are put back and the noted signals raised again
    (``signal.raise_signal``), so an interrupt lands before or after the swap,
    never inside it. Off the main thread nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def note(number, frame):
        pending.append(number)

    previous = {}
    for number in _BLOCKED:
        handler = signal.getsignal(number)
        if handler is signal.SIG_IGN or handler is None:
            continue
        previous[number] = signal.signal(number, note)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(pending):
            signal.raise_signal(number)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem syncs folders
        _fsync(path)


def checkpoint(step: str) -> None:
    """Testing aid: stop a save at a named step so a test can kill it there.

    With ``INFLUENCE_TEST_SAVE_STOP=STEP`` in the environment, a save that
    reaches STEP (a file name written into the staging folder, or ``aside``:
    between the two renames of the swap) says so on stderr and sleeps for
    ``INFLUENCE_TEST_SAVE_PAUSE`` seconds (default 60), then goes on. Unset
    (always, outside ``tests/test_atomic_save.py`` and ``tests/test_worker.py``)
    it costs one environment lookup and does nothing.
    """
    if os.environ.get("INFLUENCE_TEST_SAVE_STOP") == step:
        os.write(2, f"influence: test: stopped at {step}\n".encode())
        time.sleep(float(os.environ.get("INFLUENCE_TEST_SAVE_PAUSE", "60")))


# ------------------------------------------------------------------ manifest
def write_manifest(folder: str | Path, manifest: Mapping[str, Any], *, format: str,
                   files: Iterable[str], rows: Mapping[str, int] | None = None,
                   checks: Mapping[str, dict] | None = None,
                   csv_escape: str | None = CSV_ESCAPE) -> dict[str, Any]:
    """Write ``manifest.json`` into ``folder`` as the commit record of its files.

    Parameters
    ----------
    folder : path
    manifest : dict
        Everything but ``outputs``, which is set here.
    format : {"csv", "parquet"}
        Format of the tables.
    files : iterable of str
        The output files (``manifest.json`` is added).
    rows : dict of str to int, optional
        Row count of each table file.
    checks : dict, optional
        Checks already known (carried-over files), by file name; the other
        files are measured here.
    csv_escape : str or None, default=influence.io.CSV_ESCAPE
        The escape rule of the CSV tables' text cells (None: tables written
        before it was recorded, read back with the old rule).

    Returns
    -------
    dict
        The manifest written: ``outputs`` is ``{"format", "files", "checks"}``
        (and ``"csv_escape"``, the escape rule of text cells, for CSV tables)
        where ``checks[name]`` is ``{"bytes", "sha256"}`` plus ``"rows"`` for
        tables.
    """
    folder = Path(folder)
    rows = dict(rows or {})
    names = [name for name in dict.fromkeys(files) if name != MANIFEST]
    measured = {}
    for name in names:
        if checks is not None and name in checks:
            measured[name] = dict(checks[name])
            continue
        path = folder / name
        check: dict[str, Any] = {"bytes": path.stat().st_size}
        if name in rows:
            check["rows"] = int(rows[name])
        check["sha256"] = file_sha256(path)
        measured[name] = check
    written = dict(manifest)
    written["outputs"] = {"format": format, "files": _ordered(names + [MANIFEST]),
                          "checks": {name: measured[name] for name in _ordered(names)}}
    if format == "csv" and csv_escape is not None:  # read back by Analysis.load
        written["outputs"]["csv_escape"] = csv_escape
    (folder / MANIFEST).write_text(json.dumps(written, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    checkpoint(MANIFEST)
    return written


def with_outputs(manifest: Mapping[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``manifest`` with its ``outputs`` section: where the results went when
    they went elsewhere than a folder (:func:`influence.sinks.write_database`: the
    database without credentials, the run id, the tables and their rows). This module
    writes the ``outputs`` key, for folders (:func:`write_manifest`) and the rest."""
    manifest = dict(manifest)
    manifest["outputs"] = outputs
    return manifest


def _ordered(names: Iterable[str]) -> list[str]:
    """Tables in the order ``analyze`` writes them, the manifest, graph, report, the rest."""
    known = [f"{t}.{fmt}" for t in ("customers", "communities", "segments", "cascades",
                                    "kfactor", "snapshots", "edges") for fmt in
             ("csv", "parquet")] + [MANIFEST, "graph.gexf", "graph.graphml", "report.html"]
    rank = {name: i for i, name in enumerate(known)}
    rank_of_parts = rank["customers.csv"]  # customers/part-*: where customers.csv would be
    return sorted(dict.fromkeys(names), key=lambda n: (
        rank_of_parts if n.startswith(f"{PARTS}/") else rank.get(n, len(rank)), n))


def verify_files(folder: str | Path, manifest: Mapping[str, Any], *,
                 hashed: Iterable[str] = ()) -> dict[str, dict] | None:
    """Check the files of ``folder`` against its manifest's ``outputs``.

    Every listed file must exist with the listed size; the files in
    ``hashed`` (the ones the caller is about to read) must also have the
    listed sha256. Row counts are the caller's to check after parsing (the
    returned checks hold them).

    Returns
    -------
    dict or None
        The checks by file name; ``None`` for a manifest written before
        checks existed (nothing can be verified).

    Raises
    ------
    InputError
        A file is missing or differs (exit 3).
    """
    folder = Path(folder)
    outputs = manifest.get("outputs") or {}
    checks = outputs.get("checks")
    if not isinstance(checks, dict):
        return None
    hashed = set(hashed)
    for name in outputs.get("files", []):
        if name == MANIFEST:
            continue
        path = folder / name
        check = checks.get(name) or {}
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise mismatch(folder, f"{name} is missing") from None
        if "bytes" in check and size != check["bytes"]:
            raise mismatch(folder, f"{name} has {size:,} bytes, the manifest says "
                                   f"{check['bytes']:,}")
        if name in hashed and "sha256" in check and file_sha256(path) != check["sha256"]:
            raise mismatch(folder, f"the content of {name} differs from the one the "
                                   "manifest records (sha256)")
    return checks


def mismatch(folder: Path, what: str) -> InputError:
    """The one-line error of a folder whose files do not match its manifest."""
    return InputError(f"results folder {str(folder)!r} does not match its manifest: {what} "
                      "(a run was cut off or the file was changed since); run "
                      "'influence analyze' again")


# ------------------------------------------------------------------ single files
def update_file(folder: str | Path, name: str, write: Callable[[Path], Any]) -> Path:
    """Add or replace file ``name`` of results folder ``folder``, keeping it whole.

    Under the folder's lock, a staging folder gets hard links to the other
    files, ``write(path)`` writes the new file, the manifest lists it with its
    checks, and the staging folder is swapped in: readers see the folder
    before or after, never between. Returns the path of the new file.

    Raises
    ------
    InputError
        The folder is not a results folder, does not match its manifest, or
        another process is writing it (exit 3).
    """
    folder = _target(folder)
    with locked(folder):
        recover(folder)
        for leftover in _leftovers(folder):
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{str(folder)!r} is not a results folder: cannot read its "
                             f"manifest.json ({exc})") from None
        outputs = manifest.get("outputs") or {}
        checks = verify_files(folder, manifest)
        entries = [n for n in sorted(os.listdir(folder)) if n not in (name, MANIFEST)]
        files = [n for n in outputs.get("files", [n for n in entries if n in OUTPUT_NAMES])
                 if n not in (name, MANIFEST)]
        if checks is None:  # an older folder: measure what is there
            checks = {}
            files = [n for n in files if (folder / n).is_file()]
        # everything else in the folder comes along too (unlisted, as it was)
        with staged(folder, link=entries) as staging:
            write(staging / name)
            checkpoint(name)
            write_manifest(staging, {k: v for k, v in manifest.items() if k != "outputs"},
                           format=outputs.get("format", "csv"), files=files + [name],
                           checks={n: c for n, c in checks.items() if n in files},
                           csv_escape=outputs.get("csv_escape"))
    return folder / name


def write_file(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write one file atomically: ``write(tmp)`` beside it, then rename over ``path``.

    A reader sees the old file or the new one; a failure leaves the old one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.influence-new-{_token()}")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
