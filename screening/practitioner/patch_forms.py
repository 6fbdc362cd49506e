"""The forms of the test patch: record a patch fired, record its read-out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Field, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from ..storage import PATCH_RESULTS
from ..web.validators import PlainText
from .course_forms import DecimalCommaField

FIELD_MAX = 200
SETTINGS_MAX = 500
NOTE_MAX = 500
# How far back a patch may be dated: a typo in the year would make an old patch look recent.
PATCH_WINDOW = dt.timedelta(days=366)


class _DatedForm(FlaskForm):
    """A form with a day that cannot be in the future or more than a year ago; its fields are
    named with ``PREFIX`` (the session form beside it has a device and settings of its own)."""

    PREFIX = ""

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, prefix=self.PREFIX, **kwargs)
        self.today = today  # the clinic's day (web.db.screening_day)

    def check_day(self, day: dt.date | None) -> None:
        """Refuse a future day or one more than a year ago."""
        if day is None:
            return
        if day > self.today:
            raise ValidationError(_l("The date cannot be in the future."))
        if self.today - day > PATCH_WINDOW:
            raise ValidationError(_l("Enter a date within the last year."))


class PatchTestForm(_DatedForm):
    """Record a test patch fired on the patient, by the signed-in practitioner."""

    PREFIX = "patch"

    def validate_tested_on(self, field: Field) -> None:
        """Today or within the last year."""
        self.check_day(field.data)

    tested_on = DateField(_l("Patch fired on"), validators=[InputRequired(_l("Enter a date."))])
    site = StringField(
        _l("Test site"),
        validators=[PlainText(required=_l("Say where the patch was fired.")), Length(max=FIELD_MAX)],
    )
    device = StringField(
        _l("Device"),
        validators=[PlainText(required=_l("Name the device used.")), Length(max=FIELD_MAX)],
    )
    # Typed, as on the session form: the protocol may cap a course's first session at it.
    fluence_j_cm2 = DecimalCommaField(
        _l("Fluence (J/cm²)"),
        validators=[
            InputRequired(_l("Enter a number.")),
            NumberRange(0.01, 1000, _l("Enter a fluence from 0.01 to 1000 J/cm².")),
        ],
    )
    settings = StringField(
        _l("Other settings used"),
        validators=[PlainText(required=_l("Enter the settings used.")), Length(max=SETTINGS_MAX)],
    )


RESULT_LABELS = {
    "clear": _l("Clear: no reaction"),
    "reaction": _l("Reaction"),
}


class PatchReadoutForm(_DatedForm):
    """Record the read-out of the waiting test patch: clear, or a reaction with a note."""

    PREFIX = "readout"

    def __init__(self, *args: Any, tested_on: dt.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tested_on = tested_on  # the waiting patch's day, if there is one

    def validate_read_on(self, field: Field) -> None:
        """Not before the patch was fired, not in the future."""
        self.check_day(field.data)
        if field.data and self.tested_on and field.data < self.tested_on:
            raise ValidationError(_l("The read-out cannot be before the patch was fired."))

    def validate_note(self, field: Field) -> None:
        """A reaction needs a note saying what was seen."""
        if self.result.data == "reaction" and not field.data:
            raise ValidationError(_l("Describe the reaction."))

    patch = HiddenField()
    read_on = DateField(_l("Read on"), validators=[InputRequired(_l("Enter a date."))])
    result = RadioField(
        _l("Read-out"),
        choices=[SelectChoice(value, RESULT_LABELS[value]) for value in PATCH_RESULTS],
        validators=[InputRequired(_l("Choose clear or reaction."))],
    )
    note = TextAreaField(_l("Note"), validators=[PlainText(multiline=True), Length(max=NOTE_MAX)])
