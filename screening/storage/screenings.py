"""Storing a screening with its verdict, reading it back, and its revision."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.consent import SignedConsent
from ..core.engine import Verdict, answers_to_json
from ..core.people import Patient
from .connection import Database, hash_token, insert_row, query_one, utc_now, write_transaction
from .consent import send_consent_texts
from .findings import send_earlier_screenings
from .integrity import integrity_digest
from .patients import find_or_add_patient
from .records import ScreeningRecord, decode_screening

# No look-alikes (0/O, 1/I/L, 5/S, 8/B, 2/Z) so a code read aloud or copied
# from paper is unambiguous.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 8


@dataclass(frozen=True)
class SavedScreening:
    """What the caller needs after storing: the code, the secret link token and the
    columns written (JSON decoded), so the reply needs no read back."""

    id: int
    reference: str
    token: str
    columns: Mapping[str, Any]
    # With ``read_earlier``: the patient's screenings stored before this one, newest first
    # (``findings.send_earlier_screenings``), read in the transaction that stored it.
    earlier: list[ScreeningRecord] | None = None


class StaleScreening(Exception):
    """The screening changed after the practitioner loaded it (another
    decision or re-confirmation): they must look again before deciding."""


def to_json(value: Any) -> str:
    """JSON text as stored: non-ASCII kept as is, so names stay readable in the file."""
    return json.dumps(value, ensure_ascii=False)


def verdict_columns(verdict: Verdict) -> dict[str, Any]:
    """The screenings columns a verdict sets, in their stored form."""
    return {
        "status": verdict.status,
        "reasons": to_json([r.as_dict() for r in verdict.reasons]),
        "notes": to_json([n.as_dict() for n in verdict.notes]),
        "rescreen_after": verdict.rescreen_after.isoformat() if verdict.rescreen_after else None,
        "rules_version": verdict.rules_version,
        "answers": to_json(answers_to_json(verdict.answers)),
        "birth_date": verdict.role_json("birth_date"),
        "goals": to_json(verdict.role_json("treatment_goals") or []),
    }


def _consent_columns(consent: SignedConsent | None) -> dict[str, Any]:
    if consent is None:
        return {}
    columns: dict[str, Any] = {
        "consent_version": consent.consent.version,
        "consent_sha256": consent.consent.sha256,
        "privacy_sha256": consent.privacy.sha256,
    }
    if consent.signature is not None:
        columns |= {
            "signature_name": consent.signature.typed_name,
            "signed_at": consent.signature.signed_at,
            "signature_address": consent.signature.client_address,
            "signature_user_agent": consent.signature.user_agent,
        }
    return columns


def new_reference() -> str:
    """A short random code for patients to quote at the clinic."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def save_screening(
    db: Database,
    verdict: Verdict,
    patient: Patient,
    *,
    source: str,
    language: str,
    consent_version: str,
    consent: SignedConsent | None = None,
    token: str | None = None,
    returning_from: ScreeningRecord | None = None,
    device_id: int | None = None,
    procedure: str,
    submission: str | None = None,
    read_earlier: bool = False,
) -> SavedScreening:
    """Store a screening with its verdict; return its reference and token
    (``token`` if given, else a new random one).

    ``procedure``: the id of the rule file's procedure the verdict is for (m042). ``read_earlier``:
    also read the patient's earlier screenings for the history check (``SavedScreening.earlier``).
    ``submission``: the id (``new_submission``) shared by the screenings made from one set
    of answers for several procedures; None for a screening made alone.

    With ``consent``, the texts the patient signed are kept by their hash (see
    ``storage.consent``), the screening names them and keeps the signature; its
    integrity digest is stored with it either way. ``returning_from``: the
    screening whose result link the patient came through (see
    ``patients.find_or_add_patient``). ``device_id``: the reception tablet it was taken on
    (``storage.devices``).
    """
    row = {
        "created_at": utc_now(),
        "source": source,
        "language": language,
        "patient_name": patient.name,
        "contact_email": patient.email or None,
        "contact_phone": patient.phone or None,
        "consent_version": consent_version,
        "procedure": procedure,
        "submission": submission,
        **verdict_columns(verdict),
        **_consent_columns(consent),
    }
    if device_id is not None:
        row["device_id"] = device_id  # a reception tablet's (m040)
    given = token
    for _ in range(20):
        token = given or secrets.token_urlsafe(32)
        values = {**row, "reference": new_reference(), "token_hash": hash_token(token)}
        record = decode_screening(values)
        # A new screening has no re-confirmations: its digest and its patient are known
        # before the insert, so the row is written once (an update rewrites it and its indexes).
        values["integrity_sha256"] = integrity_digest(record, [])
        try:
            # Each read below answers the statements sent before it: on PostgreSQL the save costs
            # two round trips (the patient's look-up, the INSERT) and the COMMIT (see ``send_query``).
            with write_transaction(db):
                store_texts = None if consent is None else send_consent_texts(db, [consent.consent, consent.privacy])
                # In the same transaction: a screening is never stored without its patient.
                match = find_or_add_patient(
                    db, row["contact_email"], row["contact_phone"], row["birth_date"], returning_from=returning_from
                )
                if store_texts is not None:
                    store_texts()
                values["patient_id"], values["patient_link"] = match.patient_id, match.link
                earlier = None
                if read_earlier and not match.new:
                    earlier = send_earlier_screenings(db, match.patient_id)  # before the INSERT: not this one
                sql = (
                    f"INSERT INTO screenings ({', '.join(values)})"  # noqa: S608 - column names come from code
                    f" VALUES ({', '.join(':' + name for name in values)})"
                )
                screening_id = insert_row(db, sql, values)
                before = None if not read_earlier else [] if earlier is None else earlier()
        except sqlite3.IntegrityError:
            # A reference collision (1 in 25^8 per pair): draw again.
            continue
        return SavedScreening(
            id=screening_id, reference=values["reference"], token=token, columns=record, earlier=before
        )
    raise RuntimeError("could not draw a unique reference code")


