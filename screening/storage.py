"""Every query of the app, behind functions named for what they do.

Views never hold SQL. The schema evolves through ``sqlite_utils.Migrations``:
add a new migration function at the end, never edit an applied one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from .engine import Verdict, answers_to_json

# No look-alikes (0/O, 1/I/L, 5/S, 8/B, 2/Z) so a code read aloud or copied
# from paper is unambiguous.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 8

migrations = Migrations("screening")


@migrations()
def m001_screenings(db: Database) -> None:
    """The screenings table and the indexes the practitioner queue filters on."""
    db.table("screenings").create(
        {
            "id": int,
            "reference": str,
            "token_hash": str,
            "created_at": str,
            "source": str,
            "language": str,
            "patient_name": str,
            "contact_email": str,
            "contact_phone": str,
            "date_of_birth": str,
            "answers": str,
            "concerns": str,
            "status": str,
            "reasons": str,
            "rescreen_after": str,
            "rules_version": str,
            "consent_version": str,
        },
        pk="id",
        not_null={"reference", "token_hash", "created_at", "status", "answers", "reasons", "rules_version"},
    )
    table = db.table("screenings")
    table.create_index(["reference"], unique=True)
    table.create_index(["token_hash"], unique=True)
    table.create_index(["created_at", "id"])
    table.create_index(["status", "created_at", "id"])


@migrations()
def m002_practitioners(db: Database) -> None:
    """Practitioner accounts; e-mail addresses are stored lower-cased."""
    db.table("practitioners").create(
        {
            "id": int,
            "email": str,
            "name": str,
            "password_hash": str,
            "active": int,
            "created_at": str,
            "failed_logins": int,
            "locked_until": str,
        },
        pk="id",
        not_null={"email", "name", "password_hash", "active", "created_at", "failed_logins"},
        defaults={"active": 1, "failed_logins": 0},
    )
    db.table("practitioners").create_index(["email"], unique=True)


@migrations()
def m003_reviews(db: Database) -> None:
    """Append-only practitioner decisions, and the current one on each screening."""
    db.table("reviews").create(
        {
            "id": int,
            "screening_id": int,
            "practitioner_id": int,
            "created_at": str,
            "decision": str,
            "status": str,
            "reason_code": str,
            "comment": str,
            "notes": str,
        },
        pk="id",
        not_null={"screening_id", "practitioner_id", "created_at", "decision", "status"},
        foreign_keys=[("screening_id", "screenings", "id"), ("practitioner_id", "practitioners", "id")],
    )
    db.table("reviews").create_index(["screening_id", "id"])
    # Denormalised for the queue: "not reviewed yet" must be an index lookup
    # at a million rows, not a scan of the reviews table.
    db.table("screenings").add_column("reviewed", int, not_null_default=0)
    db.table("screenings").add_column("decided_status", str)
    db.table("screenings").add_column("reviewed_at", str)
    db.table("screenings").create_index(["reviewed", "created_at", "id"])


@migrations()
def m004_audit_log(db: Database) -> None:
    """Append-only record of who did what; never holds patient answers."""
    db.table("audit_log").create(
        {
            "id": int,
            "at": str,
            "practitioner_id": int,
            "actor": str,
            "action": str,
            "target": str,
            "client_address": str,
            "details": str,
        },
        pk="id",
        not_null={"at", "action"},
    )
    db.table("audit_log").create_index(["at", "id"])
    db.table("audit_log").create_index(["action", "at"])
    db.table("audit_log").create_index(["practitioner_id", "at"])


@migrations()
def m005_api_tokens(db: Database) -> None:
    """Bearer tokens for the clinic's systems; only a hash is stored."""
    db.table("api_tokens").create(
        {
            "id": int,
            "practitioner_id": int,
            "name": str,
            "token_hash": str,
            "created_at": str,
            "revoked_at": str,
            "last_used_at": str,
        },
        pk="id",
        not_null={"practitioner_id", "name", "token_hash", "created_at"},
        foreign_keys=[("practitioner_id", "practitioners", "id")],
    )
    db.table("api_tokens").create_index(["token_hash"], unique=True)


@migrations()
def m006_name_search(db: Database) -> None:
    """Full-text index on patient names so the queue's search stays fast."""
    db.table("screenings").enable_fts(["patient_name"], fts_version="FTS5", create_triggers=True)


def connect(path: str) -> Database:
    """Open the database with the settings every connection needs."""
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db = Database(conn)
    # WAL lets readers and the writer work at once; synchronous=FULL makes a
    # committed screening survive a crash of the machine, not only the app.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def migrate(db: Database) -> list[str]:
    """Create or upgrade the schema; return the names of migrations applied."""
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        migrations.apply(db)
    return pending


