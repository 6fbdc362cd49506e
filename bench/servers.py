"""Throwaway PostgreSQL and Redis servers for the tests and benchmarks.

Each runs from a temporary directory on a free port on 127.0.0.1 and is
removed when stopped. PostgreSQL's ``initdb`` and ``pg_ctl`` refuse to run
as root, so as root they run as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin(program: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))
    if found:
        return found[-1]
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} not found: install Debian's postgresql package (make test does)")
    return path


def _accepts_connections(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:  # still starting up
        return False
    return True


class PostgresServer:
    """A PostgreSQL cluster of its own: ``url(dbname)`` for each database created with ``create_database``."""

    def __init__(self, *, durable: bool = False) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="screening-pg-"))
        self.durable = durable
        self._as_postgres = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        """initdb and start the server; returns once it takes connections."""
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")
        data = str(self.folder / "data")
        # C.UTF-8: byte order for timestamps, and lower() and the name search fold Cyrillic too.
        initdb = _postgres_bin("initdb")
        self._run(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
        # Tests and benchmarks of the app, not of the disk: unless durable, skip the fsyncs.
        speed = "" if self.durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200{speed}"
        self._run(_postgres_bin("pg_ctl"), "-D", data, "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        return self

    def start_in_background(self) -> threading.Thread:
        """Start the server in a thread, for processes that attach to it meanwhile
        (``attach``); a failure to start is written where they look for it."""

        def start() -> None:
            try:
                self.start()
            except Exception as error:  # reported to the attached processes, which fail on it
                detail = getattr(error, "stderr", "") or ""
                (self.folder / "start-error").write_text(f"{error}\n{detail}")

        thread = threading.Thread(target=start, name="postgres-start", daemon=True)
        thread.start()
        return thread

    @classmethod
    def attach(cls, port: int, folder: str, timeout: float = 60) -> PostgresServer:
        """The server another process starts on ``port`` from ``folder``; returns once it takes connections."""
        server = cls.__new__(cls)
        server.port, server.folder, server.durable = port, Path(folder), False
        server._as_postgres = os.geteuid() == 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            error = server.folder / "start-error"
            if error.exists():
                raise RuntimeError(f"PostgreSQL did not start: {error.read_text()}")
            if _accepts_connections(server.url()):
                return server
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL on port {port} did not start within {timeout:.0f} s")

    def url(self, dbname: str = "postgres") -> str:
        """The database setting for ``dbname`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        """Create an empty database; return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def stop(self) -> None:
        """Stop the server at once and remove its files."""
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._run(_postgres_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer:
    """A Redis server of its own, without persistence: ``url`` is the limiter's storage URI."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start redis-server; returns once it answers."""
        program = shutil.which("redis-server")
        if program is None:
            raise RuntimeError("redis-server not found: install Debian's redis-server package (make test does)")
        self.process = subprocess.Popen(
            [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
