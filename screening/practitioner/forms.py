"""The practitioners' forms: sign-in, filters, review, re-confirmation and
the rules page's "try it" form."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..core.consent import signature_matches
from ..core.decisions import DECIDED_STATUSES, REASON_CODES, decision_problems
from ..core.model import RuleSet
from ..core.people import COMMENT_MAX, EMAIL_MAX, NAME_MAX, PASSWORD_MAX
from ..patient.forms import ScreeningFormBase, screening_form_class
from ..web.i18n import current_language
from ..web.procedures import procedure_names
from ..web.validators import PlainText

# --- Practitioner workspace ----------------------------------------------------
# Login, filters, review, re-confirmation and the rules page's "try it" form.
# GET filter forms carry no CSRF token: they change nothing, and a token would
# only clutter shareable URLs. Every POST form keeps Flask-WTF's CSRF check.


OUTCOME_LABELS = {
    "eligible": _l("Eligible"),
    "review": _l("Review"),
    "deferred": _l("Deferred"),
    "ineligible": _l("Not eligible"),
}
# Rules may also have the outcome "note", which is never a verdict.
RULE_OUTCOME_LABELS = {**OUTCOME_LABELS, "note": _l("Note for the session")}
# A decision's reasons (core.decisions.REASON_CODES) in words.
OVERRIDE_REASONS = {
    "clarified_with_patient": _l("Clarified with the patient"),
    "physician_clearance": _l("Physician clearance received"),
    "not_clinically_relevant": _l("Not clinically relevant"),
    "condition_must_settle": _l("A condition must settle first"),
    "contraindication_confirmed": _l("Contraindication confirmed"),
    "other": _l("Other"),
}
assert tuple(OVERRIDE_REASONS) == REASON_CODES, "every reason code has its words"
# The decisions a practitioner records, in words (never "review").
DECISION_LABELS = {
    "eligible": _l("Eligible: cleared for treatment"),
    "deferred": _l("Deferred"),
    "ineligible": _l("Not eligible"),
}


# The review form's message for each of ``decision_problems``' codes.
DECISION_MESSAGES = {
    "status_missing": _l("Choose a decision: eligible, deferred or not eligible."),
    "status_not_decision": _l("“Review” is not a decision: choose eligible, deferred or not eligible."),
    "defer_until_missing": _l("Enter the date from which the patient may be treated or screened again."),
    "defer_until_past": _l("The deferral date cannot be in the past."),
    "reason_missing": _l("Choose a reason for your decision."),
    "reason_unknown": _l("Choose one of the reasons in the list."),
    "comment_missing": _l("Explain in a comment why you decide otherwise than the rules."),
}


def select_choices(*pairs: tuple[str, Any]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _plausible_date(form: FlaskForm, field: Field) -> None:
    """Dates in filters and on the rules page: far-off years would overflow date arithmetic."""
    if field.data and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(_l("Enter a date between 1900 and 2999."))


class LoginForm(FlaskForm):
    """Email and password; which of the two was wrong is never said."""

    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=EMAIL_MAX)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=PASSWORD_MAX)]
    )


class CandidateRulesForm(FlaskForm):
    """A candidate rule file to compare with the rules in force, and how many days of screenings to replay."""

    rules_file = FileField(_l("Candidate rule file"), validators=[FileRequired(_l("Choose a rule file (YAML)."))])
    days = IntegerField(
        _l("Replay the screenings of the last ... days"),
        validators=[Optional(), NumberRange(min=1, max=3650, message=_l("Enter a number of days from 1 to 3650."))],
    )


class LogoutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST a third-party page cannot forge."""


class QueueFilterForm(FlaskForm):
    """The queue's filters, read from the query string."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Verdict"), choices=select_choices(("", _l("Any verdict")), *OUTCOME_LABELS.items()), default=""
    )
    reviewed = SelectField(
        _l("Review"),
        choices=select_choices(
            ("", _l("Reviewed or not")),
            ("no", _l("Not reviewed yet")),
            ("yes", _l("Reviewed")),
            # Undecided reviews and undecided screenings flagged by changed answers (storage.queue).
            ("decide", _l("Needs a decision")),
        ),
        default="",
    )
    since = DateField(_l("From"), validators=[Optional(), _plausible_date])
    until = DateField(_l("To"), validators=[Optional(), _plausible_date])
    q = StringField(_l("Reference, name, e-mail or phone"), validators=[Optional(), Length(max=100)])
    # The rule file's procedures, filled in per form (``procedure_names``); an unknown id is refused.
    procedure = SelectField(_l("Treatment"), default="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.procedure.choices = select_choices(
            ("", _l("Every treatment")), *procedure_names(current_language()).items()
        )

    def validate_until(self, field: Field) -> None:
        """A range must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date must be on or after the start date."))


