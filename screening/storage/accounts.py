"""Practitioner accounts, the login lockout and the API's bearer tokens."""

from __future__ import annotations

import secrets
from typing import cast

from .connection import Database, hash_token, insert_row, query_one, utc_now
from .records import ApiTokenRecord, PractitionerRecord, PractitionerSummary

# --- Practitioners ---------------------------------------------------------------


def create_practitioner(db: Database, email: str, name: str, password_hash: str, role: str = "practitioner") -> int:
    """Add an account; raise ``sqlite3.IntegrityError`` if the e-mail is taken."""
    new_id = insert_row(
        db,
        "INSERT INTO practitioners (email, name, password_hash, active, created_at, failed_logins, role)"
        " VALUES (?, ?, ?, 1, ?, 0, ?)",
        [email.strip().lower(), name.strip(), password_hash, utc_now(), role],
    )
    return new_id


def get_practitioner(db: Database, practitioner_id: int) -> PractitionerRecord | None:
    """The account with this id, or None."""
    row = query_one(db, "SELECT * FROM practitioners WHERE id = ?", [practitioner_id])
    return cast(PractitionerRecord | None, row)


def get_practitioner_by_email(db: Database, email: str) -> PractitionerRecord | None:
    """The account with this e-mail (any case), or None."""
    row = query_one(db, "SELECT * FROM practitioners WHERE email = ?", [email.strip().lower()])
    return cast(PractitionerRecord | None, row)


def set_practitioner_active(db: Database, email: str, active: bool) -> bool:
    """Activate or deactivate an account; False if there is no such account."""
    cursor = db.execute(
        "UPDATE practitioners SET active = ? WHERE email = ?", [1 if active else 0, email.strip().lower()]
    )
    return cursor.rowcount > 0


def set_practitioner_role(db: Database, practitioner_id: int, role: str) -> None:
    """Give an account another role."""
    db.execute("UPDATE practitioners SET role = ? WHERE id = ?", [role, practitioner_id])


def set_medical_director(db: Database, practitioner_id: int, medical_director: bool) -> None:
    """Mark an account as a medical director (who may approve a rule change) or not."""
    db.execute("UPDATE practitioners SET medical_director = ? WHERE id = ?", [int(medical_director), practitioner_id])


def set_practitioner_password(db: Database, practitioner_id: int, password_hash: str) -> None:
    """Replace an account's password hash (and forget earlier failed sign-ins)."""
    db.execute(
        "UPDATE practitioners SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
        [password_hash, practitioner_id],
    )


def list_practitioners(db: Database) -> list[PractitionerSummary]:
    """Every account (without password hashes), by name."""
    rows = db.query(
        "SELECT id, email, name, active, created_at, role, last_login_at, medical_director FROM practitioners"
        " ORDER BY name, id"
    )
    return [cast(PractitionerSummary, row) for row in rows]


# --- Sign-ins ---------------------------------------------------------------


def record_login_success(db: Database, practitioner_id: int) -> None:
    """Note a successful sign-in (the account page shows when)."""
    db.execute(
        "UPDATE practitioners SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
        [utc_now(), practitioner_id],
    )


# --- API tokens ------------------------------------------------------------------


API_SCOPES = ("screenings:read", "fhir:read")


def create_api_token(
    db: Database,
    practitioner_id: int,
    name: str,
    scopes: tuple[str, ...] = API_SCOPES,
    expires_at: str | None = None,
) -> str:
    """Issue a bearer token for ``scopes`` (until ``expires_at``, UTC ISO, if given);
    only its hash is kept, so it is shown once."""
    token = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO api_tokens (practitioner_id, name, token_hash, created_at, scopes, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [practitioner_id, name.strip(), hash_token(token), utc_now(), " ".join(scopes), expires_at],
    )
    return token


def get_api_token(db: Database, token: str) -> ApiTokenRecord | None:
    """The live (not revoked, not expired) token with its owner's e-mail and current role,
    if the owner is active."""
    row = query_one(
        db,
        "SELECT api_tokens.*, practitioners.email AS practitioner_email, practitioners.role AS practitioner_role"
        " FROM api_tokens"
        " JOIN practitioners ON practitioners.id = api_tokens.practitioner_id"
        " WHERE token_hash = ? AND revoked_at IS NULL AND practitioners.active = 1"
        " AND (expires_at IS NULL OR expires_at > ?)",
        [hash_token(token), utc_now()],
    )
    return cast(ApiTokenRecord | None, row)


def has_live_api_token(db: Database, practitioner_id: int, name: str) -> bool:
    """Whether the practitioner has an unrevoked token with this name."""
    row = query_one(
        db,
        "SELECT 1 AS live FROM api_tokens WHERE practitioner_id = ? AND name = ? AND revoked_at IS NULL",
        [practitioner_id, name.strip()],
    )
    return row is not None


def revoke_api_tokens(db: Database, practitioner_id: int, name: str) -> int:
    """Revoke a practitioner's live tokens with this name; return how many."""
    cursor = db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE practitioner_id = ? AND name = ? AND revoked_at IS NULL",
        [utc_now(), practitioner_id, name.strip()],
    )
    return cursor.rowcount


def touch_api_token(db: Database, token_id: int) -> None:
    """Note when a token was last used, so unused ones can be found and revoked."""
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [utc_now(), token_id])
