"""A SQLite store for Flask-Limiter's counts (``sqlite:///path``), so the
documented limits hold across every gunicorn worker without a separate
server; ``redis://`` remains the choice for several machines.

Fixed windows, as Flask-Limiter uses by default: one row per key with its
count and when its window ends. The file is apart from the patient
database: counting requests never contends with storing screenings.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from urllib.parse import urlsplit

from limits.storage import Storage

from ..storage.connection import create_private_file


class SQLiteStorage(Storage):
    """Rate-limit counts in a SQLite file shared by the server's processes."""

    STORAGE_SCHEME = ["sqlite"]  # noqa: RUF012 - the limits library's registry reads this class attribute

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = urlsplit(uri).path
        self._local = threading.local()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """What a failing store raises."""
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        # One connection per thread and process (never shared across a fork).
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", 0) != os.getpid():
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            create_private_file(self.path)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            conn.execute("PRAGMA synchronous=NORMAL").fetchall()
            conn.execute(
                "CREATE TABLE IF NOT EXISTS counts (key TEXT PRIMARY KEY, value INTEGER NOT NULL, ends REAL NOT NULL)"
            )
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the key's count in its window (a new window if the last one ended)."""
        db, now = self._db(), time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value, ends FROM counts WHERE key = ?", [key]).fetchone()
            if row is None or row[1] <= now:
                value = amount
                db.execute(
                    "INSERT OR REPLACE INTO counts (key, value, ends) VALUES (?, ?, ?)", [key, value, now + expiry]
                )
            else:
                value = int(row[0]) + amount
                db.execute("UPDATE counts SET value = ? WHERE key = ?", [value, key])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return value

    def get(self, key: str) -> int:
        """The key's count in its current window (0 when it has none)."""
        row = self._db().execute("SELECT value FROM counts WHERE key = ? AND ends > ?", [key, time.time()]).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (now when it has none)."""
        row = self._db().execute("SELECT ends FROM counts WHERE key = ?", [key]).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        """Whether the store answers."""
        try:
            self._db().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every count."""
        return self._db().execute("DELETE FROM counts").rowcount

    def clear(self, key: str) -> None:
        """Forget one key's count."""
        self._db().execute("DELETE FROM counts WHERE key = ?", [key])
