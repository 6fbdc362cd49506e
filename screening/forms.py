"""The questionnaire as a WTForms form, built from the rule file.

Question fields carry the raw answers only; whether they are complete and
valid is decided by ``engine.clean_answers``, the same check the API and the
CLI use, so the three can never disagree.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, DateInput, ListWidget

from .engine import AnswerError, InvalidAnswers
from .rules import Question, RuleSet, pick_text
from .storage import Patient

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 32
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()\-]{6,}$")
PATIENT_FIELDS = ("patient_name", "email", "phone", "consent")

ANSWER_MESSAGES = {
    "required": _l("Please answer this question."),
    "invalid_option": _l("Please choose one of the answers offered."),
    "invalid_date": _l("Please enter a full date, for example 1990-05-31."),
    "future_date": _l("This date cannot be in the future."),
    "too_early": _l("Please check the year: it must be after 1900."),
    "not_a_list": _l("Please tick the answers offered."),
    "unknown_question": _l("This is not a question of the questionnaire."),
}


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; the engine checks the values."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _check_email(form: FlaskForm, field: Field) -> None:
    if field.data and not EMAIL_PATTERN.match(field.data.strip()):
        raise ValidationError(_l("Please enter an email address like name@example.com."))


def _check_phone(form: FlaskForm, field: Field) -> None:
    if field.data and not PHONE_PATTERN.match(field.data.strip()):
        raise ValidationError(_l("Please enter a phone number using digits, for example +7 912 345 67 89."))


class ScreeningFormBase(FlaskForm):
    """Patient details and consent; question fields are added per rule set."""

    patient_name = StringField(
        _l("Your full name"), validators=[DataRequired(_l("Please enter your name.")), Length(max=NAME_MAX)]
    )
    email = StringField(_l("Email"), validators=[Optional(), Length(max=EMAIL_MAX), _check_email])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=PHONE_MAX), _check_phone])
    consent = BooleanField(
        _l("I agree that the clinic stores my answers to assess whether the treatment is safe for me."),
        validators=[DataRequired(_l("We need your consent to store your answers."))],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """Field checks, then: the clinic needs at least one way to reach the patient."""
        valid = bool(super().validate(extra_validators))
        if not (self.email.data or "").strip() and not (self.phone.data or "").strip():
            self.email.errors = [*self.email.errors, _l("Please give an email address or a phone number.")]
            valid = False
        return valid

    def raw_answers(self, ruleset: RuleSet) -> dict[str, Any]:
        """The question answers as typed, blanks left out."""
        answers: dict[str, Any] = {}
        for question in ruleset.questions:
            value = getattr(self, question.id).data
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, "", []):
                answers[question.id] = value
        return answers

    def add_answer_errors(self, error: InvalidAnswers) -> None:
        """Show the engine's problems next to their fields, in the patient's language."""
        for problem in error.problems:
            field = getattr(self, problem.field, None)
            if isinstance(field, Field):
                field.errors = [*field.errors, str(answer_message(problem))]

    def patient(self) -> Patient:
        """The patient's details as typed."""
        return Patient(
            name=self.patient_name.data.strip(),
            email=(self.email.data or "").strip(),
            phone=(self.phone.data or "").strip(),
        )


def answer_message(problem: AnswerError) -> Any:
    """The patient-facing message for an answer problem."""
    return ANSWER_MESSAGES.get(problem.code, problem.message)


def _question_field(question: Question, language: str) -> Field:
    label = pick_text(question.text, language)
    description = pick_text(question.help, language) if question.help else ""
    if question.type == "date":
        return StringField(label, description=description, widget=DateInput(), validators=[Optional()])
    choices = [SelectChoice(o.value, pick_text(o.label, language)) for o in question.options]
    if question.type == "multi":
        return MultiCheckboxField(label, description=description, choices=choices, validate_choice=False)
    return RadioField(label, description=description, choices=choices, validate_choice=False, validators=[Optional()])


# Keyed by the rule file's digest: a changed file gets its own class.
_form_classes: dict[tuple[str, str], type[ScreeningFormBase]] = {}


def screening_form_class(ruleset: RuleSet, language: str) -> type[ScreeningFormBase]:
    """The form class for this rule set and language, built once."""
    key = (ruleset.digest, language)
    if key not in _form_classes:
        fields = {q.id: _question_field(q, language) for q in ruleset.questions}
        _form_classes[key] = type("ScreeningForm", (ScreeningFormBase,), fields)
    return _form_classes[key]