def new_submission() -> str:
    """A random id for the screenings made from one set of answers, one per procedure chosen."""
    return secrets.token_urlsafe(16)


def list_submission_screenings(db: Database, submission: str) -> list[ScreeningRecord]:
    """The screenings made from one set of answers (``submission``), in the order they were stored."""
    rows = db.query("SELECT * FROM screenings WHERE submission = ? ORDER BY id", [submission])
    return [decode_screening(row) for row in rows]


def _find(db: Database, column: str, value: Any) -> ScreeningRecord | None:
    row = query_one(db, f"SELECT * FROM screenings WHERE {column} = ?", [value])  # noqa: S608 - a column name from code
    return None if row is None else decode_screening(row)


def get_screening(db: Database, screening_id: int) -> ScreeningRecord | None:
    """The screening with this id, or None."""
    return _find(db, "id", screening_id)


def get_screening_by_token(db: Database, token: str) -> ScreeningRecord | None:
    """The screening a patient's result link points to, or None."""
    return _find(db, "token_hash", hash_token(token))


def get_screening_by_reference(db: Database, reference: str) -> ScreeningRecord | None:
    """The screening with this reference code (case-insensitive), or None."""
    return _find(db, "reference", reference.strip().upper())


def count_screenings(db: Database) -> int:
    """How many screenings are stored."""
    return int(db.execute("SELECT count(*) FROM screenings").fetchone()[0])


_REVISION_KEYS = (
    "status",
    "reasons",
    "notes",
    "answers",
    "rescreen_after",
    "rules_version",
    "reviewed",
    "decided_status",
    "reviewed_at",
    "confirmed_at",
)


def screening_revision(screening: Mapping[str, Any]) -> str:
    """A fingerprint of everything a practitioner decides on: it changes with
    every review, re-confirmation or new verdict."""
    payload = json.dumps([screening.get(key) for key in _REVISION_KEYS], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
