"""Computed questions (``scores:`` in the rule file): a question whose "not sure" answer is
worked out from a scored self-assessment, e.g. the Fitzpatrick skin type from its ten items.

``build_scores`` validates the section with its lines; ``apply_scores`` is the step of
answer cleaning that replaces the trigger answer by the band the total gives, when every
item is answered (a missing or "not sure" item leaves the trigger, which goes to review);
``compute_scores`` shows staff how a computed answer came about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checker import Checker
from .model import UNSURE, Answers, Band, Question, Score
from .yaml_lines import LineDict, LineList

_SCORE_KEYS = ("id", "computes", "when", "questions", "bands", "source")


@dataclass(frozen=True)
class ScoreItem:
    """One answered item of a score: the question, the chosen option and its points (None: unscored)."""

    question: str
    value: Any
    points: int | None


@dataclass(frozen=True)
class ScoreResult:
    """A score as the answers give it: ``total`` and ``value`` are None until every item has a scored answer."""

    score: str
    computes: str
    total: int | None
    value: str | None
    items: tuple[ScoreItem, ...]


def compute_scores(
    scores: tuple[Score, ...], by_id: Mapping[str, Question], answers: Mapping[str, Any]
) -> list[ScoreResult]:
    """Each score whose items the answers (raw or cleaned) hold at least one answer of."""
    results = []
    for score in scores:
        items = []
        for question_id in score.items:
            if question_id not in answers or answers[question_id] in (None, ""):
                continue
            value = answers[question_id]
            points = next((o.score for o in by_id[question_id].options if o.value == value), None)
            items.append(ScoreItem(question_id, value, points))
        if not items:
            continue
        complete = len(items) == len(score.items) and all(item.points is not None for item in items)
        total = sum(item.points or 0 for item in items) if complete else None
        results.append(
            ScoreResult(
                score=score.id,
                computes=score.computes,
                total=total,
                value=score.band_value(total) if total is not None else None,
                items=tuple(items),
            )
        )
    return results


def apply_scores(scores: tuple[Score, ...], by_id: Mapping[str, Question], answers: Answers) -> None:
    """Replace each trigger answer (``when``) by the value its complete score gives, in place."""
    for result in compute_scores(scores, by_id, answers):
        score = next(s for s in scores if s.id == result.score)
        if result.value is not None and answers.get(score.computes) == score.when:
            answers[score.computes] = result.value


def build_scores(data: LineDict, check: Checker, questions: list[Question]) -> list[Score]:
    """The ``scores:`` section, every problem with its line; options carrying ``score:`` belong to an item."""
    by_id = {q.id: q for q in questions}
    scores: list[Score] = []
    seen: set[str] = set()
    items_seen: dict[str, str] = {}
    if "scores" in data:
        for item in check.entries(data, "scores", "score"):
            score_id, what = check.head(item, "score", _SCORE_KEYS)
            score = _build_score(item, check, what, score_id, by_id, items_seen)
            if score is not None and check.is_new(score_id, item, seen, "score"):
                scores.append(score)
    for question in questions:
        if question.id not in items_seen and any(o.score is not None for o in question.options):
            check.problem(
                question.line,
                f"question '{question.id}' has options with a score, but no score lists it under 'questions'",
            )
    return scores


def _build_score(
    item: LineDict,
    check: Checker,
    what: str,
    score_id: str | None,
    by_id: Mapping[str, Question],
    items_seen: dict[str, str],
) -> Score | None:
    problems = len(check.problems)
    computes = by_id.get(str(item.get("computes")))
    if computes is None or computes.type != "choice":
        check.problem(check.line_of(item, "computes"), f"{what}: 'computes' must name a choice question")
    when = str(item.get("when", UNSURE))
    if computes is not None and when not in computes.option_values:
        check.problem(check.line_of(item, "when"), f"{what}: question '{computes.id}' has no option '{when}'")
    entries = check.sequence(item.get("questions"), check.line_of(item, "questions"), f"{what} questions")
    items: list[str] = []
    for index, entry in enumerate(entries or []):
        line = check.line_of(entries, index)
        question = by_id.get(str(entry))
        if question is None or question.type != "choice":
            check.problem(line, f"{what}: {entry!r} is not a choice question")
            continue
        if str(entry) in items_seen or (computes is not None and question.id == computes.id):
            check.problem(line, f"{what}: question '{question.id}' is already scored")
            continue
        items_seen[question.id] = score_id or ""
        items.append(question.id)
        _check_item(question, computes, when, check, what)
    if entries is not None and not items:
        check.problem(check.line_of(item, "questions"), f"{what} lists no questions")
    bands = _build_bands(item, check, what, computes, when)
    source = item.get("source")
    if not isinstance(source, str) or not source.strip():
        check.problem(
            check.line_of(item, "source"), f"{what} needs a 'source': the form and its bands, with its version"
        )
        source = ""
    if len(check.problems) > problems or score_id is None or computes is None:
        return None
    return Score(
        id=score_id,
        computes=computes.id,
        when=when,
        items=tuple(items),
        bands=tuple(bands),
        source=source.strip(),
        line=item.line,
    )


def _check_item(question: Question, computes: Question | None, when: str, check: Checker, what: str) -> None:
    """An item scores every option but "unsure" and is shown only when the computed question is ``when``."""
    unscored = [o.value for o in question.options if o.score is None and o.value != UNSURE]
    if unscored:
        check.problem(
            question.line, f"{what}: question '{question.id}' has options without a score: {', '.join(unscored)}"
        )
    if UNSURE not in question.option_values:
        check.problem(question.line, f"{what}: question '{question.id}' must offer \"{UNSURE}\"")
    shown = question.show_if
    expected = computes is not None and (
        shown is not None
        and not shown.any_of
        and shown.any_answer is None
        and [(t.question, t.values) for t in shown.tests] == [(computes.id, frozenset({when}))]
    )
    if computes is not None and not expected:
        check.problem(
            question.line,
            f"{what}: question '{question.id}' must be shown only then: show_if: {{{computes.id}: {when}}}",
        )


def _build_bands(
    item: LineDict,
    check: Checker,
    what: str,
    computes: Question | None,
    when: str,
) -> list[Band]:
    """``bands: [{max: 7, value: I}, ..., {value: V}]``: rising maxima, the last band without one."""
    entries = check.sequence(item.get("bands"), check.line_of(item, "bands"), f"{what} bands")
    bands: list[Band] = []
    if not isinstance(entries, LineList):
        return bands
    for index, entry in enumerate(entries):
        line = check.line_of(entries, index)
        band = check.mapping(entry, line, f"{what} band")
        if band is None:
            continue
        check.unknown_keys(band, ("max", "value"), f"{what} band")
        value = str(band.get("value"))
        if computes is not None and (value not in computes.option_values or value == when):
            check.problem(
                check.line_of(band, "value"),
                f"{what} band: {value!r} must be an answer of '{computes.id}' other than {when}",
            )
        last = index == len(entries) - 1
        top = band.get("max")
        if last and top is not None:
            check.problem(
                check.line_of(band, "max"), f"{what}: the last band takes every higher total: leave out 'max'"
            )
            top = None
        elif not last and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
            check.problem(check.line_of(band, "max"), f"{what} band needs 'max', the highest total it takes")
            continue
        elif bands and top is not None and bands[-1].max is not None and top <= bands[-1].max:
            check.problem(check.line_of(band, "max"), f"{what} bands must rise: {top} is not above {bands[-1].max}")
        bands.append(Band(max=top, value=value))
    if not bands:
        check.problem(check.line_of(item, "bands"), f"{what} has no bands")
    return bands
