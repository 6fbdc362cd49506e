"""Practitioners' decisions on verdicts, and day-of-session re-confirmations."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack, cast

from ..core.consent import Signature
from ..core.decisions import DECIDED_STATUSES, decision_kind, decision_problems
from ..core.engine import Verdict
from .connection import Database, insert_row, utc_now, write_transaction
from .integrity import store_integrity
from .records import ReconfirmationRecord, ReviewRecord
from .screenings import StaleScreening, get_screening, screening_revision, to_json, verdict_columns


class Decision(TypedDict):
    """A practitioner's decision on a verdict, as ``add_review`` and ``review_screening`` take it.

    ``add_review`` stores ``decision`` ("confirm" or "override"), which it needs; ``review_screening``
    works it out from the verdict and the status.
    """

    decision: NotRequired[str]
    status: str
    reason_code: NotRequired[str | None]
    comment: NotRequired[str | None]
    notes: NotRequired[str | None]
    defer_until: NotRequired[str | None]  # ISO date, for a deferral


def add_review(db: Database, screening_id: int, practitioner_id: int, **decision: Unpack[Decision]) -> int:
    """Record a decision; it supersedes, never edits, earlier ones.

    Raises ``ValueError`` for a status that is not a decision ("review" is the
    rules asking for one); ``review_screening`` checks the rest.
    """
    if decision["status"] not in DECIDED_STATUSES:
        raise ValueError(f"{decision['status']!r} is not a decision: one of {', '.join(DECIDED_STATUSES)}")
    now = utc_now()
    with write_transaction(db):
        new_id = insert_row(
            db,
            "INSERT INTO reviews (screening_id, practitioner_id, created_at, decision, status, reason_code,"
            " comment, notes, defer_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                screening_id,
                practitioner_id,
                now,
                decision["decision"],
                decision["status"],
                decision.get("reason_code"),
                decision.get("comment"),
                decision.get("notes"),
                decision.get("defer_until"),
            ],
        )
        db.execute(
            "UPDATE screenings SET reviewed = 1, decided_status = ?, decided_defer_until = ?, reviewed_at = ?"
            " WHERE id = ?",
            [decision["status"], decision.get("defer_until"), now, screening_id],
        )
    return new_id


# Reviews with the name, e-mail and role of who made them.
_REVIEWS_SQL = (
    "SELECT reviews.*, practitioners.name AS practitioner_name, practitioners.email AS practitioner_email,"
    " practitioners.role AS practitioner_role"
    " FROM reviews JOIN practitioners ON practitioners.id = reviews.practitioner_id"
)


def list_reviews(db: Database, screening_id: int) -> list[ReviewRecord]:
    """Every decision on a screening, newest first, with who made it."""
    rows = db.query(_REVIEWS_SQL + " WHERE screening_id = ? ORDER BY reviews.id DESC", [screening_id])
    return [cast(ReviewRecord, row) for row in rows]


def latest_reviews(db: Database, screening_ids: list[int]) -> dict[int, ReviewRecord]:
    """The newest decision on each of these screenings (with who made it), by screening id."""
    if not screening_ids:
        return {}
    marks = ", ".join("?" for _ in screening_ids)
    latest = f"SELECT max(id) FROM reviews WHERE screening_id IN ({marks}) GROUP BY screening_id"  # noqa: S608 - placeholders only
    sql = f"{_REVIEWS_SQL} WHERE reviews.id IN ({latest})"
    rows = db.query(sql, screening_ids)
    return {row["screening_id"]: cast(ReviewRecord, row) for row in rows}


def review_screening(
    db: Database,
    screening_id: int,
    practitioner_id: int,
    revision: str,
    *,
    today: dt.date,
    **decision: Unpack[Decision],
) -> int:
    """Record a decision on the verdict the practitioner saw (``today`` is the clinic's day).

    Raises ``StaleScreening`` if the screening changed since ``revision`` was
    read, and ``ValueError`` naming the problems ``core.decisions`` finds
    (``review`` as a decision, a deferral without a date or dated in the past,
    a change of status without its reason or comment).
    """
    with write_transaction(db):
        current = get_screening(db, screening_id)
        if current is None or screening_revision(current) != revision:
            raise StaleScreening(screening_id)
        defer_until = decision.get("defer_until")
        problems = decision_problems(
            current["status"],
            decision["status"],
            decision.get("reason_code"),
            decision.get("comment"),
            defer_until=dt.date.fromisoformat(defer_until) if defer_until else None,
            today=today,
        )
        if problems:
            raise ValueError("the decision cannot be recorded: " + ", ".join(f"{p.field}: {p.code}" for p in problems))
        if decision_kind(current["status"], decision["status"]) == "confirm":
            # A confirmation keeps the verdict, its re-screen date included, and
            # gives no reason: nothing is overridden.
            until = current["rescreen_after"] if current["status"] == "deferred" else None
            return add_review(
                db,
                screening_id,
                practitioner_id,
                decision="confirm",
                status=current["status"],
                notes=decision.get("notes"),
                defer_until=until,
            )
        return add_review(
            db,
            screening_id,
            practitioner_id,
            decision="override",
            status=decision["status"],
            reason_code=decision.get("reason_code"),
            comment=decision.get("comment"),
            notes=decision.get("notes"),
            defer_until=defer_until if decision["status"] == "deferred" else None,
        )


def _verdict_key(
    status: str, rescreen_after: str | None, reasons: list[dict[str, Any]]
) -> tuple[str, str | None, frozenset[tuple[str, tuple[str, ...], str | None]]]:
    # Same status, same dates, same rules fired by the same answers.
    return status, rescreen_after, frozenset((r["rule"], tuple(r["questions"]), r["rescreen_after"]) for r in reasons)


@dataclass(frozen=True)
class Reconfirmation:
    """What a re-confirmation did."""

    id: int
    answers_changed: bool
    verdict_changed: bool


def reconfirm_screening(
    db: Database,
    screening_id: int,
    practitioner_id: int,
    revision: str,
    verdict: Verdict,
    *,
    patient_signature: Signature | None = None,
    practitioner_name: str | None = None,
) -> Reconfirmation:
    """Store the verdict of today's re-run of the engine on the screening.

    The previous answers and verdict are kept in the ``reconfirmations`` row.
    If the answers or the verdict changed (status, dates, or which rules fired
    on which answers), the earlier decision no longer applies: the screening
    goes back to "not reviewed". Raises ``StaleScreening`` as
    ``review_screening`` does. The patient signs by their typed name
    (``patient_signature``), the practitioner by their account
    (``practitioner_id``, and the name it has now); the screening's integrity
    digest then covers the new signatures.
    """
    columns = verdict_columns(verdict)
    with write_transaction(db):
        current = get_screening(db, screening_id)
        if current is None or screening_revision(current) != revision:
            raise StaleScreening(screening_id)
        # Compare what is stored with what would be stored, both decoded.
        answers_changed = current["answers"] != json.loads(columns["answers"])
        verdict_changed = _verdict_key(current["status"], current["rescreen_after"], current["reasons"]) != (
            _verdict_key(columns["status"], columns["rescreen_after"], json.loads(columns["reasons"]))
        )
        now = utc_now()
        new_id = insert_row(
            db,
            "INSERT INTO reconfirmations (screening_id, practitioner_id, created_at, answers_changed, verdict_changed,"
            " previous_answers, previous_status, previous_reasons, previous_rescreen_after, previous_rules_version,"
            " status, rules_version, patient_signature_name, patient_signed_at, patient_signature_address,"
            " patient_signature_user_agent, practitioner_signature_name)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                screening_id,
                practitioner_id,
                now,
                int(answers_changed),
                int(verdict_changed),
                to_json(current["answers"]),
                current["status"],
                to_json(current["reasons"]),
                current["rescreen_after"],
                current["rules_version"],
                verdict.status,
                verdict.rules_version,
                patient_signature.typed_name if patient_signature else None,
                patient_signature.signed_at if patient_signature else None,
                patient_signature.client_address if patient_signature else None,
                patient_signature.user_agent if patient_signature else None,
                practitioner_name,
            ],
        )
        # A decision was taken on the answers and verdict the practitioner saw:
        # if either changed, it no longer applies and the screening goes back
        # to "not reviewed" (an override to eligible must not outlive them).
        assignments = ", ".join(f"{name} = :{name}" for name in columns)
        db.execute(
            f"UPDATE screenings SET {assignments}, confirmed_at = :now,"  # noqa: S608 - column names come from code
            " reviewed = CASE WHEN :reset THEN 0 ELSE reviewed END,"
            " decided_status = CASE WHEN :reset THEN NULL ELSE decided_status END,"
            " decided_defer_until = CASE WHEN :reset THEN NULL ELSE decided_defer_until END,"
            " reviewed_at = CASE WHEN :reset THEN NULL ELSE reviewed_at END WHERE id = :id",
            {**columns, "now": now, "reset": int(answers_changed or verdict_changed), "id": screening_id},
        )
        updated = get_screening(db, screening_id)
        assert updated is not None  # read inside the same write transaction
        store_integrity(db, updated)
    return Reconfirmation(new_id, answers_changed, verdict_changed)


def list_reconfirmations(db: Database, screening_id: int) -> list[ReconfirmationRecord]:
    """Every re-confirmation of a screening, newest first, with who made it."""
    rows = db.query(
        "SELECT reconfirmations.*, practitioners.name AS practitioner_name,"
        " practitioners.email AS practitioner_email FROM reconfirmations"
        " JOIN practitioners ON practitioners.id = reconfirmations.practitioner_id"
        " WHERE screening_id = ? ORDER BY reconfirmations.id DESC",
        [screening_id],
    )
    records = []
    for row in rows:
        for key in ("previous_answers", "previous_reasons"):
            row[key] = json.loads(row[key])
        records.append(cast(ReconfirmationRecord, row))
    return records