class AuditFilterForm(FlaskForm):
    """The audit log's filters, read from the query string."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), default="")
    practitioner = SelectField(_l("Practitioner"), default="")
    target = StringField(_l("Reference code or account email"), validators=[Optional(), Length(max=260)])
    since = DateField(_l("From"), validators=[Optional(), _plausible_date])
    until = DateField(_l("To"), validators=[Optional(), _plausible_date])


class ReviewForm(FlaskForm):
    """A decision: eligible, deferred (until a date) or ineligible, with a reason and a comment
    where the rules decided otherwise or nothing (``core.decisions``)."""

    # Set by the button pressed; ``decision_problems`` says what is wrong with it, "review" included.
    status = SelectField(_l("Decision"), choices=select_choices(*DECISION_LABELS.items()), validate_choice=False)
    defer_until = DateField(
        _l("Deferred until"),
        description=_l("The date from which the patient may be treated or screened again."),
        validators=[Optional(), _plausible_date],
    )
    reason_code = SelectField(
        _l("Reason for your decision"),
        choices=select_choices(("", _l("Choose a reason")), *OVERRIDE_REASONS.items()),
        default="",
    )
    comment = TextAreaField(
        _l("Comment (required when you decide otherwise than the rules)"),
        validators=[Length(max=COMMENT_MAX), PlainText(multiline=True)],
    )
    notes = TextAreaField(_l("Notes (optional)"), validators=[Length(max=COMMENT_MAX), PlainText(multiline=True)])
    revision = HiddenField(validators=[DataRequired()])

    def __init__(self, *args: Any, verdict_status: str, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdict_status = verdict_status
        self.today = today
        if verdict_status not in DECIDED_STATUSES:
            # The rules decided nothing: a reason says why, the comment is optional.
            self.comment.label.text = _l("Comment (optional)")

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields, then the decision rules (``decision_problems``), each message beside its field."""
        valid = bool(super().validate(extra_validators))
        problems = decision_problems(
            self.verdict_status,
            self.status.data,
            self.reason_code.data,
            self.comment.data,
            defer_until=self.defer_until.data,
            today=self.today,
        )
        for problem in problems:
            field = getattr(self, problem.field)
            # A field whose own check already failed (e.g. "Not a valid choice") says
            # so once; the rule's message would only repeat the same problem.
            if not field.errors:
                field.errors = [DECISION_MESSAGES[problem.code]]
        return valid and not problems


def patient_signature_field() -> StringField:
    """The day-of-session signature: the patient types their name at the clinic's tablet."""
    return StringField(
        _l("The patient's signature: they type their full name"), validators=[Length(max=NAME_MAX), PlainText()]
    )


def check_patient_signature(field: Field, patient_name: str) -> bool:
    """Whether the typed signature is the screening's patient name (case and spaces aside);
    if not, the error goes beside the field."""
    typed = field.data or ""
    if field.errors:
        return False  # core.text's rule refused it: that is the one message
    if not typed.strip():
        message = _l("The patient must sign: ask them to type their full name.")
    elif not signature_matches(typed, patient_name):
        message = _l("The signature does not match the patient's name on this screening.")
    else:
        return True
    field.errors = [*field.errors, message]
    return False


class ReconfirmForm(FlaskForm):
    """Day-of-session check: the patient says nothing has changed, and signs."""

    unchanged = BooleanField(
        _l("The patient confirmed today that none of their answers has changed"),
        validators=[DataRequired(_l("Tick the box once the patient has confirmed that nothing has changed."))],
    )
    patient_signature = patient_signature_field()
    revision = HiddenField(validators=[DataRequired()])


class AnswersOnlyForm(ScreeningFormBase):
    """The questionnaire's questions without the patient's details."""

    patient_name = None
    email = None
    phone = None
    consent = None
    email_link = None
    signature = None

    def validate(self, extra_validators: Any = None) -> bool:
        """Only the CSRF token and field lengths: the engine checks the answers."""
        return bool(FlaskForm.validate(self, extra_validators))


_answers_form_classes: dict[tuple[str, str, str, str], tuple[RuleSet, type[AnswersOnlyForm]]] = {}


def _answers_form_class(ruleset: RuleSet, language: str, kind: str, fields: dict[str, Any]) -> type[AnswersOnlyForm]:
    # Each procedure asks its own questions: one class per procedure.
    key = (ruleset.digest, ruleset.procedure.id, language, kind)
    cached = _answers_form_classes.get(key)
    if cached is None or cached[0] is not ruleset:
        base = screening_form_class(ruleset, language)
        questions = {q.id: getattr(base, q.id) for q in ruleset.questions}
        cls = type(f"{kind}Form", (AnswersOnlyForm,), {**questions, **fields})
        cached = _answers_form_classes[key] = (ruleset, cls)
    return cached[1]


def changed_answers_form_class(ruleset: RuleSet, language: str) -> type[AnswersOnlyForm]:
    """Re-entering a patient's changed answers on the day of the session."""
    return _answers_form_class(
        ruleset,
        language,
        "ChangedAnswers",
        {"revision": HiddenField(validators=[DataRequired()]), "patient_signature": patient_signature_field()},
    )


def try_rules_form_class(ruleset: RuleSet, language: str) -> type[AnswersOnlyForm]:
    """Any answer set, evaluated on the rules page without being stored."""
    day = DateField(_l("Screening day"), validators=[Optional(), _plausible_date])
    return _answers_form_class(ruleset, language, "TryRules", {"screening_day": day})
