"""The forms of the patient record and the course: link, unlink, start a course, record a session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, Field, FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..web.protocol import get_protocol
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


class DecimalCommaField(FloatField):
    """A number typed with a decimal point or comma (12.5 or 12,5, as a Russian keyboard types it)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read a comma as the decimal point."""
        super().process_formdata([str(v).strip().replace(",", ".") for v in valuelist])


def _number(low: float, high: float, message: Any) -> list[Any]:
    return [InputRequired(_l("Enter a number.")), NumberRange(low, high, message)]


class SessionForm(FlaskForm):
    """Record a session given on this screening: the device and each setting, with units, checked
    against the clinic's devices and protocol (devices.yaml) by the view."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        protocol = get_protocol()
        # One choice per handpiece or filter, named with its device: "nd_yag/zoom".
        self.device.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(f"{d.id}/{h.id}", f"{d.name}: {h.name}") for d in protocol.devices for h in d.handpieces
        ]
        cooling = dict.fromkeys(c for d in protocol.devices for c in d.cooling)
        self.cooling.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(c, c.replace("_", " ")) for c in cooling
        ]

    def validate_device(self, field: Field) -> None:
        """One of the choices (a choice's own check would accept the empty "Choose…")."""
        if not field.data:
            raise ValidationError(_l("Choose the device and handpiece or filter."))

    def validate_cooling(self, field: Field) -> None:
        """One of the choices."""
        if not field.data:
            raise ValidationError(_l("Choose the cooling."))

    given_on = DateField(_l("Session date"), validators=[InputRequired(_l("Enter a date."))])
    number = IntegerField(
        _l("Session number"),
        validators=[InputRequired(_l("Enter a number.")), NumberRange(1, 20, _l("Enter a number from 1 to 20."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX), PlainText(multiline=True)])
    device = SelectField(_l("Device and handpiece or filter"), choices=[])
    wavelength_nm = IntegerField(
        _l("Wavelength (nm)"), validators=_number(100, 20000, _l("Enter a wavelength from 100 to 20000 nm."))
    )
    fluence_j_cm2 = DecimalCommaField(
        _l("Fluence (J/cm²)"), validators=_number(0.01, 1000, _l("Enter a fluence from 0.01 to 1000 J/cm²."))
    )
    pulse_ms = DecimalCommaField(
        _l("Pulse duration (ms)"), validators=_number(0.000001, 10000, _l("Enter a pulse duration above 0 ms."))
    )
    spot_mm = DecimalCommaField(
        _l("Spot size (mm)"), validators=_number(0.01, 100, _l("Enter a spot size from 0.01 to 100 mm."))
    )
    passes = IntegerField(_l("Passes"), validators=_number(1, 20, _l("Enter a number from 1 to 20.")))
    cooling = SelectField(_l("Cooling"), choices=[])
    endpoint = StringField(
        _l("Endpoint seen"),
        validators=[InputRequired(_l("Describe the endpoint seen.")), Length(max=200), PlainText()],
    )
    immediate_reaction = StringField(
        _l("Immediate reaction"),
        validators=[InputRequired(_l("Describe the skin's immediate reaction.")), Length(max=200), PlainText()],
    )
    override_reason = TextAreaField(
        _l("Reason for settings outside the protocol"),
        description=_l("Needed only when a setting is outside the clinic's protocol for this patient's skin type."),
        validators=[Optional(), Length(max=NOTE_MAX), PlainText(multiline=True)],
    )
