"""The check-in after a session: how the skin is, as a fixed form, and which answers
suggest a complication that staff must hear of, plus what an adverse event record holds.

These are not contraindication questions (the rule file's): they ask what
happened after a session, the same for every procedure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

# Yes/no questions, in the order the page asks them.
SYMPTOMS = (
    "redness",  # redness still there
    "swelling",
    "blisters",
    "crusting",
    "darker_patches",
    "lighter_patches",
    "other",  # anything else (the note says what)
)
YES, NO = "yes", "no"
PAIN_LEVELS = ("none", "mild", "moderate", "severe")
NOTE_MAX = 1000

# Seen at any time after a session, these suggest a burn, an infection or a pigment change.
ALWAYS_SIGNS = frozenset({"blisters", "crusting", "darker_patches", "lighter_patches", "other"})
# Swelling is expected for a day or two; still there from this many days after the session day, it is a sign.
SWELLING_DAYS = 2

# What staff record of an adverse event (labels in the practitioner package).
EVENT_KINDS = (
    "blistering",
    "burn",
    "crusting",
    "hyperpigmentation",
    "hypopigmentation",
    "prolonged_redness",
    "swelling",
    "infection",
    "cold_sore",
    "scarring",
    "eye_injury",
    "other",
)
EVENT_GRADES = ("mild", "moderate", "severe")
EVENT_OUTCOMES = ("ongoing", "resolved", "resolved_with_marks")
EVENT_SOURCES = ("check_in", "call", "visit")


def complication_signs(answers: Mapping[str, Any], given_on: dt.date, answered_on: dt.date) -> list[str]:
    """The answers that suggest a complication, in ``SYMPTOMS`` order then "pain": blisters,
    crusting, darker or lighter patches, anything else, swelling ``SWELLING_DAYS`` days or more
    after the session, and severe pain."""
    late = (answered_on - given_on).days >= SWELLING_DAYS
    signs = [
        name
        for name in SYMPTOMS
        if answers.get(name) == YES and (name in ALWAYS_SIGNS or (name == "swelling" and late))
    ]
    if answers.get("pain") == "severe":
        signs.append("pain")
    return signs
