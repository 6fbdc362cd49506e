"""Idempotency keys of API submissions: which screening a key created, and
from which request body, so that a retry gets the first answer. A key is
stored as the hash of its client and the key (``api.idempotency.key_hash``),
so one client's key never finds another's screening."""

from __future__ import annotations

from .connection import Database, query_one, utc_now


def find_idempotency_key(db: Database, key_hash: str) -> tuple[str, int] | None:
    """(request hash, screening id) that this key was first used with, or None."""
    row = query_one(db, "SELECT request_hash, screening_id FROM api_idempotency WHERE key_hash = ?", [key_hash])
    return None if row is None else (str(row["request_hash"]), int(row["screening_id"]))


def record_idempotency_key(db: Database, key_hash: str, request_hash: str, screening_id: int) -> None:
    """Remember that this key created this screening from this request."""
    db.execute(
        "INSERT INTO api_idempotency (key_hash, request_hash, screening_id, created_at) VALUES (?, ?, ?, ?)",
        [key_hash, request_hash, screening_id, utc_now()],
    )
