"""A new screening checked against the same patient's earlier answers where it is
stored (the form, the API, "answer again"): the earlier screenings read from
storage, the findings made by ``core.history``, stored with the screening.

Called inside the transaction that stores the screening, so a screening is
never stored without its findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .. import storage
from ..core import facts
from ..core.engine import Verdict
from ..core.history import EarlierScreening, Finding, find_changes
from ..core.model import RuleSet
from ..storage import Database, SavedScreening, ScreeningRecord
from .clinic import clinic_zone


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def earlier_screening(record: ScreeningRecord, zone: dt.tzinfo) -> EarlierScreening:
    """What the check needs of a stored screening: the verdict that stands (a practitioner's
    decision, else the rules') and the date until which it defers."""
    return EarlierScreening(
        reference=record["reference"],
        answered_on=facts.answered_on(record["created_at"], record["confirmed_at"], zone),
        answers=record["answers"],
        status=facts.current_status(record),
        rescreen_after=_day(facts.current_rescreen_after(record)),
    )


def _earlier(records: Iterable[ScreeningRecord]) -> list[EarlierScreening]:
    zone = clinic_zone()
    return [earlier_screening(record, zone) for record in records]


def proven_findings(
    db: Database, ruleset: RuleSet, verdict: Verdict, patient_id: int | None, today: dt.date
) -> list[Finding]:
    """Before storing: the findings of ``verdict``'s answers against patient ``patient_id``'s
    screenings, for a patient proven to be that patient (their own result link)."""
    earlier = _earlier(storage.list_earlier_screenings(db, patient_id))
    return find_changes(ruleset, verdict.answers, earlier, today)


def flag_stored_screening(
    db: Database, ruleset: RuleSet, verdict: Verdict, saved: SavedScreening, today: dt.date
) -> list[Finding]:
    """After storing (``save_screening(..., read_earlier=True)``): the findings of the new screening
    against the earlier screenings of the patient the storage linked it to, stored with it (flagging
    it for a decision); return them."""
    if saved.earlier is None:
        raise ValueError("the screening was saved without read_earlier=True")
    findings = find_changes(ruleset, verdict.answers, _earlier(saved.earlier), today)
    record_findings(db, saved.id, findings)
    return findings


def record_findings(db: Database, screening_id: int, findings: Iterable[Finding]) -> None:
    """Store the findings with the screening (none: nothing changes)."""
    storage.record_findings(db, screening_id, [finding.as_dict() for finding in findings])
