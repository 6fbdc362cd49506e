"""The questionnaire as a WTForms form, built from the rule file.

Question fields carry the raw answers only; whether they are complete and
valid is decided by ``engine.clean_answers``, the same check the API and the
CLI use, so the three can never disagree.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Optional
from wtforms.widgets import CheckboxInput, DateInput, ListWidget

from ..core.consent import signature_matches
from ..core.engine import AnswerError, InvalidAnswers
from ..core.model import Question, RuleSet, pick_text
from ..core.people import EMAIL_MAX, NAME_MAX, PHONE_MAX, InvalidPatient, Patient, check_patient
from ..web.validators import PlainText

PATIENT_FIELDS = ("patient_name", "email", "phone", "email_link", "signature", "consent")

ANSWER_MESSAGES = {
    "required": _l("Please answer this question."),
    "invalid_option": _l("Please choose one of the answers offered."),
    "invalid_date": _l("Please enter a full date, for example 1990-05-31."),
    "future_date": _l("This date cannot be in the future."),
    "too_early": _l("Please check the year: it must be after 1900."),
    "too_old": _l("Please check the year: this date is more than 110 years ago."),
    "before_birth": _l("This date is before your date of birth: please check both dates."),
    "none_and_others": _l("You ticked “None of these” and another answer: please check your answers."),
    "unsure_and_others": _l("You ticked “I'm not sure” and another answer: please check your answers."),
    "not_a_list": _l("Please tick the answers offered."),
    "unknown_question": _l("This is not a question of the questionnaire."),
}


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; the engine checks the values."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# The patient's details are checked by core.people.check_patient, the same
# function the API and the CLI use; these are its messages for patients.
DETAIL_MESSAGES = {
    ("name", "required"): _l("Please enter your name."),
    ("name", "too_long"): _l("Field cannot be longer than %(max)s characters.", max=NAME_MAX),
    ("email", "too_long"): _l("Field cannot be longer than %(max)s characters.", max=EMAIL_MAX),
    ("phone", "too_long"): _l("Field cannot be longer than %(max)s characters.", max=PHONE_MAX),
    ("email", "invalid_email"): _l("Please enter an email address like name@example.com."),
    ("phone", "invalid_phone"): _l("Please enter a phone number using digits, for example +7 912 345 67 89."),
    ("email", "no_contact"): _l("Please give an email address or a phone number."),
    **{
        (field, "invalid_characters"): _l("Please use only letters, digits, spaces and punctuation.")
        for field in ("name", "email", "phone")
    },
}
DETAIL_FIELDS = {"name": "patient_name", "email": "email", "phone": "phone"}


class NoticeForm(FlaskForm):
    """On the result page: e-mail me the link, or remind me on my re-screen date."""

    what = HiddenField(validators=[AnyOf(("link", "reminder"))])


class ScreeningFormBase(FlaskForm):
    """Patient details and consent; question fields are added per rule set."""

    patient_name = StringField(_l("Your full name"))
    email = StringField(_l("Email"))
    phone = StringField(_l("Phone"))
    consent = BooleanField(
        _l(
            "I have read the consent and the privacy notice. "
            "I agree that the clinic stores my answers to assess whether the treatment is safe for me."
        ),
        validators=[DataRequired(_l("We need your consent to store your answers."))],
    )
    # Offered only when e-mail is configured; the link goes to the address above.
    email_link = BooleanField(_l("E-mail me a link to my result"))
    signature = StringField(
        _l("Signature: type your first name and surname"),
        description=_l("The name you gave under “Your full name”; capitals and spaces do not matter."),
        validators=[PlainText(message=_l("Please use only letters, digits, spaces and punctuation."))],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """Field checks, then the patient's details as ``check_patient`` sees them,
        then the typed signature against the name."""
        valid = bool(super().validate(extra_validators))
        try:
            self._patient = check_patient(self.patient_name.data or "", self.email.data or "", self.phone.data or "")
        except InvalidPatient as error:
            for problem in error.problems:
                field = getattr(self, DETAIL_FIELDS[problem.field])
                field.errors = [*field.errors, DETAIL_MESSAGES[(problem.field, problem.code)]]
            valid = False
        if self.email_link.data and not (self.email.data or "").strip():
            self.email_link.errors = [
                *self.email_link.errors,
                _l("Please give your email address to receive the link."),
            ]
            valid = False
        return self._check_signature() and valid

    def _check_signature(self) -> bool:
        typed = self.signature.data or ""
        if self.signature.errors:
            return False  # core.text's rule refused it: that is the one message
        if not typed.strip():
            message = _l("Please sign: type your full name.")
        elif len(typed) > NAME_MAX:
            message = _l("Field cannot be longer than %(max)s characters.", max=NAME_MAX)
        elif self.patient_name.data and not signature_matches(typed, self.patient_name.data):
            message = _l("Your signature must be the name you gave under “Your full name”.")
        else:
            return True
        self.signature.errors = [*self.signature.errors, message]
        return False

    def wants_link(self) -> bool:
        """Whether the patient asked to be e-mailed the link to their result."""
        return bool(self.email_link.data)

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
        """The patient's details, checked by ``validate``."""
        return self._patient


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


# Keyed by the rule file's digest (a changed file gets its own class) and the questions asked:
# each procedure, and several chosen together, ask their own (``RuleBook.combined``).
_form_classes: dict[tuple[str, str, tuple[str, ...]], type[ScreeningFormBase]] = {}


def screening_form_class(ruleset: RuleSet, language: str) -> type[ScreeningFormBase]:
    """The form class for this rule set and language, built once."""
    key = (ruleset.digest, language, tuple(ruleset.question_by_id))
    if key not in _form_classes:
        fields = {q.id: _question_field(q, language) for q in ruleset.questions}
        _form_classes[key] = type("ScreeningForm", (ScreeningFormBase,), fields)
    return _form_classes[key]


# Keyed like ``_form_classes``, with the questions asked.
_part_classes: dict[tuple[str, str, tuple[str, ...]], type[FlaskForm]] = {}


def questions_form_class(ruleset: RuleSet, language: str, question_ids: tuple[str, ...]) -> type[FlaskForm]:
    """A form of only these questions (and its CSRF token), as the questionnaire asks them: the
    pre-session check's part of the questionnaire."""
    key = (ruleset.digest, language, question_ids)
    if key not in _part_classes:
        fields = {q.id: _question_field(q, language) for q in ruleset.questions if q.id in question_ids}
        _part_classes[key] = type("QuestionsForm", (FlaskForm,), fields)
    return _part_classes[key]
