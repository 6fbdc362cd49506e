"""A screening's answers as the practitioner reads them: labels in the
reader's language, the rules each answer made fire, the answers a
re-confirmation changed, and the screening's history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.engine import InvalidAnswers, clean_answers, compute_scores, visible_questions
from ..core.model import Question, RuleSet, pick_text
from ..web.i18n import format_iso_date
from .clock import answered_on

# Shown for an answer that was not given.
NO_ANSWER = "—"


def answer_label(question: Question, value: Any, language: str) -> str:
    """An answer as the questionnaire offered it, in the reader's language."""
    if question.type == "date":
        try:
            return format_iso_date(value)
        except (TypeError, ValueError):  # stored under an older rule file
            return str(value)
    labels = {o.value: pick_text(o.label, language) for o in question.options}
    values = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(v, str(v)) for v in values)


def _given(value: Any) -> bool:
    return value not in (None, "", [])


def _raw_label(value: Any) -> str:
    # An answer to a question the rule file no longer has: no options to name it by.
    return ", ".join(value) if isinstance(value, list) else str(value)


def answer_rows(screening: Mapping[str, Any], ruleset: RuleSet, language: str) -> list[dict[str, Any]]:
    """Every answer in questionnaire order, with the rules it made fire;
    then answers to questions the rule file no longer has."""
    answers: dict[str, Any] = screening["answers"]
    fired: dict[str, list[str]] = {}
    for reason in screening["reasons"]:
        for question_id in reason["questions"]:
            fired.setdefault(question_id, []).append(reason["rule"])
    day = answered_on(screening)
    try:
        # The answers as the engine reads them, to tell follow-ups not asked.
        parsed = clean_answers(ruleset, answers, day, partial=True)
    except InvalidAnswers:  # stored under an older rule file
        parsed = {}
    shown = visible_questions(ruleset, parsed, day)
    # A computed answer (``scores:``) is shown with the total it came from, so staff can
    # weigh a self-assessment against what they see.
    totals = {r.computes: r.total for r in compute_scores(ruleset, answers) if r.total is not None}
    rows = []
    for question in ruleset.questions:
        value = answers.get(question.id)
        rows.append(
            {
                "id": question.id,
                "text": pick_text(question.text, language),
                "answered": _given(value),
                "asked": question.id in shown or question.id in answers,
                "label": answer_label(question, value, language) if _given(value) else "",
                "rules": fired.get(question.id, []),
                "follow_up": question.show_if is not None,
                "score_total": totals.get(question.id),
            }
        )
    for key, value in answers.items():
        if key not in ruleset.question_by_id:
            rows.append(
                {
                    "id": key,
                    "text": key,
                    "answered": True,
                    "asked": True,
                    "label": _raw_label(value),
                    "rules": fired.get(key, []),
                    "follow_up": False,
                    "removed": True,
                }
            )
    return rows


def _label(ruleset: RuleSet, question_id: str, value: Any, language: str) -> str:
    if not _given(value):
        return NO_ANSWER
    question = ruleset.question_by_id.get(question_id)
    if question is None:
        return _raw_label(value)
    return answer_label(question, value, language)


def answer_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], ruleset: RuleSet, language: str
) -> list[tuple[str, str, str]]:
    """(question, old answer, new answer) for every answer that differs."""
    order = [q.id for q in ruleset.questions]
    keys = order + sorted((set(before) | set(after)) - set(order))
    texts = {q.id: pick_text(q.text, language) for q in ruleset.questions}
    return [
        (
            texts.get(key, key),
            _label(ruleset, key, before.get(key), language),
            _label(ruleset, key, after.get(key), language),
        )
        for key in keys
        if before.get(key) != after.get(key)
    ]


def history(
    screening: Mapping[str, Any],
    reviews: Sequence[Mapping[str, Any]],
    reconfirmations: Sequence[Mapping[str, Any]],
    ruleset: RuleSet,
    language: str,
) -> list[dict[str, Any]]:
    """Decisions and re-confirmations, newest first, ending with the screening itself.

    Each re-confirmation shows the answers it changed: its own copy of the
    answers before, against the next one's (or the current answers).
    """
    # The newest decision is the current one unless a changed verdict set it aside.
    entries: list[dict[str, Any]] = [
        {**r, "kind": "review", "at": r["created_at"], "current": index == 0 and bool(screening["reviewed"])}
        for index, r in enumerate(reviews)
    ]
    ascending = list(reversed(reconfirmations))
    for index, entry in enumerate(ascending):
        after = ascending[index + 1]["previous_answers"] if index + 1 < len(ascending) else screening["answers"]
        changes = answer_changes(entry["previous_answers"], after, ruleset, language)
        entries.append({**entry, "kind": "reconfirmation", "at": entry["created_at"], "changes": changes})
    entries.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    original = ascending[0]["previous_status"] if ascending else screening["status"]
    entries.append(
        {"kind": "screened", "at": screening["created_at"], "source": screening["source"], "status": original}
    )
    return entries
