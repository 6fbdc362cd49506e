"""Server-side sign-in sessions: one row per sign-in, ended on sign-out,
password change, deactivation or a role change, and by the idle and absolute
lifetimes. The browser's cookie carries a random secret; only its hash is kept."""

from __future__ import annotations

import secrets
from typing import cast

from .connection import Database, hash_token, query_one, utc_now
from .records import SessionRecord


def start_session(db: Database, practitioner_id: int, client_address: str | None, user_agent: str | None) -> str:
    """A new session row; returns the secret the cookie carries (shown once, stored hashed)."""
    secret = secrets.token_urlsafe(32)
    now = utc_now()
    db.execute(
        "INSERT INTO sessions (token_hash, practitioner_id, created_at, last_seen_at, client_address, user_agent)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [hash_token(secret), practitioner_id, now, now, client_address, (user_agent or "")[:200]],
    )
    return secret


def get_session(db: Database, secret: str) -> SessionRecord | None:
    """The session this cookie secret names (ended or not), or None."""
    row = query_one(db, "SELECT * FROM sessions WHERE token_hash = ?", [hash_token(secret)])
    return cast(SessionRecord | None, row)


def touch_session(db: Database, session_id: int) -> None:
    """Note the session's latest request (the idle timeout counts from here)."""
    db.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", [utc_now(), session_id])


def end_session(db: Database, session_id: int, reason: str) -> None:
    """End one session (if it is still open)."""
    db.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        [utc_now(), reason, session_id],
    )


def end_sessions(db: Database, practitioner_id: int, reason: str, *, keep: int | None = None) -> int:
    """End every open session of an account (but ``keep``); return how many."""
    cursor = db.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE practitioner_id = ? AND ended_at IS NULL"
        " AND id IS DISTINCT FROM ?",  # NULL (keep none) is distinct from every id
        [utc_now(), reason, practitioner_id, keep],
    )
    return cursor.rowcount


def list_open_sessions(db: Database, practitioner_id: int) -> list[SessionRecord]:
    """An account's open sessions, the latest used first."""
    rows = db.query(
        "SELECT * FROM sessions WHERE practitioner_id = ? AND ended_at IS NULL ORDER BY last_seen_at DESC, id DESC",
        [practitioner_id],
    )
    return [cast(SessionRecord, row) for row in rows]
