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

- SQLite checkpoints the WAL into the database inside the commit that
  crosses 1,000 pages, so every ~60th screening also copied the pages and
  synced the database file, holding the write lock. A thread per process
  (``Checkpointer``) now checkpoints in the background (PASSIVE: it never
  blocks a writer); a request checkpoints only as a safety net, if the WAL
  ever grows past ``FALLBACK_CHECKPOINT_PAGES``.

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
        self.checkpointer = checkpointer_for(path)
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


# The background checkpoint runs after this many commits, or after a second with any.
CHECKPOINT_EVERY_COMMITS = 32
CHECKPOINT_AFTER_SECONDS = 1.0
# The thread ends after this long without commits; the next commit starts it again.
CHECKPOINTER_IDLE_SECONDS = 10.0
# A commit checkpoints itself only if the WAL reaches this (about 80 MB): the thread is stuck.
FALLBACK_CHECKPOINT_PAGES = 20_000


class Checkpointer:
    """A daemon thread that checkpoints one database file's WAL for this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.commits = 0
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def note_commit(self) -> None:
        """Count a commit, starting the thread if it is not running (after a fork or idle exit it is not)."""
        with self.lock:
            self.commits += 1
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()
                self.wake = threading.Event()
                self.thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
                self.thread.start()
            elif self.commits >= CHECKPOINT_EVERY_COMMITS:
                self.wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False)
        lock = FileWriter(self.path, sync_after_commit=False)
        idle = 0.0
        try:
            while idle < CHECKPOINTER_IDLE_SECONDS:
                woken = self.wake.wait(CHECKPOINT_AFTER_SECONDS)
                with self.lock:
                    self.wake.clear()
                    pending, self.commits = self.commits, 0
                if not pending:
                    idle += 0.0 if woken else CHECKPOINT_AFTER_SECONDS
                    continue
                idle = 0.0
                # Busy or gone: the next round, or a request's fallback, checkpoints.
                with contextlib.suppress(sqlite3.Error):
                    # The bulk (copying pages, syncing the database file) while writers go on;
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    # then the few frames committed meanwhile, with the writers held back: only a
                    # checkpoint that reaches the WAL's end lets the next writer restart the WAL
                    # from its beginning, else the file grows without end.
                    if lock.acquire():
                        try:
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                        finally:
                            lock.release()
        finally:
            lock.close()
            conn.close()


_CHECKPOINTERS: dict[str, Checkpointer] = {}
_CHECKPOINTERS_LOCK = threading.Lock()


def _forget_checkpointers() -> None:
    # A forked child has none of the parent's threads, and a lock held by one
    # of them at the fork would stay held for ever: start afresh.
    global _CHECKPOINTERS_LOCK
    _CHECKPOINTERS_LOCK = threading.Lock()
    for checkpointer in _CHECKPOINTERS.values():
        checkpointer.lock = threading.Lock()
        checkpointer.thread = None


os.register_at_fork(after_in_child=_forget_checkpointers)


def checkpointer_for(path: str) -> Checkpointer:
    """This process's checkpointer of the database file at ``path``."""
    key = os.path.abspath(path)
    with _CHECKPOINTERS_LOCK:
        return _CHECKPOINTERS.setdefault(key, Checkpointer(key))


_WRITERS: weakref.WeakKeyDictionary[Database, FileWriter] = weakref.WeakKeyDictionary()


def attach_writer(db: Database, path: str, synchronous: str, journal_mode: str) -> None:
    """Serialise ``db``'s write transactions with every other writer of the file at ``path``."""
    if path == ":memory:" or path.startswith("file:") or journal_mode.lower() != "wal":
        return
    writer = FileWriter(path, sync_after_commit=synchronous == "FULL")
    db.conn.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}").fetchall()
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
    writer.checkpointer.note_commit()
