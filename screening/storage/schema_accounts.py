"""Migrations m024-m029: staff roles, links and two-factor sign-in, server-side sessions, the
append-only audit log, sign-in throttling, idempotency keys and API token scopes."""

from __future__ import annotations

from sqlite_utils import Database


def m024_staff_accounts(db: Database) -> None:
    """Staff roles (admin, practitioner, reception), when each account last signed
    in, and one-time links with which a new or reset account sets its password."""
    db.table("practitioners").add_column("role", str, not_null_default="practitioner")
    db.table("practitioners").add_column("last_login_at", str)
    db.table("account_links").create(
        {
            "id": int,
            "token_hash": str,
            "practitioner_id": int,
            "purpose": str,
            "created_at": str,
            "expires_at": str,
            "used_at": str,
        },
        pk="id",
        not_null={"token_hash", "practitioner_id", "purpose", "created_at", "expires_at"},
        foreign_keys=[("practitioner_id", "practitioners", "id")],
    )
    db.table("account_links").create_index(["token_hash"], unique=True)
    # Two-factor sign-in: the TOTP secret, the last time step used (a code works
    # once) and one-time recovery codes, stored hashed.
    db.table("practitioners").add_column("totp_secret", str)
    db.table("practitioners").add_column("totp_last_step", int)
    db.table("recovery_codes").create(
        {"id": int, "practitioner_id": int, "code_hash": str, "used_at": str},
        pk="id",
        not_null={"practitioner_id", "code_hash"},
        foreign_keys=[("practitioner_id", "practitioners", "id")],
    )
    db.table("recovery_codes").create_index(["practitioner_id", "code_hash"])


def m025_sessions(db: Database) -> None:
    """Server-side sign-in sessions: the cookie names a row, so ending the row ends the session."""
    db.table("sessions").create(
        {
            "id": int,
            "token_hash": str,
            "practitioner_id": int,
            "created_at": str,
            "last_seen_at": str,
            "ended_at": str,
            "end_reason": str,
            "client_address": str,
            "user_agent": str,
        },
        pk="id",
        not_null={"token_hash", "practitioner_id", "created_at", "last_seen_at"},
        foreign_keys=[("practitioner_id", "practitioners", "id")],
    )
    db.table("sessions").create_index(["token_hash"], unique=True)
    db.table("sessions").create_index(["practitioner_id", "ended_at"])


def m026_audit_append_only(db: Database) -> None:
    """The audit log refuses changes and deletions: rows can only be added."""
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log"
            " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def m027_login_failures(db: Database) -> None:
    """Failed sign-ins per account and client address (the throttle that replaces the account lock)."""
    db.table("login_failures").create(
        {"email": str, "client_address": str, "failures": int, "last_failed_at": str, "blocked_until": str},
        pk=("email", "client_address"),
        not_null={"email", "client_address", "failures", "last_failed_at"},
    )


def m028_idempotency_keys(db: Database) -> None:
    """Idempotency-Key on API submissions: a retried request gets the first response, not a duplicate."""
    db.table("api_idempotency").create(
        {"key_hash": str, "request_hash": str, "screening_id": int, "created_at": str},
        pk="key_hash",
        not_null={"request_hash", "screening_id", "created_at"},
        foreign_keys=[("screening_id", "screenings", "id")],
    )
    db.table("api_idempotency").create_index(["screening_id"])


def m029_api_token_scopes(db: Database) -> None:
    """What an API token may read (space-separated scopes) and until when."""
    db.table("api_tokens").add_column("scopes", str, not_null_default="screenings:read fhir:read")
    db.table("api_tokens").add_column("expires_at", str)
