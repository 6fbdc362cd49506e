"""The forms of a rule change: an administrator proposes the candidate file shown in the
report, a medical director approves or rejects it with a comment, an administrator marks
an account as a medical director."""

from __future__ import annotations

import base64
import binascii

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError

from ..web.validators import PlainText

COMMENT_MAX = 2000

# A rule version's state (storage.RULE_VERSION_STATES), in words.
STATE_LABELS = {
    "proposed": _l("Proposed, waiting for a medical director"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
    "superseded": _l("Approved, since replaced"),
}


class ProposeRulesForm(FlaskForm):
    """The candidate file the report was made of (base64, so that no browser rewrites its line
    ends and its digest stays the one compared), with the proposer's note."""

    rules_text = HiddenField(validators=[DataRequired(_l("Upload the candidate rule file again."))])
    days = HiddenField(validators=[Optional()])
    note = TextAreaField(
        _l("Why this change (shown to the medical director)"),
        validators=[
            Optional(),
            Length(max=COMMENT_MAX, message=_l("Use at most %(n)d characters.", n=COMMENT_MAX)),
            PlainText(multiline=True),
        ],
    )

    def validate_rules_text(self, field: Field) -> None:
        """Base64 of UTF-8 text, as the report page put it."""
        try:
            base64.b64decode(field.data or "", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationError(_l("Upload the candidate rule file again.")) from None

    def file_text(self) -> str:
        """The rule file's text (after ``validate``)."""
        return base64.b64decode(self.rules_text.data, validate=True).decode("utf-8")


def encode_rules_text(raw: bytes) -> str:
    """The uploaded file as the propose form carries it."""
    return base64.b64encode(raw).decode("ascii")


class DecideRulesForm(FlaskForm):
    """A medical director's approval or rejection, with a comment for the record."""

    comment = TextAreaField(
        _l("Comment"),
        validators=[
            DataRequired(_l("Say why, for the record.")),
            Length(max=COMMENT_MAX, message=_l("Use at most %(n)d characters.", n=COMMENT_MAX)),
            PlainText(multiline=True, required=_l("Say why, for the record.")),
        ],
    )


class ReplayDaysForm(FlaskForm):
    """How many days of past screenings the proposal page replays (a GET form)."""

    class Meta:
        csrf = False

    days = IntegerField(
        _l("Replay the screenings of the last ... days"),
        validators=[Optional(), NumberRange(min=1, max=3650, message=_l("Enter a number of days from 1 to 3650."))],
    )


class MedicalDirectorForm(FlaskForm):
    """Mark an account as a medical director, or no longer."""

    medical_director = HiddenField(validators=[AnyOf(["1", "0"])])
