"""Pure evaluation of answers against a rule set: no Flask, no I/O.

``screen(ruleset, answers, today)`` validates raw answers (from the form, the
API or the CLI alike), drops follow-ups that were not shown, and returns the
``Verdict``. Everything here depends only on its arguments, so the same
answers on the same day always give the same verdict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple

# The engine's public names, wherever they are implemented: callers import them from here.
from .answers import EARLIEST_DATE, MAX_AGE_YEARS, AnswerError, InvalidAnswers, clean_answers, visible_questions
from .dates import add_months, age_on, shift_date, years_before
from .matchers import Matcher, compile_condition, compiled_rules
from .model import Answers, Rescreen, RuleBook, RuleSet, pick_text
from .scores import ScoreItem, ScoreResult
from .scores import compute_scores as _compute_scores

__all__ = [
    "EARLIEST_DATE",
    "MAX_AGE_YEARS",
    "AnswerError",
    "Answers",
    "InvalidAnswers",
    "Matcher",
    "Reason",
    "ScoreItem",
    "ScoreResult",
    "Verdict",
    "add_months",
    "age_on",
    "answers_to_json",
    "clean_answers",
    "compile_condition",
    "compute_scores",
    "evaluate",
    "screen",
    "screen_each",
    "shift_date",
    "visible_questions",
    "years_before",
]


class Reason(NamedTuple):
    """A rule that fired, with the answers that made it fire (a tuple: cheap to build)."""

    rule: str
    outcome: str
    questions: tuple[str, ...]
    patient: Mapping[str, str]
    practitioner: Mapping[str, str]
    source: str
    rescreen_after: dt.date | None

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        """JSON-ready form; texts in ``language``, or every language if None."""
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "questions": list(self.questions),
            "patient": dict(self.patient) if language is None else pick_text(self.patient, language),
            "practitioner": dict(self.practitioner) if language is None else pick_text(self.practitioner, language),
            "source": self.source,
            "rescreen_after": self.rescreen_after.isoformat() if self.rescreen_after else None,
        }


class Verdict(NamedTuple):
    """The outcome of a screening.

    ``reasons`` are the rules that made ``status``; ``notes`` are the rules
    with the outcome "note" that fired: advice for the session (outcome
    "note", no re-screen date) that never changes ``status``.
    """

    status: str
    reasons: tuple[Reason, ...]
    rescreen_after: dt.date | None
    rules_version: str
    answers: Answers
    # The answers of the questions that play a role (see ``model.ROLES``), by role.
    roles: Mapping[str, Any]
    notes: tuple[Reason, ...] = ()

    def role_json(self, role: str) -> Any:
        """The answer playing ``role``, JSON-ready (dates as ISO strings), or None."""
        value = self.roles.get(role)
        return value.isoformat() if isinstance(value, dt.date) else value

    def as_dict(self, language: str | None = None, *, include_notes: bool = False) -> dict[str, Any]:
        """JSON-ready form, as the CLI and the API print it; ``include_notes`` adds "notes"."""
        data = {
            "status": self.status,
            "reasons": [r.as_dict(language) for r in self.reasons],
            "rescreen_after": self.rescreen_after.isoformat() if self.rescreen_after else None,
            "rules_version": self.rules_version,
        }
        if include_notes:
            data["notes"] = [n.as_dict(language) for n in self.notes]
        return data


def _rescreen_date(rescreen: Rescreen | None, answers: Answers, today: dt.date) -> dt.date | None:
    if rescreen is None:
        return None
    start = answers.get(rescreen.after, today) if rescreen.after else today
    return shift_date(start, rescreen.unit, rescreen.amount)


def evaluate(ruleset: RuleSet, answers: Answers, today: dt.date) -> Verdict:
    """The verdict for answers already cleaned by ``clean_answers``."""
    reasons = []
    worst, worst_rank = "eligible", 0
    compiled = compiled_rules(ruleset)
    for rule, matcher, rank, question, values in compiled.rules:
        if question is not None:
            if answers.get(question) not in values:
                continue
            ids: tuple[str, ...] = (question,)
        else:
            matched = matcher(answers, today)
            if matched is None:
                continue
            ids = matched
        if rank > worst_rank:
            worst, worst_rank = rule.outcome, rank
        # Positional arguments: this is the hot loop of every screening.
        reasons.append(
            Reason(
                rule.id,
                rule.outcome,
                ids,
                rule.patient,
                rule.practitioner,
                rule.source,
                _rescreen_date(rule.rescreen, answers, today) if rule.rescreen else None,
            )
        )
    deferrals = [r.rescreen_after for r in reasons if r.outcome == "deferred"]
    # An undated deferral (pregnancy, say) means no date can be promised, and
    # an ineligible patient must not be handed a date to come back on.
    dated = [d for d in deferrals if d is not None]
    rescreen_after = max(dated) if dated and len(dated) == len(deferrals) and worst != "ineligible" else None
    notes = []
    for rule, matcher in compiled.notes:
        matched = matcher(answers, today)
        if matched is not None:
            notes.append(Reason(rule.id, rule.outcome, matched, rule.patient, rule.practitioner, rule.source, None))
    return Verdict(
        status=worst,
        reasons=tuple(reasons),
        rescreen_after=rescreen_after,
        rules_version=ruleset.full_version,
        answers=answers,
        roles={role: answers.get(question_id) for role, question_id in ruleset.roles.items()},
        notes=tuple(notes),
    )


def screen(ruleset: RuleSet, raw_answers: Mapping[str, Any], today: dt.date) -> Verdict:
    """Validate ``raw_answers`` and evaluate them; raise ``InvalidAnswers``."""
    return evaluate(ruleset, clean_answers(ruleset, raw_answers, today), today)


def screen_each(
    book: RuleBook, procedures: list[str], raw_answers: Mapping[str, Any], today: dt.date
) -> dict[str, Verdict]:
    """One questionnaire answered for several procedures: the answers are checked against
    their combined questionnaire (``InvalidAnswers`` names every bad field), then each
    procedure is screened on the answers to the questions it asks; raise ``UnknownProcedure``."""
    clean_answers(book.combined(procedures), raw_answers, today)
    verdicts = {}
    for procedure in dict.fromkeys(procedures):
        ruleset = book.get(procedure)
        own = {key: value for key, value in raw_answers.items() if key in ruleset.question_by_id}
        verdicts[procedure] = screen(ruleset, own, today)
    return verdicts


def compute_scores(ruleset: RuleSet, answers: Mapping[str, Any]) -> list[ScoreResult]:
    """How each computed question of ``ruleset`` came about from these answers (raw or cleaned):
    the total, the value it gives and each item's answer and points, for staff."""
    return _compute_scores(ruleset.scores, ruleset.question_by_id, answers)


def answers_to_json(answers: Answers) -> dict[str, Any]:
    """Answers with dates as ISO strings, for storage and export."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in answers.items()}
