"""The database connection for requests and commands."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sqlite3
import stat
import threading
import weakref
from typing import IO, Any

from flask import Flask, current_app

from .. import storage
from ..core.model import RuleSet
from ..storage import Database
from .clinic import clinic_zone
from .ruleset import get_ruleset


class _Connections(threading.local):
    """SQLite: one connection per worker thread, reused across requests.
    PostgreSQL: a pool per process, a connection lent to each request.

    Opening an SQLite connection per request costs a connect, and closing
    the last one checkpoints the WAL: together most of a screening's time.
    A connection is never shared between threads or across a fork.
    """

    db: Database | None = None
    pid: int = 0
    lent: bool = False  # this thread holds a pooled PostgreSQL connection until the request ends


class _Pools:
    """The process's PostgreSQL pool, made after gunicorn forks (a pool's sockets cannot cross a fork)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: Any = None
        self.pid = 0


def get_db() -> Database:
    """This request's database connection, opened (or borrowed from the pool) on first use."""
    local: _Connections = current_app.extensions["db_connections"]
    database = current_app.config["DATABASE"]
    if storage.is_postgres_url(database):
        if not local.lent or local.pid != os.getpid():
            local.db = storage.pooled_database(_pool(database))
            local.pid, local.lent = os.getpid(), True
        assert local.db is not None
        return local.db
    if local.db is None or local.pid != os.getpid():
        local.db = storage.connect(database, current_app.config["SQLITE_SYNCHRONOUS"])
        local.pid = os.getpid()
    return local.db


def _pool(url: str) -> Any:
    pools: _Pools = current_app.extensions["db_pools"]
    with pools.lock:
        if pools.pool is None or pools.pid != os.getpid():
            pools.pool = storage.open_pool(url, current_app.config["POSTGRES_POOL_SIZE"])
            pools.pid = os.getpid()
            # Closed when the app goes (or the process exits), never left for the pool's
            # own __del__, which joins its worker threads from whatever thread collects it.
            weakref.finalize(pools, pools.pool.close)
        return pools.pool


def close_db() -> None:
    """Close this thread's SQLite connection: after ``restore`` replaced the file, the next one opens the new file."""
    local: _Connections = current_app.extensions["db_connections"]
    if local.db is not None and not local.lent and local.pid == os.getpid():
        local.db.close()
    if not local.lent:
        local.db = None


def end_request(exc: BaseException | None = None) -> None:
    """Leave the connection clean for the next request: no open transaction, a pooled one given back."""
    local: _Connections = current_app.extensions["db_connections"]
    if local.db is None:
        return
    if local.lent:
        db, local.db, local.lent = local.db, None, False
        if local.pid == os.getpid():
            db.close()
        return
    if local.db.conn.in_transaction:
        local.db.conn.rollback()


# Beside the database: the file whose lock the starting workers take turns on.
MIGRATE_LOCK = ".migrate.lock"


def open_private(path: str) -> IO[bytes]:
    """``path`` opened for writing, created 0600 (one left readable by an older release is tightened)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    info = os.fstat(descriptor)
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "wb")


def init_db(path: str, ruleset: RuleSet | None = None) -> list[str]:
    """Create or migrate the database at ``path``; return the migrations applied.

    The rule set (default: the current app's) names the role questions,
    after which the previous release named the screenings columns.
    """
    legacy_columns = storage.legacy_role_columns((ruleset or get_ruleset()).roles)
    if storage.is_postgres_url(path):
        # Servers starting at once take turns on PostgreSQL's advisory lock (migrate_postgresql).
        db = storage.connect(path)
        try:
            try:
                applied = storage.migrate(db, legacy_columns)
            except sqlite3.DatabaseError as error:  # a standby, or a user without the rights to migrate
                where = storage.describe_url(path)
                raise storage.StorageUnavailable(f"cannot migrate the database {where}: {error}") from error
            try:
                storage.check_writable(db)
            except storage.StorageUnavailable as error:
                where = storage.describe_url(path)
                raise storage.StorageUnavailable(f"cannot write to the database {where}: {error}") from error
            return applied
        finally:
            db.close()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        make_private(directory, path)
        lock = open_private(os.path.join(directory, MIGRATE_LOCK))
    except OSError as error:
        # A read-only folder (or a file where it should be): one line at start-up, not a traceback.
        raise storage.StorageUnavailable(f"cannot write in the database's folder {directory}: {error}") from error
    # Several server workers start at once: one migrates, the others wait.
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            db = storage.connect(path)
        except (OSError, sqlite3.OperationalError) as error:
            raise storage.StorageUnavailable(f"cannot open the database {path}: {error}") from error
        try:
            try:
                applied = storage.migrate(db, legacy_columns)
            except sqlite3.OperationalError as error:
                if not storage.is_storage_fault(error):
                    raise
                raise storage.StorageUnavailable(f"cannot migrate the database {path}: {error}") from error
            # A read-only database or a full disk is said at start-up, not
            # discovered by the first patient whose answers cannot be saved.
            try:
                storage.check_writable(db)
            except storage.StorageUnavailable as error:
                raise storage.StorageUnavailable(f"cannot write to the database {path}: {error}") from error
            return applied
        finally:
            db.close()


def make_private(directory: str, path: str) -> None:
    """The database folder 0700 and its files 0600: patient data for this account only.

    A shared folder (sticky, as /tmp is) keeps its mode: closing it would break every other
    program using it, and the database's files are private on their own."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for target, mode in [(directory, 0o700), *[(path + suffix, 0o600) for suffix in ("", "-wal", "-shm")]]:
        try:
            info = os.stat(target)
        except FileNotFoundError:
            continue
        if info.st_uid == os.getuid() and info.st_mode & 0o077 and not info.st_mode & stat.S_ISVTX:
            os.chmod(target, mode)


def screening_day() -> dt.date:
    """Today on the clinic's calendar (clinic.yaml's ``timezone``): the one "today" that
    rules, ages, re-screen dates and course dates count from."""
    return dt.datetime.now(clinic_zone()).date()


def init_app(app: Flask) -> None:
    """Migrate the database on start-up and close connections after requests."""
    init_db(app.config["DATABASE"], get_ruleset(app))
    app.extensions["db_connections"] = _Connections()
    app.extensions["db_pools"] = _Pools()
    app.teardown_appcontext(end_request)