# --- Practitioner workspace ----------------------------------------------------
# Login, filters, review, re-confirmation and the rules page's "try it" form.
# GET filter forms carry no CSRF token: they change nothing, and a token would
# only clutter shareable URLs. Every POST form keeps Flask-WTF's CSRF check.

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
COMMENT_MAX = 2000

OUTCOME_LABELS = {
    "eligible": _l("Eligible"),
    "review": _l("Review"),
    "deferred": _l("Deferred"),
    "ineligible": _l("Not eligible"),
}
OVERRIDE_REASONS = {
    "clarified_with_patient": _l("Clarified with the patient"),
    "physician_clearance": _l("Physician clearance received"),
    "not_clinically_relevant": _l("Not clinically relevant"),
    "other": _l("Other"),
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
        choices=select_choices(("", _l("Reviewed or not")), ("no", _l("Not reviewed yet")), ("yes", _l("Reviewed"))),
        default="",
    )
    since = DateField(_l("From"), validators=[Optional(), _plausible_date])
    until = DateField(_l("To"), validators=[Optional(), _plausible_date])
    q = StringField(_l("Reference code or name"), validators=[Optional(), Length(max=100)])

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
    """Confirm the verdict, or override it with a reason and a comment."""

    decision = RadioField(
        _l("Decision"),
        choices=select_choices(
            ("confirm", _l("Confirm the verdict")), ("override", _l("Override it to another status"))
        ),
        invalid_choice_message=_l("Choose whether you confirm or override the verdict."),
    )
    status = SelectField(_l("New status"), choices=select_choices(), default="")
    reason_code = SelectField(
        _l("Reason for the override"),
        choices=select_choices(("", _l("Choose a reason")), *OVERRIDE_REASONS.items()),
        default="",
    )
    comment = TextAreaField(_l("Comment (required for an override)"), validators=[Length(max=COMMENT_MAX)])
    notes = TextAreaField(_l("Notes (optional)"), validators=[Length(max=COMMENT_MAX)])
    revision = HiddenField(validators=[DataRequired()])

    def __init__(self, *args: Any, verdict_status: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdict_status = verdict_status
        self.status.choices = select_choices(
            ("", _l("Choose a status")),
            *[(code, label) for code, label in OUTCOME_LABELS.items() if code != verdict_status],
        )

    def validate(self, extra_validators: Any = None) -> bool:
        """An override names a different status, a reason and a comment;
        a confirmation changes nothing."""
        valid = bool(super().validate(extra_validators))
        if self.decision.data == "override":
            problems = [
                (self.status, not self.status.data, _l("Choose the status you change the verdict to.")),
                (self.reason_code, not self.reason_code.data, _l("Choose a reason for the override.")),
                (self.comment, not (self.comment.data or "").strip(), _l("Explain the override in a comment.")),
            ]
            for field, missing, message in problems:
                if missing:
                    field.errors = [*field.errors, message]
                    valid = False
        elif self.decision.data == "confirm" and self.status.data:
            self.status.errors = [*self.status.errors, _l("To change the status, choose “Override”.")]
            valid = False
        return valid


class ReconfirmForm(FlaskForm):
    """Day-of-session check: the patient says nothing has changed."""

    unchanged = BooleanField(
        _l("The patient confirmed today that none of their answers has changed"),
        validators=[DataRequired(_l("Tick the box once the patient has confirmed that nothing has changed."))],
    )
    revision = HiddenField(validators=[DataRequired()])


class AnswersOnlyForm(ScreeningFormBase):
    """The questionnaire's questions without the patient's details."""

    patient_name = None
    email = None
    phone = None
    consent = None

    def validate(self, extra_validators: Any = None) -> bool:
        """Only the CSRF token and field lengths: the engine checks the answers."""
        return bool(FlaskForm.validate(self, extra_validators))


_answers_form_classes: dict[tuple[str, str, str], tuple[RuleSet, type[AnswersOnlyForm]]] = {}


def _answers_form_class(ruleset: RuleSet, language: str, kind: str, fields: dict[str, Any]) -> type[AnswersOnlyForm]:
    key = (ruleset.digest, language, kind)
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
        ruleset, language, "ChangedAnswers", {"revision": HiddenField(validators=[DataRequired()])}
    )


def try_rules_form_class(ruleset: RuleSet, language: str) -> type[AnswersOnlyForm]:
    """Any answer set, evaluated on the rules page without being stored."""
    day = DateField(_l("Screening day"), validators=[Optional(), _plausible_date])
    return _answers_form_class(ruleset, language, "TryRules", {"screening_day": day})
