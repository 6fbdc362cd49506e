"""Test patches: a procedure's ``patch_test:`` (which patients need one, when it is read,
how long a clear read-out counts) and the requirement a patient's answers give.

Entries are tried in file order and the first whose ``when`` holds applies, so the file
lists the strictest case first (darker skin with the longer read-out, then ``when: always``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .build_rules import build_condition
from .checker import Checker
from .matchers import compile_condition
from .model import PatchRequirement, PatchRule, Question, RuleSet
from .yaml_lines import LineDict

_PATCH_KEYS = ("when", "readout_hours", "readout_days", "valid_days", "source")
ALWAYS = "always"
# A read-out beyond 8 weeks or a validity beyond 2 years is a typing mistake.
MAX_READOUT_HOURS = 8 * 7 * 24
MAX_VALID_DAYS = 730
# ``when`` tests no dates (the loader refuses them), so the matcher's day is never read.
_NO_DAY = dt.date(2000, 1, 1)


def patch_requirement(ruleset: RuleSet, answers: Mapping[str, Any]) -> PatchRequirement | None:
    """The test patch the procedure requires of a patient with these cleaned answers, or None."""
    for rule in ruleset.procedure.patch_test:
        if rule.condition is None or compile_condition(rule.condition, ruleset)(dict(answers), _NO_DAY) is not None:
            return PatchRequirement(
                readout_hours=rule.readout_hours, valid_days=rule.valid_days, source=rule.source, line=rule.line
            )
    return None


def build_patch_test(item: LineDict, check: Checker, by_id: dict[str, Question], what: str) -> list[PatchRule]:
    """A procedure's ``patch_test:`` list, each entry checked with its line."""
    if "patch_test" not in item:
        return []
    rules: list[PatchRule] = []
    for entry in check.entries(item, "patch_test", "patch_test entry"):
        check.unknown_keys(entry, _PATCH_KEYS, f"{what} patch_test")
        problems = len(check.problems)
        when = entry.get("when")
        condition = None
        if when != ALWAYS:
            condition = build_condition(when, check.line_of(entry, "when"), check, by_id, f"{what} patch_test")
            if condition is not None and any(t.date_test for t in condition.tests):
                # Read on the day of a session, not of the screening: a date test would mean another day.
                check.problem(check.line_of(entry, "when"), f"{what} patch_test: 'when' cannot test dates")
        hours = _readout_hours(entry, check, what)
        days = entry.get("valid_days")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_VALID_DAYS:
            check.problem(
                check.line_of(entry, "valid_days"),
                f"{what} patch_test needs valid_days, a whole number from 1 to {MAX_VALID_DAYS}",
            )
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            check.problem(check.line_of(entry, "source"), f"{what} patch_test needs a 'source'")
        if len(check.problems) > problems or hours is None or not isinstance(days, int):
            continue
        rules.append(
            PatchRule(
                condition=condition, readout_hours=hours, valid_days=days, source=str(source).strip(), line=entry.line
            )
        )
    return rules


def _readout_hours(entry: LineDict, check: Checker, what: str) -> int | None:
    """``readout_hours: N`` or ``readout_days: N`` (one of them) as hours."""
    given = [key for key in ("readout_hours", "readout_days") if key in entry]
    if len(given) != 1:
        check.problem(entry.line, f"{what} patch_test needs one of readout_hours or readout_days")
        return None
    value = entry[given[0]]
    hours = value * 24 if given[0] == "readout_days" and isinstance(value, int) else value
    if isinstance(value, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_READOUT_HOURS:
        check.problem(
            check.line_of(entry, given[0]), f"{what} patch_test: {given[0]} must be a whole number, at most 8 weeks"
        )
        return None
    return hours
