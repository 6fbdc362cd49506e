"""Two-factor sign-in records: the account's TOTP secret, the last time step
accepted (so a code works once) and hashed one-time recovery codes."""

from __future__ import annotations

from .connection import Database, hash_token, utc_now, write_transaction


def enable_totp(db: Database, practitioner_id: int, secret: str, recovery_codes: list[str]) -> None:
    """Turn two-factor sign-in on with ``secret``; replace the recovery codes (stored hashed)."""
    with write_transaction(db):
        db.execute(
            "UPDATE practitioners SET totp_secret = ?, totp_last_step = NULL WHERE id = ?", [secret, practitioner_id]
        )
        db.execute("DELETE FROM recovery_codes WHERE practitioner_id = ?", [practitioner_id])
        for code in recovery_codes:
            db.execute(
                "INSERT INTO recovery_codes (practitioner_id, code_hash) VALUES (?, ?)",
                [practitioner_id, hash_token(code)],
            )


def accept_totp_step(db: Database, practitioner_id: int, step: int) -> bool:
    """Record ``step`` as used; False if it (or a later one) was used already."""
    cursor = db.execute(
        "UPDATE practitioners SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        [step, practitioner_id, step],
    )
    return cursor.rowcount == 1


def use_recovery_code(db: Database, practitioner_id: int, code: str) -> bool:
    """Spend one recovery code; False if it is not an unused code of this account."""
    cursor = db.execute(
        "UPDATE recovery_codes SET used_at = ? WHERE practitioner_id = ? AND code_hash = ? AND used_at IS NULL",
        [utc_now(), practitioner_id, hash_token(code)],
    )
    return cursor.rowcount == 1
