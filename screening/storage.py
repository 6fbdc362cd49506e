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
