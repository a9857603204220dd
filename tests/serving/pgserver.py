"""A throwaway PostgreSQL server on 127.0.0.1 for the store tests.

The server binaries come from Debian's ``postgresql`` package (``scripts/test.sh`` installs it).
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` OS user, in a
temporary directory handed to that user. Nothing listens beyond loopback; unix sockets live in the
temporary directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

USER = "vitals"


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or ``None``."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@dataclass
class PostgresServer:
    """A running server; :meth:`stop` ends it and removes its files."""

    bindir: Path
    root: Path
    port: int

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the maintenance database."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"vitals_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (its connections are ended)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server at once and delete its directory."""
        _run(self.bindir / "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w",
             "stop", cwd=self.root, check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={database}"


def start_server(bindir: Path) -> PostgresServer:
    """Create a cluster in a temporary directory and start it on a free loopback port.

    Raises:
        RuntimeError: the server did not start (the message holds its log).
    """
    root = Path(tempfile.mkdtemp(prefix="vitals-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    port = _free_port()
    data = root / "data"
    _run(bindir / "initdb", "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
         "--no-sync", cwd=root)  # fmt: skip
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")  # fmt: skip
    started = _run(bindir / "pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"),
                   "-w", "-t", "60", "start", cwd=root, check=False)  # fmt: skip
    if started.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else started.stderr
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {log[-2000:]}")
    return PostgresServer(bindir, root, port)


def _run(*command: object, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    args = [str(c) for c in command]
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr or result.stdout}")
    return result


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
