"""The rows the storage functions return, as typed dicts.

They stay plain dicts at runtime, so callers read ``row["status"]`` and
templates ``row.status`` as before; the types say which keys a row has.
JSON columns (answers, goals, reasons, details, previous_*) are decoded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict, cast

# A screening's columns stored as JSON text, decoded on every read.
_SCREENING_JSON_COLUMNS = ("answers", "goals", "reasons", "notes", "findings")


class ScreeningRecord(TypedDict):
    """A stored screening with its verdict and the current decision on it.

    ``list_screenings`` and ``iter_screenings`` given ``columns`` return only
    those keys: a TypedDict cannot say "some subset", and every caller names
    the columns it then reads.
    """

    id: int
    reference: str
    token_hash: str
    created_at: str
    source: str | None
    language: str | None
    patient_name: str | None
    contact_email: str | None
    contact_phone: str | None
    birth_date: str | None  # ISO date, the answer playing the birth_date role
    answers: dict[str, Any]
    goals: list[str]  # the answer playing the treatment_goals role
    status: str
    reasons: list[dict[str, Any]]  # Reason.as_dict() of every rule that fired, texts in every language
    notes: list[dict[str, Any]] | None  # the same for notes ("note" rules); None before m015
    rescreen_after: str | None
    rules_version: str
    consent_version: str | None
    consent_sha256: str | None  # the consent text signed (storage.consent), None before m021
    privacy_sha256: str | None
    signature_name: str | None  # the typed signature, when and from where
    signed_at: str | None
    signature_address: str | None
    signature_user_agent: str | None
    integrity_sha256: str | None  # storage.integrity, None before m023
    reviewed: int  # 1 once a decision is recorded, 0 again when a re-confirmation changed things
    decided_status: str | None  # eligible, deferred or ineligible (m037: never "review")
    decided_defer_until: str | None  # ISO date a decided deferral lasts until (m037)
    reviewed_at: str | None
    confirmed_at: str | None
    patient_id: int | None  # the patient record it is linked to (m032)
    patient_link: str | None  # how that link is proven: own | suggested | confirmed (m038; storage.patients)
    findings: list[dict[str, Any]] | None  # what its answers contradict in the patient's earlier ones (m039)
    flagged: int  # 1 when findings make it wait for a practitioner's decision (m039)
    device_id: int | None  # the reception tablet it was taken on, source "kiosk" (m040; storage.devices)
    procedure: str  # the id of the rule file's procedure its verdict is for (m042)
    submission: str | None  # shared by the screenings made from one set of answers for several procedures (m042)


class RecordLinkRequestRecord(TypedDict):
    """An e-mailed one-time link asking the record's owner to confirm a suggested link, with its screening."""

    id: int
    screening_id: int
    patient_id: int  # the record the screening was suggested for when the link was sent
    created_at: str
    expires_at: str
    used_at: str | None
    reference: str
    screened_at: str  # the screening's created_at


class PractitionerRecord(TypedDict):
    """A practitioner account, password hash included (for sign-in only)."""

    id: int
    email: str
    name: str
    password_hash: str
    active: int
    created_at: str
    failed_logins: int
    locked_until: str | None
    role: str  # admin | practitioner | reception (m024)
    last_login_at: str | None
    medical_director: int  # 1: may approve a rule change proposed by someone else (m041)
    totp_secret: str | None  # set once two-factor sign-in is enrolled
    totp_last_step: int | None


class PractitionerSummary(TypedDict):
    """A practitioner account as listed to staff: no password hash."""

    id: int
    email: str
    name: str
    active: int
    created_at: str
    role: str
    last_login_at: str | None
    medical_director: int


class ReviewRecord(TypedDict):
    """A practitioner's decision on a screening, with who made it."""

    id: int
    screening_id: int
    practitioner_id: int
    created_at: str
    decision: str
    status: str
    reason_code: str | None
    comment: str | None
    notes: str | None
    defer_until: str | None  # ISO date, for a decision "deferred" (m037)
    practitioner_name: str
    practitioner_email: str
    practitioner_role: str


class ReconfirmationRecord(TypedDict):
    """A day-of-session re-confirmation and the verdict it replaced, with who made it."""

    id: int
    screening_id: int
    practitioner_id: int
    created_at: str
    answers_changed: int
    verdict_changed: int
    previous_answers: dict[str, Any]
    previous_status: str
    previous_reasons: list[dict[str, Any]]
    previous_rescreen_after: str | None
    previous_rules_version: str
    status: str
    rules_version: str
    patient_signature_name: str | None  # the patient's typed signature (None before m022)
    patient_signed_at: str | None
    patient_signature_address: str | None
    patient_signature_user_agent: str | None
    practitioner_signature_name: str | None  # the signing account's name at the time
    practitioner_name: str
    practitioner_email: str


class AuditRecord(TypedDict):
    """One audit log entry, with the practitioner's name if one acted."""

    id: int
    at: str
    practitioner_id: int | None
    actor: str | None
    action: str
    target: str | None
    client_address: str | None
    details: dict[str, Any]
    practitioner_name: str | None
    practitioner_email: str | None


class ApiTokenRecord(TypedDict):
    """A live API token (its hash) with its owner's e-mail and role."""

    id: int
    practitioner_id: int
    name: str
    token_hash: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None
    practitioner_email: str
    practitioner_role: str  # the owner's role now, not when the token was made
    scopes: str  # space-separated (m029)
    expires_at: str | None


class SessionRecord(TypedDict):
    """A sign-in session (m025); the cookie holds a secret whose hash names it."""

    id: int
    token_hash: str
    practitioner_id: int
    created_at: str
    last_seen_at: str
    ended_at: str | None
    end_reason: str | None
    client_address: str | None
    user_agent: str | None


class DeviceRecord(TypedDict):
    """A reception tablet registered as a kiosk (m040); its cookie holds a secret whose hash names it.

    ``list_devices`` adds the names of who registered and revoked it."""

    id: int
    name: str
    secret_hash: str
    registered_by: int | None
    registered_at: str
    last_seen_at: str | None
    revoked_at: str | None
    revoked_by: int | None


class RuleVersionRecord(TypedDict):
    """A rule file proposed in the app (m041), whole, with who proposed and decided it.

    ``list_rule_versions`` adds ``proposed_by_name`` and ``decided_by_name``."""

    id: int
    text: str
    sha256: str
    version: str
    state: str  # proposed | approved | rejected | withdrawn | superseded
    note: str | None  # the proposer's
    proposed_by: int | None
    proposed_at: str
    decided_by: int | None
    decided_at: str | None
    comment: str | None  # the decider's
    disk_sha256: str | None  # the disk file's SHA-256 when it was approved
    replaces_id: int | None  # the approved version it superseded (None: the disk file was in force)
    restores_id: int | None  # the earlier version a restore proposal copies


class ApprovedRules(TypedDict):
    """What the reload watcher reads each check: the approved version's id and digests, no text."""

    id: int
    sha256: str
    disk_sha256: str | None


def decode_screening(row: Mapping[str, Any]) -> ScreeningRecord:
    """A screenings row with its JSON columns decoded."""
    record = dict(row)
    for key in _SCREENING_JSON_COLUMNS:
        if record.get(key) is not None:
            record[key] = json.loads(record[key])
    return cast(ScreeningRecord, record)
