"""Opening the database, transactions, one-row reads and the stored forms of
times and tokens: what every other storage module builds on."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import sqlite_utils

from .errors import StorageUnavailable
from .postgres import PgDatabase, connect_postgres, is_postgres_url
from .sqlite_writes import attach_writer, serialised_writes

# Either backend: every storage function takes one and runs the same SQL on both.
Database: TypeAlias = sqlite_utils.Database | PgDatabase

# SQLite integers are signed 64-bit: a larger id in a cursor cannot be bound.
MAX_ROW_ID = 2**63 - 1

SYNCHRONOUS_LEVELS = ("FULL", "NORMAL")


# SQLite's messages for the faults a retry later may get past.
_FAULT_MESSAGES = ("readonly database", "disk is full", "disk i/o error", "unable to open database")


def is_storage_fault(error: BaseException) -> bool:
    """Whether ``error`` is the database refusing writes (read-only, full disk, I/O), not a bug."""
    return isinstance(error, StorageUnavailable) or (
        isinstance(error, sqlite3.OperationalError) and any(m in str(error).lower() for m in _FAULT_MESSAGES)
    )


def create_private_file(path: str) -> None:
    """Create ``path`` readable and writable by its owner only (0600), unless it exists."""
    if path == ":memory:" or os.path.exists(path):
        return
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def dialect_of(db: Database) -> str:
    """``sqlite`` or ``postgresql``: for the few statements the two spell differently."""
    return "postgresql" if isinstance(db, PgDatabase) else "sqlite"


def check_writable(db: Database) -> None:
    """Raise ``StorageUnavailable`` unless a write to the database goes through."""
    if isinstance(db, PgDatabase):
        # A standby (or a server set read-only) says so here, not at the first patient's answers.
        try:
            with write_transaction(db):
                db.execute("CREATE TEMPORARY TABLE IF NOT EXISTS write_check (x INTEGER)")
        except sqlite3.OperationalError as error:
            raise StorageUnavailable(str(error)) from error
        return
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute(f"PRAGMA user_version = {int(version)}")  # rewrites the header: a real write
    except sqlite3.OperationalError as error:
        raise StorageUnavailable(str(error)) from error


def connect(path: str, synchronous: str = "FULL") -> Database:
    """Open the database (an SQLite file, or a ``postgresql://`` URL) with the settings every connection needs.

    WAL lets readers and the writer work at once. ``synchronous=FULL`` syncs
    every commit to disk, so an acknowledged screening survives a power cut;
    ``NORMAL`` survives a crash of the app but may lose the last commits on
    a power cut, in exchange for faster writes.
    """
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
    if is_postgres_url(path):
        return connect_postgres(path)
    # SQLite gives the -wal and -shm files the database file's mode: 0600 for all three.
    create_private_file(path)
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    results = {}
    for pragma in ("journal_mode=WAL", f"synchronous={synchronous}", "busy_timeout=10000", "foreign_keys=ON"):
        # Read each result to the end: a pragma's unread row keeps a read
        # snapshot open, and a write from a stale snapshot fails at once with
        # "database is locked" instead of waiting its turn.
        results[pragma] = conn.execute(f"PRAGMA {pragma}").fetchall()
    attach_writer(db, path, synchronous, str(results["journal_mode=WAL"][0][0]))
    return db


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """A transaction that takes the write lock at once, so what is read
    inside it cannot change before the writes that depend on it. Inside an
    open transaction it is a savepoint, so functions that write can compose."""
    if isinstance(db, PgDatabase):
        with _postgres_transaction(db):
            yield db
        return
    if db.conn.in_transaction:
        with _savepoint(db.conn):
            yield db
        return
    # For a database file: writers queue on a lock in the kernel, and a FULL
    # commit is synced after the lock is released (see ``sqlite_writes``).
    with serialised_writes(db):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")


# One name for every nested write (SQLite nests savepoints of one name, the innermost first):
# sqlite-utils' ``atomic`` draws a random name each time, a new statement to compile per write.
_SAVEPOINT = "nested_write"


@contextlib.contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        yield
    except BaseException:
        # A RAISE(ROLLBACK) trigger ends the whole transaction, savepoints and all.
        if conn.in_transaction:
            conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        raise
    conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")


@contextlib.contextmanager
def _postgres_transaction(db: PgDatabase) -> Iterator[None]:
    if db.conn.in_transaction:
        name = db.savepoint()
        try:
            yield
        except BaseException:
            db.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        db.execute(f"RELEASE SAVEPOINT {name}")
        return
    try:
        # Pipelined: the statements whose results nobody reads (BEGIN, the lock, savepoints,
        # inserts without RETURNING) cost no round trip of their own; the COMMIT is awaited.
        with db.pipelined():
            db.begin()
            yield
            db.commit()
    except BaseException:
        db.conn.rollback()
        raise


def query_one(db: Database, sql: str, params: Any = ()) -> dict[str, Any] | None:
    """The first row as a dict, with the statement closed at once: a cursor
    left open holds a read snapshot that would make a later write fail."""
    cursor = db.execute(sql, params)
    try:
        row = cursor.fetchone()
        return None if row is None else dict(zip([c[0] for c in cursor.description], row, strict=True))
    finally:
        cursor.close()


def send_query(db: Database, sql: str, params: Any = ()) -> Callable[[], list[dict[str, Any]]]:
    """Send a statement whose rows (as dicts) the caller reads later, by calling the function returned.

    On PostgreSQL, inside a write transaction (a pipeline), statements sent one after
    another before the first read cost one round trip together; SQLite reads the rows at once.
    A write (``INSERT ... RETURNING``) is sent only inside ``write_transaction``.
    """
    if isinstance(db, PgDatabase):
        return db.send(sql, params)
    # The cursor itself, not sqlite-utils' ``query``, which wraps each statement in a savepoint
    # of its own (two statements more) to refuse one that returns no rows.
    cursor = db.execute(sql, params)
    try:
        names = [column[0] for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()
    return lambda: rows


def hash_token(token: str) -> str:
    """The stored form of a secret token: a leaked database reveals no links."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The current time as a UTC ISO timestamp, as stored in created_at."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Where:
    """A WHERE clause built from optional filters: each ``add`` is ANDed, with its parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> Where:
        """AND ``clause`` (with ``?`` placeholders for ``params``)."""
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def when(self, value: Any, clause: str) -> Where:
        """AND ``clause`` with ``value`` as its one parameter, unless ``value`` is None or empty."""
        return self.add(clause, value) if value not in (None, "") else self

    def sql(self) -> str:
        """`` WHERE ...`` or nothing."""
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def insert_row(db: Database, sql: str, params: Any) -> int:
    """Run ``sql`` (an INSERT) and return the new row's id, committed unless a transaction is open.

    ``RETURNING id`` works on both backends (sqlite3's ``lastrowid`` has no
    PostgreSQL equivalent); sqlite-utils commits a bare write only when it
    returns no rows, so the statement runs in ``write_transaction``.
    """
    with write_transaction(db):
        cursor = db.execute(sql + " RETURNING id", params)
        row = cursor.fetchone()
        cursor.close()
    return int(row[0])


def execute_many(db: Database, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run ``sql`` once for each parameter row, in one call to the driver."""
    if isinstance(db, PgDatabase):
        db.execute_many(sql, rows)
    else:
        db.conn.executemany(sql, rows)


def stream_rows(db: Database, sql: str, batch: int) -> Iterator[list[Any]]:
    """The rows of a SELECT without parameters, ``batch`` at a time, never all in memory."""
    if isinstance(db, PgDatabase):
        yield from db.stream(sql, batch)
        return
    cursor = db.conn.execute(sql)
    try:
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        cursor.close()
