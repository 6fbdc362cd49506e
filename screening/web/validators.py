"""The WTForms face of ``core.text``: every free-text field of every form is
checked by the same rule as the API and the CLI."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Field
from wtforms.validators import StopValidation

from ..core.text import REQUIRED, InvalidText, clean_text

HIDDEN_CHARACTERS_MESSAGE = _l(
    "Remove the control or text-direction characters: they hide or reorder what others read."
)


class PlainText:
    """A free-text field cleaned by ``core.text.clean_text``: control and text-direction
    characters refused; text of only invisible characters becomes "" (and, with
    ``required``, the given message)."""

    def __init__(self, *, multiline: bool = False, required: Any = None, message: Any = None) -> None:
        self.multiline = multiline
        self.required = required
        self.message = message or HIDDEN_CHARACTERS_MESSAGE

    def __call__(self, form: Any, field: Field) -> None:
        try:
            field.data = clean_text(field.data, multiline=self.multiline, required=self.required is not None)
        except InvalidText as error:
            # StopValidation: one message per field; a later Length check adds nothing.
            raise StopValidation(self.required if error.code == REQUIRED else self.message) from None
