"""Facts about a stored screening that pages recompute rather than store:
until when its answers count, whether they have expired, and whether it
waits for a practitioner's review.

Pure functions of the stored values, so every page (and the API or the CLI,
should they need them) agrees on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

# Verdicts a practitioner must decide on. A deferral or an ineligible verdict
# is the rules' decision: the queue shows it apart, as information.
REVIEW_STATUSES = frozenset({"review"})


def answered_at(created_at: str, confirmed_at: str | None) -> str:
    """When the answers were last given or confirmed (a stored timestamp)."""
    return confirmed_at or created_at


def answered_on(created_at: str, confirmed_at: str | None, zone: dt.tzinfo) -> dt.date:
    """The day (in the clinic's ``zone``) the answers were last given or confirmed."""
    return dt.datetime.fromisoformat(answered_at(created_at, confirmed_at)).astimezone(zone).date()


def valid_until(created_at: str, confirmed_at: str | None, *, valid_days: int, zone: dt.tzinfo) -> dt.date:
    """The last day the answers count as current: ``valid_days`` after they were given or last confirmed."""
    return answered_on(created_at, confirmed_at, zone) + dt.timedelta(days=valid_days)


def is_expired(created_at: str, confirmed_at: str | None, *, today: dt.date, valid_days: int, zone: dt.tzinfo) -> bool:
    """Whether the answers are too old on ``today``: the patient must confirm them again."""
    return today > valid_until(created_at, confirmed_at, valid_days=valid_days, zone=zone)


def needs_review(status: str, reviewed: bool, flagged: bool = False) -> bool:
    """Whether a screening waits for a practitioner's decision before the session: an undecided
    review, or an undecided screening ``flagged`` by answers that contradict the patient's recent ones."""
    return not reviewed and (flagged or status in REVIEW_STATUSES)


def current_status(screening: Mapping[str, Any]) -> str:
    """The status that counts: the practitioner's decision once there is one, else the rules' verdict."""
    if screening.get("reviewed") and screening.get("decided_status"):
        return str(screening["decided_status"])
    return str(screening["status"])


def current_rescreen_after(screening: Mapping[str, Any]) -> str | None:
    """The ISO date from which a deferred patient may be treated or screened again: the
    practitioner's date once they decided (none unless they deferred), else the rules' date."""
    if screening.get("reviewed") and screening.get("decided_status"):
        return screening.get("decided_defer_until") if screening["decided_status"] == "deferred" else None
    rescreen_after: str | None = screening.get("rescreen_after")
    return rescreen_after
