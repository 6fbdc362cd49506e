"""One-time links with which a new account, or one an administrator reset,
sets its own password. Only the link's hash is kept; a link works once and
until it expires, and a newer link replaces older ones."""

from __future__ import annotations

import secrets

from .connection import Database, hash_token, query_one, utc_now, write_transaction


def create_account_link(db: Database, practitioner_id: int, purpose: str, expires_at: str) -> str:
    """A new link (``purpose``: invite or reset); earlier unused ones of the account stop working."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    with write_transaction(db):
        db.execute(
            "UPDATE account_links SET used_at = ? WHERE practitioner_id = ? AND used_at IS NULL", [now, practitioner_id]
        )
        db.execute(
            "INSERT INTO account_links (token_hash, practitioner_id, purpose, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [hash_token(token), practitioner_id, purpose, now, expires_at],
        )
    return token


def live_account_link(db: Database, token: str) -> tuple[int, int, str] | None:
    """(link id, account id, purpose) of an unused, unexpired link, or None."""
    row = query_one(
        db,
        "SELECT id, practitioner_id, purpose FROM account_links"
        " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        [hash_token(token), utc_now()],
    )
    return None if row is None else (int(row["id"]), int(row["practitioner_id"]), str(row["purpose"]))


def use_account_link(db: Database, link_id: int) -> bool:
    """Spend a link; False if it was spent already (two tabs, a replay)."""
    cursor = db.execute("UPDATE account_links SET used_at = ? WHERE id = ? AND used_at IS NULL", [utc_now(), link_id])
    return cursor.rowcount == 1
