"""The clinic the app was started for (``clinic.yaml``), for views, templates and messages."""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from flask import Flask, current_app

from ..core.clinic import WEEKDAYS, Clinic, load_clinic
from .ruleset import get_ruleset


def get_clinic(app: Flask | None = None) -> Clinic:
    """The clinic loaded at start-up (of ``app``, or of the current app)."""
    clinic: Clinic = (app or current_app).extensions["clinic"]
    return clinic


def weekday_names(clinic: Clinic, locale: str) -> list[str]:
    """The clinic's working days, named in ``locale`` (Monday, Tuesday...)."""
    names = get_day_names("wide", locale=locale)
    return [names[WEEKDAYS.index(day)] for day in clinic.working_days]


def init_app(app: Flask) -> None:
    """Load and validate the clinic file (``ClinicFileError`` refuses start-up) and offer it to templates."""
    app.extensions["clinic"] = load_clinic(app.config["CLINIC_FILE"], get_ruleset(app).languages)

    @app.context_processor
    def inject_clinic() -> dict[str, Any]:
        return {"clinic": get_clinic()}
