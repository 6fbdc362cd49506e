"""A screening's integrity digest: a SHA-256 over its answers, verdict,
consent and signatures (its own and its re-confirmations'), stored with it
whenever one of them is written, and checked when the record is shown."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .connection import Database
from .schema_procedures import PROCEDURE_BEFORE_M042

# What the digest covers, in the screenings row.
SCREENING_FIELDS = (
    "reference",
    "created_at",
    "patient_name",
    "answers",
    "status",
    "reasons",
    "notes",
    "rescreen_after",
    "rules_version",
    "consent_version",
    "consent_sha256",
    "privacy_sha256",
    "signature_name",
    "signed_at",
    "signature_address",
    "signature_user_agent",
)
# And in each reconfirmations row: who signed it, and the verdict it led to.
RECONFIRMATION_FIELDS = (
    "id",
    "created_at",
    "practitioner_id",
    "practitioner_signature_name",
    "patient_signature_name",
    "patient_signed_at",
    "patient_signature_address",
    "patient_signature_user_agent",
    "status",
    "rules_version",
)


def integrity_digest(screening: Mapping[str, Any], reconfirmations: Sequence[Mapping[str, Any]]) -> str:
    """The SHA-256 (hex) of a decoded screening and its re-confirmations, oldest first."""
    covered = {key: screening.get(key) for key in SCREENING_FIELDS}
    # The procedure the verdict is for (m042), but for the one every screening before m042
    # had: their stored digests still hold, and a verdict moved to another procedure either
    # way no longer matches its digest.
    if screening.get("procedure", PROCEDURE_BEFORE_M042) != PROCEDURE_BEFORE_M042:
        covered["procedure"] = screening["procedure"]
    payload = {
        "screening": covered,
        "reconfirmations": [{key: r.get(key) for key in RECONFIRMATION_FIELDS} for r in reconfirmations],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reconfirmation_rows(db: Database, screening_id: int) -> list[dict[str, Any]]:
    columns = ", ".join(RECONFIRMATION_FIELDS)
    sql = f"SELECT {columns} FROM reconfirmations WHERE screening_id = ? ORDER BY id"  # noqa: S608 - constant columns
    return [dict(row) for row in db.query(sql, [screening_id])]


def current_integrity(db: Database, screening: Mapping[str, Any]) -> str:
    """The digest the stored screening (decoded) and its re-confirmations give now."""
    return integrity_digest(screening, _reconfirmation_rows(db, int(screening["id"])))


def store_integrity(db: Database, screening: Mapping[str, Any]) -> str:
    """Store the digest of the screening as it now stands (call inside the write that changed it)."""
    digest = current_integrity(db, screening)
    db.execute("UPDATE screenings SET integrity_sha256 = ? WHERE id = ?", [digest, screening["id"]])
    return digest


def integrity_matches(db: Database, screening: Mapping[str, Any]) -> bool | None:
    """Whether the record still gives its stored digest; None if it has none (stored before digests)."""
    stored = screening.get("integrity_sha256")
    if not stored:
        return None
    return bool(stored == current_integrity(db, screening))
