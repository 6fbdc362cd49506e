"""Words instead of identifiers where staff read them: rule titles, conditions
with the questions' texts and the options' labels, audit actions and details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from ..core.conditions import ConditionVisitor, fold_condition
from ..core.model import Condition, Rescreen, Rule, RuleSet, Test, pick_text
from ..web.audit import ACTION_LABELS
from ..web.i18n import current_language
from ..web.ruleset import get_ruleset
from .blueprint import bp
from .forms import OUTCOME_LABELS, OVERRIDE_REASONS


def _(text: str, **variables: Any) -> str:
    """``gettext``, typed as the text it returns."""
    return str(gettext(text, **variables))


# A title longer than this is cut at its first parenthesis ("Photosensitising medication (e.g. ...)").
TITLE_MAX = 60


def rule_title(rule: Rule, language: str) -> str:
    """A rule's short title in ``language``.

    The rule file has no title field; every practitioner text opens with a
    short heading before its first colon ("Pregnancy: elective laser ..."),
    so that heading is the title, and the id (in words) when there is none.
    """
    text = pick_text(rule.practitioner, language)
    head = text.split(": ", 1)[0].split(" — ", 1)[0].strip()
    if head == text.strip() or not head:
        return rule.id.replace("_", " ").capitalize()
    if len(head) > TITLE_MAX and " (" in head:
        head = head.split(" (", 1)[0]
    return head


_titles: dict[tuple[str, str, str], dict[str, str]] = {}


def rule_titles(ruleset: RuleSet, language: str) -> dict[str, str]:
    """Every rule's title by its id (built once per rule file and language)."""
    # The procedures of one file share its digest: each has its own rules.
    key = (ruleset.digest, ruleset.procedure.id, language)
    if key not in _titles:
        _titles[key] = {rule.id: rule_title(rule, language) for rule in ruleset.rules}
    return _titles[key]


def unit_word(unit: str) -> str:
    """ "days", "weeks" or "months" in the reader's language."""
    return str({"days": _l("days"), "weeks": _l("weeks"), "months": _l("months")}.get(unit, unit))


class _Readable(ConditionVisitor[str]):
    """A condition as staff read it: “Are you pregnant?” is “Yes”."""

    def __init__(self, ruleset: RuleSet, language: str):
        self.ruleset = ruleset
        self.language = language

    def _question(self, question_id: str) -> str:
        question = self.ruleset.question_by_id.get(question_id)
        return f"“{pick_text(question.text, self.language)}”" if question else question_id

    def _label(self, question_id: str, value: str) -> str:
        question = self.ruleset.question_by_id.get(question_id)
        labels = {o.value: pick_text(o.label, self.language) for o in question.options} if question else {}
        return f"“{labels.get(value, value)}”"

    def test(self, test: Test) -> str:
        question = self._question(test.question)
        if test.date_test == "age_under":
            return _("%(question)s gives an age under %(years)d", question=question, years=test.amount)
        if test.unit:
            return _(
                "%(question)s is less than %(amount)d %(unit)s ago",
                question=question,
                amount=test.amount,
                unit=unit_word(test.unit),
            )
        labels = [self._label(test.question, value) for value in sorted(test.values)]
        if len(labels) == 1:
            return _("%(question)s is %(answer)s", question=question, answer=labels[0])
        return _("%(question)s is one of %(answers)s", question=question, answers=", ".join(labels))

    def any_of(self, parts: list[str]) -> str:
        return "(" + _(" or ").join(parts) + ")"

    def any_answer(self, value: str) -> str:
        labels = {o.label.get(self.language, "") for q in self.ruleset.questions for o in q.options if o.value == value}
        label = sorted(labels)[0] if labels else value
        return _("any answer is “%(answer)s”", answer=label)

    def all_of(self, parts: list[str]) -> str:
        return _(" and ").join(parts)


def condition_text(condition: Condition, ruleset: RuleSet, language: str) -> str:
    """A condition in words, with question texts and option labels instead of ids."""
    return fold_condition(condition, _Readable(ruleset, language))


def rescreen_text(rescreen: Rescreen, ruleset: RuleSet, language: str) -> str:
    """A deferral's waiting period in words: "6 months after “When did you stop…?”"."""
    if rescreen.after:
        question = ruleset.question_by_id.get(rescreen.after)
        after = f"“{pick_text(question.text, language)}”" if question else rescreen.after
        return _(
            "%(amount)d %(unit)s after the answer to %(question)s",
            amount=rescreen.amount,
            unit=unit_word(rescreen.unit),
            question=after,
        )
    return _("%(amount)d %(unit)s after the screening", amount=rescreen.amount, unit=unit_word(rescreen.unit))


DETAIL_KEYS = {
    "verdict": _l("verdict"),
    "status": _l("decision"),
    "previous_status": _l("verdict before"),
    "reason": _l("reason"),
    "answers_changed": _l("answers changed"),
    "verdict_changed": _l("verdict changed"),
    "search": _l("with a search"),
    "format": _l("format"),
    "name": _l("name"),
    "older_than_days": _l("older than (days)"),
    "failures": _l("failed attempts"),
    "minutes": _l("minutes"),
}


def audit_action_label(action: str) -> str:
    """What an audit action means, in words (the action itself if it is new)."""
    return str(ACTION_LABELS.get(action, action))


def audit_details_text(details: Mapping[str, Any]) -> str:
    """An audit row's details in words: "answers changed: no, verdict changed: no"."""
    parts = []
    for key, value in details.items():
        if isinstance(value, bool):
            shown = _("yes") if value else _("no")
        elif key in ("verdict", "status", "previous_status") and value in OUTCOME_LABELS:
            shown = str(OUTCOME_LABELS[value])
        elif key == "reason" and value in OVERRIDE_REASONS:
            shown = str(OVERRIDE_REASONS[value])
        else:
            shown = str(value)
        parts.append(f"{DETAIL_KEYS.get(key, key.replace('_', ' '))}: {shown}")
    return ", ".join(parts)


@bp.context_processor
def word_helpers() -> dict[str, Any]:
    """Rule titles, conditions, audit actions and details in words, for the workspace's templates."""
    ruleset = get_ruleset(current_app)
    language = current_language()
    return {
        "rule_titles": rule_titles(ruleset, language),
        "condition_text": lambda condition: condition_text(condition, ruleset, language),
        "rescreen_text": lambda rescreen: rescreen_text(rescreen, ruleset, language),
        "audit_action_label": audit_action_label,
        "audit_details_text": audit_details_text,
    }
