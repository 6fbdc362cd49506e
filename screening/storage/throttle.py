"""The sign-in throttle: failures counted per account *and* client address, so
that nobody can lock a colleague out from elsewhere, with a delay that grows
with every further failure from the same pair."""

from __future__ import annotations

import datetime as dt

from .connection import Database, query_one, write_transaction


def login_blocked_until(db: Database, email: str, address: str, now: dt.datetime) -> dt.datetime | None:
    """Until when sign-ins to ``email`` from ``address`` are paused, if they are now."""
    row = query_one(
        db, "SELECT blocked_until FROM login_failures WHERE email = ? AND client_address = ?", [email, address]
    )
    if row is None or row["blocked_until"] is None:
        return None
    until = dt.datetime.fromisoformat(row["blocked_until"])
    return until if until > now else None


def record_failed_login(
    db: Database, email: str, address: str, now: dt.datetime, *, after: int, first_delay: int, max_delay: int
) -> tuple[int, int]:
    """Count a failure for this account and address; from the ``after``-th in a row,
    pause that pair for ``first_delay`` seconds, doubling each time up to ``max_delay``.
    Returns (failures in a row, seconds paused: 0 when not paused)."""
    with write_transaction(db):
        row = query_one(
            db, "SELECT failures FROM login_failures WHERE email = ? AND client_address = ?", [email, address]
        )
        failures = (int(row["failures"]) if row else 0) + 1
        delay = 0
        if failures >= after:
            delay = min(first_delay * 2 ** min(failures - after, 30), max_delay)
        blocked_until = (now + dt.timedelta(seconds=delay)).isoformat(timespec="microseconds") if delay else None
        db.execute(
            "INSERT INTO login_failures (email, client_address, failures, last_failed_at, blocked_until)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (email, client_address) DO UPDATE SET"
            " failures = excluded.failures, last_failed_at = excluded.last_failed_at,"
            " blocked_until = excluded.blocked_until",
            [email, address, failures, now.isoformat(timespec="microseconds"), blocked_until],
        )
        return failures, delay


def clear_failed_logins(db: Database, email: str, address: str) -> None:
    """Forget the failures of this account from this address (after a successful sign-in)."""
    db.execute("DELETE FROM login_failures WHERE email = ? AND client_address = ?", [email, address])
