"""A PostgreSQL database's backup: ``pg_dump``'s custom-format copy, and ``pg_restore``'s check of it."""

from __future__ import annotations

import os
import shutil
import subprocess

from .errors import PostgresUnavailable
from .postgres import PgDatabase


def dump_postgres(db: PgDatabase, target: str) -> None:
    """Write ``pg_dump``'s custom-format copy of the database to ``target`` (mode 0600)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise PostgresUnavailable("pg_dump is not on the PATH: install PostgreSQL's client programs")
    info = db.conn.raw.info
    env = {**os.environ, "PGPASSWORD": info.password or ""}
    fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.close(fd)
    command = [pg_dump, "--format=custom", f"--file={target}", f"--host={info.host}", f"--port={info.port}"]
    command += [f"--username={info.user}", info.dbname]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise PostgresUnavailable(f"pg_dump failed: {done.stderr.strip().splitlines()[-1] if done.stderr else ''}")


def verify_dump(path: str) -> str:
    """ "ok" if ``pg_restore --list`` reads the dump at ``path`` through, else its error."""
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        return "not checked: pg_restore is not on the PATH"
    done = subprocess.run([pg_restore, "--list", path], capture_output=True, text=True, check=False)  # noqa: S603
    return "ok" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["unreadable"])[-1]
