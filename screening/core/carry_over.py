"""Which answers may carry over to a returning patient's next screening.

A question carries over only when the rule file says so (``carry_over: true``)
and nothing says its answer goes stale: the file marks such questions
``time_sensitive: true``, a rule reading it with a waiting-period test
(``within_days`` and the like) counts time from it, and a follow-up is asked
only because of its parent's answer, so it may carry over only with its parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .checker import Checker
from .conditions import ConditionVisitor, fold_condition
from .model import Question, Rule, Test


class _WindowedQuestions(ConditionVisitor[set[str]]):
    def test(self, test: Test) -> set[str]:
        return {test.question} if test.unit else set()

    def any_of(self, parts: list[set[str]]) -> set[str]:
        return set().union(*parts)

    def any_answer(self, value: str) -> set[str]:
        return set()

    def all_of(self, parts: list[set[str]]) -> set[str]:
        return set().union(*parts)


def window_questions(rules: Iterable[Rule]) -> set[str]:
    """Ids of the questions some rule reads with a waiting-period test."""
    return set().union(*(fold_condition(rule.condition, _WindowedQuestions()) for rule in rules))


def check_carry_over(questions: list[Question], rules: list[Rule], check: Checker) -> None:
    """Refuse ``carry_over: true`` on a question whose answer goes stale, with the question's line."""
    by_id = {q.id: q for q in questions}
    windowed = window_questions(rules)
    for question in questions:
        if not question.carry_over:
            continue
        what = f"question '{question.id}'"
        if question.time_sensitive:
            check.problem(question.line, f"{what} is time_sensitive, so it cannot carry_over")
        if question.id in windowed:
            check.problem(
                question.line, f"{what}: a rule counts a waiting period from its answer, so it cannot carry_over"
            )
        parents = question.show_if.questions() if question.show_if else set()
        for parent in sorted(p for p in parents if p in by_id and not by_id[p].carry_over):
            check.problem(question.line, f"{what} is a follow-up of '{parent}', which does not carry_over")


def carried_answers(questions: Iterable[Question], answers: Mapping[str, Any]) -> dict[str, Any]:
    """The stored ``answers`` a returning patient is offered again: those of carry-over questions."""
    return {q.id: answers[q.id] for q in questions if q.carry_over and answers.get(q.id) not in (None, "", [])}
