"""The patient record: one person's screenings linked into one patient.

A new screening joins the patient whose match key it shares: the normalised
e-mail address, or the phone number's digits, each together with the date of
birth. Without a date of birth, or without any contact, it starts a patient
of its own: a name alone never links two screenings. Only the keys' hashes
are stored, so the table repeats no contact details. A practitioner may move
a screening to another patient, or give it a patient of its own, by hand.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.people import normalise_email
from .connection import Database, hash_token, insert_row, query_one, utc_now, write_transaction
from .records import ScreeningRecord

# Fewer digits than this are too likely to be shared (or a typo) to link people.
_PHONE_MIN_DIGITS = 7


class UnknownPatient(Exception):
    """No screening or patient with that id or reference."""


def match_keys(email: str | None, phone: str | None, birth_date: str | None) -> list[str]:
    """The hashed keys a screening is matched on; none without a date of birth."""
    if not birth_date:
        return []
    keys = []
    if email and email.strip():
        keys.append(f"email:{normalise_email(email)}|{birth_date}")
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) >= _PHONE_MIN_DIGITS:
        keys.append(f"phone:{digits}|{birth_date}")
    return [hash_token(key) for key in keys]


def _new_patient(db: Database) -> int:
    return insert_row(db, "INSERT INTO patients (created_at) VALUES (?)", [utc_now()])


def find_or_add_patient(db: Database, email: str | None, phone: str | None, birth_date: str | None) -> int:
    """The patient a new screening with these details joins (the one its keys match, else a new one), its keys kept."""
    keys = match_keys(email, phone, birth_date)
    with write_transaction(db):
        patient_id = None
        for key in keys:  # e-mail first: the address the patient typed most recently wins
            row = query_one(db, "SELECT patient_id FROM patient_keys WHERE key = ?", [key])
            if row is not None:
                patient_id = int(row["patient_id"])
                break
        if patient_id is None:
            patient_id = _new_patient(db)
        for key in keys:
            db.execute(
                "INSERT INTO patient_keys (key, patient_id) VALUES (?, ?) ON CONFLICT DO NOTHING", [key, patient_id]
            )
    return patient_id


def link_new_screening(
    db: Database, screening_id: int, email: str | None, phone: str | None, birth_date: str | None
) -> int:
    """Put a stored screening that has no patient on the patient its keys match, or on a new one; return its id."""
    with write_transaction(db):
        patient_id = find_or_add_patient(db, email, phone, birth_date)
        db.execute("UPDATE screenings SET patient_id = ? WHERE id = ?", [patient_id, screening_id])
    return patient_id


def list_patient_screenings(db: Database, patient_id: int) -> list[ScreeningRecord]:
    """Every screening of the patient, oldest first, with its JSON columns decoded."""
    from .screenings import decode_screening  # screenings imports this module to link on save

    rows = db.query("SELECT * FROM screenings WHERE patient_id = ? ORDER BY created_at, id", [patient_id])
    return [decode_screening(row) for row in rows]


def move_screening(db: Database, screening_id: int, patient_id: int | None) -> int:
    """Put the screening on patient ``patient_id``, or on a new patient of its own when None; return its patient.

    Its match keys follow it only when it gets a patient of its own and no other
    screening of its old patient shares them, so a later screening goes where a
    practitioner put this one.
    """
    with write_transaction(db):
        row = query_one(db, "SELECT id FROM screenings WHERE id = ?", [screening_id])
        if row is None:
            raise UnknownPatient(str(screening_id))
        if patient_id is None:
            patient_id = _new_patient(db)
        elif query_one(db, "SELECT id FROM patients WHERE id = ?", [patient_id]) is None:
            raise UnknownPatient(str(patient_id))
        db.execute("UPDATE screenings SET patient_id = ? WHERE id = ?", [patient_id, screening_id])
    return patient_id


def patient_summary(db: Database, patient_id: int) -> dict[str, Any]:
    """The patient's id, when the record began, and how many screenings it holds."""
    row = query_one(
        db,
        "SELECT p.id, p.created_at, count(s.id) AS screenings FROM patients p"
        " LEFT JOIN screenings s ON s.patient_id = p.id WHERE p.id = ? GROUP BY p.id",
        [patient_id],
    )
    if row is None:
        raise UnknownPatient(str(patient_id))
    return row
