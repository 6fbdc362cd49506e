"""The forms of the patient record and the course: link, unlink, start a course, record a session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, Field, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..web.validators import PlainText

NOTE_MAX = 500


class LinkForm(FlaskForm):
    """Put this screening on the patient record of another screening."""

    other = StringField(
        _l("Reference code of the other screening"),
        validators=[DataRequired(_l("Enter the reference code of a screening of that patient.")), Length(max=20)],
    )
    confirm_birth_date = BooleanField(_l("Link although the dates of birth differ"))


class UnlinkForm(FlaskForm):
    """Give this screening a patient record of its own."""


class ConfirmLinkForm(FlaskForm):
    """Confirm that a screening suggested for a patient record (typed contact and date of birth) belongs there."""


# How far from today a course may start: a typo in the year would plan sessions decades away.
START_WINDOW = dt.timedelta(days=366)


class CourseForm(FlaskForm):
    """Start a course on the patient record."""

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today  # the clinic's day (web.db.screening_day)

    def validate_started_on(self, field: Field) -> None:
        """Within a year of today, either way."""
        if field.data and abs(field.data - self.today) > START_WINDOW:
            raise ValidationError(_l("Enter a date within a year of today."))

    started_on = DateField(_l("First session on"), validators=[InputRequired(_l("Enter a date."))])
    planned_sessions = IntegerField(
        _l("Planned sessions"),
        validators=[InputRequired(_l("Enter a number.")), NumberRange(1, 20, _l("Enter a number from 1 to 20."))],
    )
    interval_weeks = IntegerField(
        _l("Weeks between sessions"),
        validators=[InputRequired(_l("Enter a number.")), NumberRange(1, 26, _l("Enter a number from 1 to 26."))],
    )


class SessionForm(FlaskForm):
    """Record a session given on this screening."""

    given_on = DateField(_l("Session date"), validators=[InputRequired(_l("Enter a date."))])
    number = IntegerField(
        _l("Session number"),
        validators=[InputRequired(_l("Enter a number.")), NumberRange(1, 20, _l("Enter a number from 1 to 20."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX), PlainText(multiline=True)])
    settings = StringField(_l("Settings used (optional)"), validators=[Optional(), Length(max=NOTE_MAX), PlainText()])
