"""The patient record: one person's screenings linked into one patient.

A new screening joins the patient whose match key it shares: the normalised
e-mail address, or the phone number's digits, each together with the date of
birth. Without a date of birth, or without any contact, it starts a patient
of its own: a name alone never links two screenings. Only the keys' hashes
are stored, so the table repeats no contact details. A practitioner may move
a screening to another patient, or give it a patient of its own, by hand.

Anyone who knows a patient's e-mail (or phone) and date of birth can type
them, so a match on them proves nothing: each screening's link to its patient
has a proof state (``patient_link``, m038). ``own``: it began the record
(nothing matched). ``suggested``: it matched on typed details only; staff see
it on the record, marked unconfirmed, and its keys are not added to the record
(a stranger's phone must not steer later screenings there); the patient's own
pages show nothing of the record. ``confirmed``: proven, by the patient coming
through their own earlier result link, following the one-time link e-mailed
to the record's address (``record_link_requests``), or by a practitioner.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.people import normalise_email
from .connection import Database, hash_token, insert_row, query_one, send_query, utc_now, write_transaction
from .records import RecordLinkRequestRecord, ScreeningRecord, decode_screening

# Fewer digits than this are too likely to be shared (or a typo) to link people.
_PHONE_MIN_DIGITS = 7


# A screening's link to its patient (screenings.patient_link).
OWN_LINK = "own"
SUGGESTED_LINK = "suggested"
CONFIRMED_LINK = "confirmed"
PATIENT_LINKS = (OWN_LINK, SUGGESTED_LINK, CONFIRMED_LINK)
_PROVEN_LINKS = frozenset({OWN_LINK, CONFIRMED_LINK})


class UnknownPatient(Exception):
    """No screening or patient with that id or reference."""


@dataclass(frozen=True)
class PatientMatch:
    """The patient a new screening joins and how its link is proven (one of ``PATIENT_LINKS``)."""

    patient_id: int
    link: str
    new: bool = False  # the patient was begun by this screening: it has no earlier ones


def link_is_proven(screening: Mapping[str, Any]) -> bool:
    """Whether the screening's own token proves its patient record: it began the record, or its link was confirmed."""
    return screening.get("patient_id") is not None and screening.get("patient_link") in _PROVEN_LINKS


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


def _match_or_add(db: Database, keys: list[str]) -> tuple[int, bool]:
    """The patient ``keys`` match (the e-mail's first: the address the patient typed most recently
    wins), else a new one; and whether it is new. Inside a write transaction."""
    if not keys:
        return _new_patient(db), True
    marks = ", ".join("?" for _ in keys)
    # Both statements are sent before either is read: one round trip on PostgreSQL. The
    # INSERT adds a patient only when no key matches, so a match costs no patient row.
    found = send_query(
        db,
        f"SELECT patient_id FROM patient_keys WHERE key IN ({marks}) ORDER BY key = ? DESC LIMIT 1",  # noqa: S608 - ? marks only
        [*keys, keys[0]],
    )
    added = send_query(
        db,
        "INSERT INTO patients (created_at) SELECT ?"  # noqa: S608 - ? marks only
        f" WHERE NOT EXISTS (SELECT 1 FROM patient_keys WHERE key IN ({marks})) RETURNING id",
        [utc_now(), *keys],
    )
    match = found()
    if match:
        return int(match[0]["patient_id"]), False
    return int(added()[0]["id"]), True


def _add_keys(db: Database, keys: list[str], patient_id: int) -> None:
    for key in keys:
        db.execute("INSERT INTO patient_keys (key, patient_id) VALUES (?, ?) ON CONFLICT DO NOTHING", [key, patient_id])


def find_or_add_patient(
    db: Database,
    email: str | None,
    phone: str | None,
    birth_date: str | None,
    *,
    returning_from: Mapping[str, Any] | None = None,
) -> PatientMatch:
    """The patient a new screening with these details joins, and how far that is proven.

    ``returning_from``, the screening whose result link the patient came
    through, puts it on that screening's patient: ``confirmed`` when that
    screening's own link is proven, else ``suggested`` like it. Otherwise the
    patient its keys match is only ``suggested``; without a match it begins a
    patient of its own. Only a proven link adds the screening's keys.
    """
    keys = match_keys(email, phone, birth_date)
    with write_transaction(db):
        patient_id = returning_from.get("patient_id") if returning_from is not None else None
        if patient_id is not None:
            assert returning_from is not None  # for mypy: patient_id came from it
            link = CONFIRMED_LINK if link_is_proven(returning_from) else SUGGESTED_LINK
        else:
            patient_id, new = _match_or_add(db, keys)
            link = OWN_LINK if new else SUGGESTED_LINK
        if link != SUGGESTED_LINK:
            _add_keys(db, keys, patient_id)
    return PatientMatch(int(patient_id), link, new=link == OWN_LINK)