def hash_token(token: str) -> str:
    """The stored form of a result token: a leaked database reveals no links."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_reference() -> str:
    """A short random code for patients to quote at the clinic."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def utc_now() -> str:
    """The current time as a UTC ISO timestamp, as stored in created_at."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Patient:
    """Who the screening is for, as typed by the patient."""

    name: str
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class SavedScreening:
    """What the caller needs after storing: the code and the secret link token."""

    id: int
    reference: str
    token: str


def save_screening(
    db: Database,
    verdict: Verdict,
    patient: Patient,
    *,
    source: str,
    language: str,
    consent_version: str,
) -> SavedScreening:
    """Store a screening with its verdict; return its reference and token."""
    answers = answers_to_json(verdict.answers)
    row = {
        "created_at": utc_now(),
        "source": source,
        "language": language,
        "patient_name": patient.name,
        "contact_email": patient.email or None,
        "contact_phone": patient.phone or None,
        "date_of_birth": answers.get("date_of_birth"),
        "answers": json.dumps(answers, ensure_ascii=False),
        "concerns": json.dumps(answers.get("concerns", []), ensure_ascii=False),
        "status": verdict.status,
        "reasons": json.dumps([r.as_dict() for r in verdict.reasons], ensure_ascii=False),
        "rescreen_after": verdict.rescreen_after.isoformat() if verdict.rescreen_after else None,
        "rules_version": verdict.rules_version,
        "consent_version": consent_version,
    }
    for _ in range(20):
        token = secrets.token_urlsafe(32)
        reference = new_reference()
        try:
            with db.atomic():
                cursor = db.execute(
                    "INSERT INTO screenings (reference, token_hash, created_at, source, language, patient_name,"
                    " contact_email, contact_phone, date_of_birth, answers, concerns, status, reasons,"
                    " rescreen_after, rules_version, consent_version)"
                    " VALUES (:reference, :token_hash, :created_at, :source, :language, :patient_name,"
                    " :contact_email, :contact_phone, :date_of_birth, :answers, :concerns, :status, :reasons,"
                    " :rescreen_after, :rules_version, :consent_version)",
                    {**row, "reference": reference, "token_hash": hash_token(token)},
                )
        except sqlite3.IntegrityError:
            # A reference collision (1 in 25^8 per pair): draw again.
            continue
        return SavedScreening(id=int(cursor.lastrowid or 0), reference=reference, token=token)
    raise RuntimeError("could not draw a unique reference code")


def _decode(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    record = dict(row)
    for key in ("answers", "concerns", "reasons"):
        if record.get(key) is not None:
            record[key] = json.loads(record[key])
    return record


def get_screening_by_token(db: Database, token: str) -> dict[str, Any] | None:
    """The screening a patient's result link points to, or None."""
    rows = db.query("SELECT * FROM screenings WHERE token_hash = ?", [hash_token(token)])
    return _decode(next(rows, None))


def get_screening_by_reference(db: Database, reference: str) -> dict[str, Any] | None:
    """The screening with this reference code (case-insensitive), or None."""
    rows = db.query("SELECT * FROM screenings WHERE reference = ?", [reference.strip().upper()])
    return _decode(next(rows, None))


def count_screenings(db: Database) -> int:
    """How many screenings are stored."""
    return int(db.execute("SELECT count(*) FROM screenings").fetchone()[0])


# --- Practitioners -------------------------------------------------------------


def create_practitioner(db: Database, email: str, name: str, password_hash: str) -> int:
    """Add an account; raise ``sqlite3.IntegrityError`` if the e-mail is taken."""
    cursor = db.execute(
        "INSERT INTO practitioners (email, name, password_hash, active, created_at, failed_logins)"
        " VALUES (?, ?, ?, 1, ?, 0)",
        [email.strip().lower(), name.strip(), password_hash, utc_now()],
    )
    return int(cursor.lastrowid or 0)


def get_practitioner(db: Database, practitioner_id: int) -> dict[str, Any] | None:
    """The account with this id, or None."""
    return next(db.query("SELECT * FROM practitioners WHERE id = ?", [practitioner_id]), None)


def get_practitioner_by_email(db: Database, email: str) -> dict[str, Any] | None:
    """The account with this e-mail (any case), or None."""
    return next(db.query("SELECT * FROM practitioners WHERE email = ?", [email.strip().lower()]), None)


def set_practitioner_active(db: Database, email: str, active: bool) -> bool:
    """Activate or deactivate an account; False if there is no such account."""
    cursor = db.execute(
        "UPDATE practitioners SET active = ? WHERE email = ?", [1 if active else 0, email.strip().lower()]
    )
    return cursor.rowcount > 0


# --- Audit -------------------------------------------------------------------


