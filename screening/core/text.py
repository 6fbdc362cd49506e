"""The one rule for free text people type (names, comments, notes): characters
that hide or reorder what staff read are refused, and text that shows nothing
counts as empty. The web forms, the API and the CLI all check text here."""

from __future__ import annotations

import unicodedata

# Text-direction controls: embeddings, overrides and isolates, the LTR/RTL
# marks and the Arabic letter mark. Shown nowhere, they reorder what staff
# read ("Anna \u202eelpmaxE" displays as "Anna Example").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

# The control characters a multi-line field (a comment, a note) may hold:
# browsers send a textarea's line breaks as CR LF.
MULTILINE_CONTROLS = frozenset("\n\r\t")

# Letters and marks that are drawn as nothing: the Hangul fillers, the
# combining grapheme joiner, the braille blank and the Khmer inherent vowels.
# Format characters (zero-width space, joiners, word joiner, BOM, soft
# hyphen) and separators are found by their category below.
_INVISIBLE_CHARACTERS = frozenset("\u3164\u115f\u1160\uffa0\u034f\u2800\u17b4\u17b5")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})

INVALID_CHARACTERS = "invalid_characters"
REQUIRED = "required"


class InvalidText(ValueError):
    """A free-text field cannot be stored; ``code`` is ``invalid_characters`` or ``required``."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


def is_invisible(ch: str) -> bool:
    """Whether the one character ``ch`` shows nothing on screen."""
    return ch in _INVISIBLE_CHARACTERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def is_blank(text: str | None) -> bool:
    """Whether ``text`` shows nothing: empty, or only spaces and invisible characters."""
    return all(is_invisible(ch) for ch in text or "")


def has_hidden_characters(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds control characters or text-direction controls.

    A multi-line field may hold line breaks and tabs; nothing else of category Cc.
    """
    allowed = MULTILINE_CONTROLS if multiline else frozenset()
    return any(ch in BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and ch not in allowed) for ch in text)


def clean_text(text: str | None, *, multiline: bool = False, required: bool = False) -> str:
    """``text`` as stored: trimmed of spaces and invisible characters, "" if it shows nothing.

    Raises ``InvalidText("invalid_characters")`` if it holds a control or
    text-direction character (surrounding spaces and line breaks aside), and
    ``InvalidText("required")`` if ``required`` and nothing visible is left.
    """
    trimmed = (text or "").strip()
    if has_hidden_characters(trimmed, multiline=multiline):
        raise InvalidText(INVALID_CHARACTERS)
    if is_blank(trimmed):
        if required:
            raise InvalidText(REQUIRED)
        return ""
    start, end = 0, len(trimmed)
    while is_invisible(trimmed[start]):
        start += 1
    while is_invisible(trimmed[end - 1]):
        end -= 1
    return trimmed[start:end]
