"""The staff password policy: long enough, not one character over and over,
not a well-known password, not the account's own e-mail address, and hard
enough to guess by zxcvbn's estimate (repeats, sequences, keyboard rows,
dates and common words found inside it count for little)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from zxcvbn import zxcvbn

from .people import PASSWORD_MAX, PASSWORD_MIN, normalise_email

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of well-known passwords, compared without case or spaces."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(_comparable(line) for line in lines if line.strip() and not line.startswith("#"))


def _comparable(text: str) -> str:
    return "".join(text.split()).casefold()


# Plain-English messages (the CLI); the web forms show translated ones for the same codes.
PASSWORD_MESSAGES = {
    "too_short": f"the password must have at least {PASSWORD_MIN} characters",
    "too_long": f"the password must have at most {PASSWORD_MAX} characters",
    "repeated": "the password must not be one character repeated (or only spaces)",
    "common": "the password is on a list of well-known passwords; choose another",
    "email": "the password must not be the e-mail address",
    "weak": "the password is too easy to guess; use a few unrelated words",
    "weak_repeats": "the password is too easy to guess: repeats like 'aaa' or 'abcabc' add little; "
    "use a few unrelated words",
    "weak_sequence": "the password is too easy to guess: sequences like 'abc' or '6543' add little; "
    "use a few unrelated words",
    "weak_keyboard": "the password is too easy to guess: rows of keys like 'qwerty' add little; "
    "use a few unrelated words",
    "weak_dates": "the password is too easy to guess: dates and years add little; use a few unrelated words",
    "weak_common": "the password is too easy to guess: it is, or is like, a commonly used password; "
    "use a few unrelated words",
    "weak_word": "the password is too easy to guess: a single word adds little; add a few unrelated words",
    "weak_names": "the password is too easy to guess: common names add little; use a few unrelated words",
}

# zxcvbn's score (0 to 4): 3 is "safely unguessable" against an online attack
# and resists an offline one on a slow hash.
MIN_SCORE = 3
# zxcvbn refuses longer input (its matching grows slow); the first 72
# characters of a longer password are judged.
STRENGTH_PREFIX = 72
# Words anyone attacking this application would try first.
APPLICATION_WORDS = ("clinic", "screening", "laser", "practitioner", "password")

# zxcvbn's warnings (its feedback.py), each with our code for why: the forms
# give the reason in the reader's language. A warning not listed falls back to "weak".
WEAKNESS_REASONS = {
    'Repeats like "aaa" are easy to guess.': "weak_repeats",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': "weak_repeats",
    'Sequences like "abc" or "6543" are easy to guess.': "weak_sequence",
    "Straight rows of keys are easy to guess.": "weak_keyboard",
    "Short keyboard patterns are easy to guess.": "weak_keyboard",
    "Recent years are easy to guess.": "weak_dates",
    "Dates are often easy to guess.": "weak_dates",
    "This is a top-10 common password.": "weak_common",
    "This is a top-100 common password.": "weak_common",
    "This is a very common password.": "weak_common",
    "This is similar to a commonly used password.": "weak_common",
    "A word by itself is easy to guess.": "weak_word",
    "Names and surnames by themselves are easy to guess.": "weak_names",
    "Common names and surnames are easy to guess.": "weak_names",
}


def password_problem(password: str, email: str = "") -> str | None:
    """The code (a key of ``PASSWORD_MESSAGES``) of why ``password`` may not be used, or None if it may."""
    if len(password) < PASSWORD_MIN:
        return "too_short"
    if len(password) > PASSWORD_MAX:
        return "too_long"
    compact = _comparable(password)
    if len(set(compact)) <= 1:
        return "repeated"
    if compact in common_passwords():
        return "common"
    address = normalise_email(email)
    if address and compact in (_comparable(address), _comparable(address.partition("@")[0])):
        return "email"
    return weakness(password, address)


def weakness(password: str, address: str = "") -> str | None:
    """The code of why zxcvbn finds ``password`` too easy to guess (below ``MIN_SCORE``), or None."""
    own_words = [address, *address.partition("@")[0].replace(".", " ").split()] if address else []
    estimate = zxcvbn(password[:STRENGTH_PREFIX], user_inputs=[*APPLICATION_WORDS, *own_words])
    if estimate["score"] >= MIN_SCORE:
        return None
    return WEAKNESS_REASONS.get(estimate["feedback"]["warning"], "weak")
