"""The clinic the app serves (``clinic.yaml``, re-read when edited), for views, templates and messages."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_day_names
from flask import Flask

from ..core.clinic import WEEKDAYS, Clinic, load_clinic
from .i18n import date_locale
from .ruleset import get_ruleset, in_force
from .security import ConfigError


def get_clinic(app: Flask | None = None) -> Clinic:
    """The clinic in force (of ``app``, or of the current app and request; see ``web.reload``)."""
    clinic: Clinic = in_force("clinic", app)
    return clinic


def clinic_zone() -> ZoneInfo:
    """The clinic's time zone (``timezone:`` in clinic.yaml): every time a person reads is in it."""
    return get_clinic().zone


def clinic_time(timestamp: str) -> dt.datetime:
    """A stored UTC timestamp on the clinic's wall clock."""
    return dt.datetime.fromisoformat(timestamp).astimezone(clinic_zone())


def readable_time(timestamp: str | None) -> str:
    """A stored UTC timestamp as patients and e-mails read it: the clinic's wall clock in the
    reader's locale, with the zone named ("8 Dec 2026, 00:30 MSK")."""
    if not timestamp:
        return ""
    moment = clinic_time(timestamp)
    locale = Locale.parse(date_locale())
    pattern = str(locale.datetime_formats["medium"]).replace("'", "")
    time = format_time(moment, "short", tzinfo=moment.tzinfo, locale=locale)
    text = pattern.replace("{0}", time).replace("{1}", format_date(moment, "medium", locale=locale))
    return f"{text} {moment.strftime('%Z')}"


def weekday_names(clinic: Clinic, locale: str) -> list[str]:
    """The clinic's working days, named in ``locale`` (Monday, Tuesday...)."""
    names = get_day_names("wide", locale=locale)
    return [names[WEEKDAYS.index(day)] for day in clinic.working_days]


def init_app(app: Flask) -> None:
    """Load and validate the clinic file (``ClinicFileError`` refuses start-up) and offer it to templates."""
    if "TIMEZONE" in app.config:
        # The setting this replaced: refused rather than ignored, so no clinic silently reads UTC.
        raise ConfigError(
            f"SCREENING_TIMEZONE ({app.config['TIMEZONE']}) is no longer read: "
            "name the clinic's time zone in clinic.yaml (timezone: Europe/London) and remove the setting"
        )
    app.extensions["clinic"] = load_clinic(app.config["CLINIC_FILE"], get_ruleset(app).languages)

    @app.context_processor
    def inject_clinic() -> dict[str, Any]:
        return {"clinic": get_clinic()}