def record_audit(
    db: Database,
    action: str,
    *,
    actor: str | None = None,
    practitioner_id: int | None = None,
    target: str | None = None,
    client_address: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one row to the audit log (no patient answers or names in it)."""
    db.execute(
        "INSERT INTO audit_log (at, practitioner_id, actor, action, target, client_address, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            utc_now(),
            practitioner_id,
            actor,
            action,
            target,
            client_address,
            json.dumps(dict(details), ensure_ascii=False) if details else None,
        ],
    )


# --- Reviews -------------------------------------------------------------------


def add_review(
    db: Database,
    screening_id: int,
    practitioner_id: int,
    *,
    decision: str,
    status: str,
    reason_code: str | None = None,
    comment: str | None = None,
    notes: str | None = None,
) -> int:
    """Record a decision; it supersedes, never edits, earlier ones."""
    now = utc_now()
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO reviews (screening_id, practitioner_id, created_at, decision, status, reason_code,"
            " comment, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [screening_id, practitioner_id, now, decision, status, reason_code, comment, notes],
        )
        db.execute(
            "UPDATE screenings SET reviewed = 1, decided_status = ?, reviewed_at = ? WHERE id = ?",
            [status, now, screening_id],
        )
    return int(cursor.lastrowid or 0)


def list_reviews(db: Database, screening_id: int) -> list[dict[str, Any]]:
    """Every decision on a screening, newest first, with who made it."""
    return list(
        db.query(
            "SELECT reviews.*, practitioners.name AS practitioner_name, practitioners.email AS practitioner_email"
            " FROM reviews JOIN practitioners ON practitioners.id = reviews.practitioner_id"
            " WHERE screening_id = ? ORDER BY reviews.id DESC",
            [screening_id],
        )
    )


# --- Queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningFilter:
    """What the queue (and the API's list) is narrowed to."""

    status: str | None = None
    reviewed: bool | None = None
    since: str | None = None  # created_at >= since (UTC ISO date or timestamp)
    until: str | None = None  # created_at < until
    search: str | None = None  # a reference code or words of the patient's name


def _filter_sql(filters: ScreeningFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if filters.status:
        where.append("status = ?")
        params.append(filters.status)
    if filters.reviewed is not None:
        where.append("reviewed = ?")
        params.append(1 if filters.reviewed else 0)
    if filters.since:
        where.append("created_at >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("created_at < ?")
        params.append(filters.until)
    if filters.search and filters.search.strip():
        term = filters.search.strip()
        words = [w for w in term.replace('"', " ").split() if w]
        # Prefix match on each word of the name, or an exact reference code.
        fts_query = " ".join(f'"{w}"*' for w in words)
        where.append("(reference = ? OR id IN (SELECT rowid FROM screenings_fts WHERE screenings_fts MATCH ?))")
        params.extend([term.upper(), fts_query])
    return where, params


def list_screenings(
    db: Database,
    filters: ScreeningFilter = ScreeningFilter(),
    *,
    before: tuple[str, int] | None = None,
    limit: int = 50,
    columns: str = "*",
) -> list[dict[str, Any]]:
    """One page of screenings, newest first.

    Keyset pagination: ``before`` is the (created_at, id) of the last row of
    the previous page, so every page costs the same however deep it is.
    """
    where, params = _filter_sql(filters)
    if before is not None:
        where.append("(created_at, id) < (?, ?)")
        params.extend(before)
    sql = f"SELECT {columns} FROM screenings"  # noqa: S608 - columns come from code, not users
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    params.append(limit)
    return [_decode(row) or {} for row in db.query(sql, params)]


def count_screenings_by_status(db: Database, filters: ScreeningFilter = ScreeningFilter()) -> dict[str, int]:
    """How many screenings match, per status."""
    where, params = _filter_sql(ScreeningFilter(**{**filters.__dict__, "status": None}))
    sql = "SELECT status, count(*) AS n FROM screenings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " GROUP BY status"
    return {row["status"]: row["n"] for row in db.query(sql, params)}


# --- API tokens --------------------------------------------------------------------


def create_api_token(db: Database, practitioner_id: int, name: str) -> str:
    """Issue a bearer token; only its hash is kept, so it is shown once."""
    token = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO api_tokens (practitioner_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
        [practitioner_id, name.strip(), hash_token(token), utc_now()],
    )
    return token


def get_api_token(db: Database, token: str) -> dict[str, Any] | None:
    """The live (not revoked) token with its owner, if the owner is active."""
    return next(
        db.query(
            "SELECT api_tokens.*, practitioners.email AS practitioner_email FROM api_tokens"
            " JOIN practitioners ON practitioners.id = api_tokens.practitioner_id"
            " WHERE token_hash = ? AND revoked_at IS NULL AND practitioners.active = 1",
            [hash_token(token)],
        ),
        None,
    )


def revoke_api_tokens(db: Database, practitioner_id: int, name: str) -> int:
    """Revoke a practitioner's live tokens with this name; return how many."""
    cursor = db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE practitioner_id = ? AND name = ? AND revoked_at IS NULL",
        [utc_now(), practitioner_id, name.strip()],
    )
    return cursor.rowcount
