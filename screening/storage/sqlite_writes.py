"""How ``write_transaction`` serialises and syncs the writes to a SQLite file.

Two costs of a write under concurrency, measured in BENCHMARKS.md (section 2):

- A writer that finds the write lock taken waits in SQLite's busy handler,
  which sleeps 1, 2, 5, 10, 15 ms... between tries: a third of a worker's
  time under load went to those sleeps. Writers now take an ``flock`` on a
  file beside the database before ``BEGIN IMMEDIATE``: a waiting writer
  sleeps in the kernel and wakes the moment the lock is released.
- With ``synchronous=FULL`` SQLite fsyncs the WAL while it holds the write
  lock, so the next writer waits for the disk too. The transaction now
  commits as ``NORMAL`` (the WAL written, not synced), the lock is
  released, and then the WAL is synced before ``write_transaction``
  returns: a screening is still on disk before its 201 is sent, while the
  next writer already runs, and fsyncs that overlap are merged by the file
  system's journal. WAL frames are checksummed in a chain, so a power cut
  before the sync loses only commits nobody was told about.

Only SQLite database files in WAL mode get this; ``:memory:`` and other
journal modes keep SQLite's own locking and syncing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator

from sqlite_utils import Database

# The lock file beside the database; SQLite's own are -wal, -shm and -journal.
WRITER_LOCK_SUFFIX = "-writer"

# The lock files this thread holds: a second connection in the same thread
# must not wait for its own thread (it falls back to SQLite's busy handler).
_held = threading.local()


class FileWriter:
    """The writer lock and the after-commit sync of one connection to a database file."""

    def __init__(self, path: str, sync_after_commit: bool) -> None:
        self.lock_path = os.path.abspath(path) + WRITER_LOCK_SUFFIX
        self.wal_path = os.path.abspath(path) + "-wal"
        self.sync_after_commit = sync_after_commit
        self.fd = -1
        self.pid = 0

    def acquire(self) -> bool:
        """Take the writer lock, waiting in the kernel; False if this thread holds it already."""
        held: set[str] = _held.__dict__.setdefault("paths", set())
        if self.lock_path in held:
            return False
        if self.pid != os.getpid():
            # A descriptor inherited across a fork shares its lock with the parent: open our own.
            self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.pid = os.getpid()
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        held.add(self.lock_path)
        return True

    def release(self) -> None:
        """Let the next writer in."""
        _held.__dict__.setdefault("paths", set()).discard(self.lock_path)
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file's descriptor (releasing the lock if held)."""
        if self.fd >= 0 and self.pid == os.getpid():
            os.close(self.fd)
        self.fd = -1

    def sync(self) -> None:
        """Sync the WAL to disk: every commit written to it so far is then durable."""
        # Opened each time: if every connection closed in between, SQLite deleted
        # and recreated the file, and an old descriptor would sync the deleted one.
        fd = os.open(self.wal_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if hasattr(os, "fdatasync"):
                os.fdatasync(fd)
            else:  # macOS has no fdatasync
                os.fsync(fd)
        finally:
            os.close(fd)


_WRITERS: weakref.WeakKeyDictionary[Database, FileWriter] = weakref.WeakKeyDictionary()


def attach_writer(db: Database, path: str, synchronous: str, journal_mode: str) -> None:
    """Serialise ``db``'s write transactions with every other writer of the file at ``path``."""
    if path == ":memory:" or path.startswith("file:") or journal_mode.lower() != "wal":
        return
    writer = FileWriter(path, sync_after_commit=synchronous == "FULL")
    _WRITERS[db] = writer
    weakref.finalize(db, writer.close)


@contextlib.contextmanager
def serialised_writes(db: Database) -> Iterator[None]:
    """Hold the writer lock around one outermost transaction; with FULL, sync the WAL after it."""
    writer = _WRITERS.get(db)
    if writer is None:
        yield
        return
    acquired = writer.acquire()
    try:
        if writer.sync_after_commit:
            db.conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            if writer.sync_after_commit:
                db.conn.execute("PRAGMA synchronous=FULL")
    finally:
        if acquired:
            writer.release()
    if writer.sync_after_commit:
        try:
            writer.sync()
        except OSError as error:
            # What SQLite says when its own sync fails: a storage fault, answered with 503.
            raise sqlite3.OperationalError(f"disk I/O error: {error}") from error
