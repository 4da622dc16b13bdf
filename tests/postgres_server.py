"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, started in a
temporary folder on 127.0.0.1, stopped by its process id.

The server refuses to run as root: as root, ``initdb`` and ``postgres`` run as the
``postgres`` system user (``setpriv``, which execs, so the process id we hold is the
server's), in a folder under /tmp that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass
class Server:
    host: str
    port: int
    user: str
    password: str
    process: subprocess.Popen
    folder: Path

    def uri(self, database: str = "postgres", *, password: str | None = None,
            port: int | None = None) -> str:
        secret = quote(self.password if password is None else password, safe="")
        return (f"postgresql://{self.user}:{secret}@{self.host}:{port or self.port}/"
                f"{database}")


def bindir() -> Path | None:
    """The folder of ``initdb`` and ``postgres``: pg_config's, or Debian's newest."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_not() -> str | None:
    """Why no server can be started here (None if one can)."""
    folder = bindir()
    if folder is None or not (folder / "postgres").exists():
        return ("PostgreSQL server binaries (initdb, postgres) not found: install Debian's "
                "postgresql package (apt-get install postgresql), as .ci/run does")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' system user to run the server as"
        if shutil.which("setpriv") is None:
            return "running as root without setpriv (util-linux) to drop to the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(timeout: float = 60.0) -> Server:
    """initdb a fresh cluster (password authentication) and start it on 127.0.0.1."""
    folder = Path(tempfile.mkdtemp(prefix="influence-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                  "--init-groups", "--"]
    # a password with characters that a URI must escape
    password = f"pw:{secrets.token_hex(6)}@/"
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    if prefix:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    bin_ = bindir()
    data = folder / "data"
    subprocess.run(prefix + [str(bin_ / "initdb"), "-D", str(data), "-U", "influence",
                             "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                             "--no-sync", "--no-instructions"],
                   check=True, capture_output=True, cwd=folder)
    pwfile.unlink()
    port = _free_port()
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen(
        prefix + [str(bin_ / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
                  "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                  "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    server = Server("127.0.0.1", port, "influence", password, process, folder)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            stop(server)
            raise RuntimeError("PostgreSQL did not start: "
                               + (folder / "server.log").read_text(errors="replace")[-2000:])
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                ready = subprocess.run([str(bin_ / "pg_isready"), "-h", "127.0.0.1", "-p",
                                        str(port)], capture_output=True)
                if ready.returncode == 0:
                    return server
        if time.monotonic() > deadline:
            stop(server)
            raise RuntimeError("PostgreSQL did not accept connections within "
                               f"{timeout:.0f} s")
        time.sleep(0.1)


def stop(server: Server) -> None:
    """Fast shutdown (SIGINT) of the server by its process id; its folder removed."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    shutil.rmtree(server.folder, ignore_errors=True)


def create_database(server: Server, name: str) -> str:
    """A fresh database; returns its URI (with the password)."""
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(server.uri(), autocommit=True) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    return server.uri(name)
