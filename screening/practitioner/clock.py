"""Times and days as the workspace shows them: the clinic's wall clock, the
bounds of its days (clinic.yaml's ``timezone``), and the screening facts that
depend on the settings (``VALID_DAYS``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from ..core import facts
from ..core.engine import age_on
from ..web.clinic import clinic_time, clinic_zone


def zone() -> ZoneInfo:
    """The clinic's time zone."""
    return clinic_zone()


def to_local(timestamp: str) -> dt.datetime:
    """A stored timestamp in the clinic's time zone."""
    return clinic_time(timestamp)


def local_time(timestamp: str | None, *, with_zone: bool = True) -> str:
    """A stored UTC timestamp as the clinic's wall-clock time, with its zone
    ("2026-11-24 14:05 MSK") unless the zone is said elsewhere (a CSV header)."""
    if not timestamp:
        return ""
    return to_local(timestamp).strftime("%Y-%m-%d %H:%M %Z" if with_zone else "%Y-%m-%d %H:%M")


def machine_time(timestamp: str | None) -> str:
    """A stored timestamp for a <time datetime> attribute (milliseconds at most)."""
    return dt.datetime.fromisoformat(timestamp).isoformat(timespec="milliseconds") if timestamp else ""


def day_start(day: dt.date) -> str:
    """The UTC timestamp at which the clinic's ``day`` begins, as stored."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone()).astimezone(dt.UTC)
    return start.isoformat(timespec="microseconds")


def day_bounds(since: dt.date | None, until: dt.date | None) -> tuple[str | None, str | None]:
    """A filter's inclusive range of clinic days as [start, end) stored timestamps."""
    return (
        day_start(since) if since else None,
        day_start(until + dt.timedelta(days=1)) if until else None,
    )


def answered_on(screening: Mapping[str, Any]) -> dt.date:
    """The clinic day the answers were last given or confirmed."""
    return facts.answered_on(screening["created_at"], screening.get("confirmed_at"), zone())


def valid_until(screening: Mapping[str, Any]) -> dt.date:
    """The last day the answers count as current (``VALID_DAYS`` after they
    were given or last confirmed)."""
    return facts.valid_until(
        screening["created_at"],
        screening.get("confirmed_at"),
        valid_days=int(current_app.config["VALID_DAYS"]),
        zone=zone(),
    )


def is_expired(screening: Mapping[str, Any], today: dt.date) -> bool:
    """Older than ``VALID_DAYS``: the patient must confirm the answers again."""
    return facts.is_expired(
        screening["created_at"],
        screening.get("confirmed_at"),
        today=today,
        valid_days=int(current_app.config["VALID_DAYS"]),
        zone=zone(),
    )


def age(birth_date: str | None, day: dt.date) -> int | None:
    """Age in whole years on ``day``, if the birth date is known."""
    return age_on(dt.date.fromisoformat(birth_date), day) if birth_date else None
