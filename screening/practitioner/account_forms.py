"""Forms of account management: an administrator's (invite, role, status,
reset) and everyone's own (password change, set-password link)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..core.passwords import password_problem
from ..core.people import (
    EMAIL_MAX,
    NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    is_email,
    normalise_email,
)
from ..web.roles import ROLE_LABELS
from ..web.validators import PlainText
from .forms import select_choices

# The web's messages for core.passwords' codes.
PASSWORD_MESSAGES = {
    "too_short": _l("Use at least %(n)d characters.", n=PASSWORD_MIN),
    "too_long": _l("Use at most %(n)d characters.", n=PASSWORD_MAX),
    "repeated": _l("Do not use one character over and over."),
    "common": _l("This password is on a list of well-known passwords; choose another."),
    "email": _l("Do not use your e-mail address as the password."),
    "weak": _l("This password is too easy to guess. Use a few unrelated words."),
    "weak_repeats": _l(
        "This password is too easy to guess: repeats like “aaa” or “abcabc” add little. Use a few unrelated words."
    ),
    "weak_sequence": _l(
        "This password is too easy to guess: sequences like “abc” or “6543” add little. Use a few unrelated words."
    ),
    "weak_keyboard": _l(
        "This password is too easy to guess: rows of keys like “qwerty” add little. Use a few unrelated words."
    ),
    "weak_dates": _l("This password is too easy to guess: dates and years add little. Use a few unrelated words."),
    "weak_common": _l(
        "This password is too easy to guess: it is, or is like, a commonly used password. Use a few unrelated words."
    ),
    "weak_word": _l("This password is too easy to guess: a single word adds little. Add a few unrelated words."),
    "weak_names": _l("This password is too easy to guess: common names add little. Use a few unrelated words."),
}


class NewPasswordForm(FlaskForm):
    """A new password, typed twice, checked against the policy."""

    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password."))])
    confirm = PasswordField(_l("The new password again"), validators=[DataRequired(_l("Enter it again."))])

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = email

    def validate_password(self, field: Field) -> None:
        """The password policy (core.passwords)."""
        problem = password_problem(field.data or "", self.account_email)
        if problem is not None:
            raise ValidationError(PASSWORD_MESSAGES[problem])

    def validate_confirm(self, field: Field) -> None:
        """Both copies match."""
        if field.data != self.password.data:
            raise ValidationError(_l("The two passwords differ."))


class ChangePasswordForm(NewPasswordForm):
    """The signed-in account's own password change: the current one first."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])


def _an_email(form: FlaskForm, field: Field) -> None:
    if not is_email(normalise_email(field.data or "")):
        raise ValidationError(_l("Please enter an email address like name@example.com."))


class InviteForm(FlaskForm):
    """A new account: who, and with which role; they set their own password."""

    email = StringField(
        _l("Email"),
        validators=[DataRequired(_l("Enter an email address.")), Length(max=EMAIL_MAX), _an_email],
    )
    name = StringField(
        _l("Full name"),
        validators=[
            DataRequired(_l("Enter the person's name.")),
            Length(max=NAME_MAX),
            PlainText(
                required=_l("Enter the person's name."),
                message=_l("Please use only letters, digits, spaces and punctuation."),
            ),
        ],
    )
    role = SelectField(_l("Role"), choices=select_choices(*ROLE_LABELS.items()), default="practitioner")


class RoleForm(FlaskForm):
    """Another role for an account."""

    role = SelectField(_l("Role"), choices=select_choices(*ROLE_LABELS.items()))