def link_new_screening(
    db: Database, screening_id: int, email: str | None, phone: str | None, birth_date: str | None
) -> int:
    """Put a stored screening that has no patient on the patient its keys match, or on a new one; return its id.

    Only m032 calls this, on the screenings of an earlier release, and it keeps
    that release's rule (every key added to the record); m038 then marks which
    links are proven.
    """
    keys = match_keys(email, phone, birth_date)
    with write_transaction(db):
        patient_id, _new = _match_or_add(db, keys)
        _add_keys(db, keys, patient_id)
        db.execute("UPDATE screenings SET patient_id = ? WHERE id = ?", [patient_id, screening_id])
    return patient_id


def list_patient_screenings(db: Database, patient_id: int) -> list[ScreeningRecord]:
    """Every screening of the patient, oldest first, with its JSON columns decoded."""
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
            patient_id, link = _new_patient(db), OWN_LINK
        elif query_one(db, "SELECT id FROM patients WHERE id = ?", [patient_id]) is None:
            raise UnknownPatient(str(patient_id))
        else:
            link = CONFIRMED_LINK  # a practitioner put it there: that is the proof
        db.execute(
            "UPDATE screenings SET patient_id = ?, patient_link = ? WHERE id = ?", [patient_id, link, screening_id]
        )
    return patient_id


def confirm_patient_link(db: Database, screening_id: int, patient_id: int) -> bool:
    """Confirm a suggested link of the screening to patient ``patient_id``, adding its keys to the record.

    False when there is nothing to confirm: the link is proven already, or the
    screening is on another patient now (moved since the confirmation was asked).
    """
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET patient_link = ? WHERE id = ? AND patient_id = ? AND patient_link = ?",
            [CONFIRMED_LINK, screening_id, patient_id, SUGGESTED_LINK],
        )
        if cursor.rowcount != 1:
            return False
        row = query_one(
            db, "SELECT contact_email, contact_phone, birth_date FROM screenings WHERE id = ?", [screening_id]
        )
        assert row is not None, "updated just now"
        _add_keys(db, match_keys(row["contact_email"], row["contact_phone"], row["birth_date"]), patient_id)
    return True


def record_email_for(db: Database, screening: Mapping[str, Any]) -> str | None:
    """The address to ask about a suggested link: the e-mail, as its owner typed it, of the latest
    proven screening of the record with this screening's e-mail and date of birth; None when the
    match was not on the e-mail (a phone's owner cannot be asked by mail)."""
    email, birth_date = screening.get("contact_email"), screening.get("birth_date")
    if screening.get("patient_id") is None or not email or not email.strip() or not birth_date:
        return None
    for other in reversed(list_patient_screenings(db, int(screening["patient_id"]))):
        if (
            other["id"] != screening["id"]
            and link_is_proven(other)
            and other["birth_date"] == birth_date
            and other["contact_email"]
            and normalise_email(other["contact_email"]) == normalise_email(email)
        ):
            return str(other["contact_email"]).strip()
    return None


def create_record_link_request(db: Database, screening_id: int, patient_id: int, expires_at: str) -> str:
    """A one-time link's token asking to confirm the screening's link to the patient; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO record_link_requests (token_hash, screening_id, patient_id, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [hash_token(token), screening_id, patient_id, utc_now(), expires_at],
    )
    return token


def get_record_link_request(db: Database, token: str) -> RecordLinkRequestRecord | None:
    """The request behind an e-mailed link, spent or expired included, with its screening's reference; or None."""
    row = query_one(
        db,
        "SELECT r.id, r.screening_id, r.patient_id, r.created_at, r.expires_at, r.used_at,"
        " s.reference, s.created_at AS screened_at FROM record_link_requests r"
        " JOIN screenings s ON s.id = r.screening_id WHERE r.token_hash = ?",
        [hash_token(token)],
    )
    return None if row is None else RecordLinkRequestRecord(**row)  # type: ignore[typeddict-item]


def use_record_link_request(db: Database, request: RecordLinkRequestRecord) -> bool:
    """Spend an unexpired link and confirm its screening's link; False if it was spent or
    expired, or there was nothing to confirm."""
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE record_link_requests SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?",
            [utc_now(), request["id"], utc_now()],
        )
        if cursor.rowcount != 1:
            return False
        return confirm_patient_link(db, request["screening_id"], request["patient_id"])


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
