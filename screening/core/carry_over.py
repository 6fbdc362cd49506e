"""Which answers may carry over to a returning patient's next screening.

A question carries over only when the rule file says so (``carry_over: true``)
and nothing says its answer goes stale: the file marks such questions
``time_sensitive: true``, a rule reading it with a waiting-period test
(``within_days`` and the like) counts time from it, and a follow-up is asked
only because of its parent's answer, so it may carry over only with its parent.
A question a deferring or excluding rule reads carries over only when the file
declares it lifelong history (``lifelong: true``): a carried "no" to a current
state that has since become "yes" would clear a patient the rule must stop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .checker import Checker
from .conditions import ConditionVisitor, fold_condition
from .model import Question, Rule, Test

# The outcomes that stop a patient: a stale answer to a question they read is never carried.
_STOPPING_OUTCOMES = ("deferred", "ineligible")


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


class _ReadQuestions(ConditionVisitor[set[str]]):
    def __init__(self, every_question: set[str]):
        self.every_question = every_question

    def test(self, test: Test) -> set[str]:
        return {test.question}

    def any_of(self, parts: list[set[str]]) -> set[str]:
        return set().union(*parts)

    def any_answer(self, value: str) -> set[str]:
        return self.every_question

    def all_of(self, parts: list[set[str]]) -> set[str]:
        return set().union(*parts)


def stopping_rules_by_question(questions: Iterable[Question], rules: Iterable[Rule]) -> dict[str, list[str]]:
    """For each question a deferring or excluding rule reads, those rules' ids (file order)."""
    visitor = _ReadQuestions({q.id for q in questions})
    readers: dict[str, list[str]] = {}
    for rule in rules:
        if rule.outcome in _STOPPING_OUTCOMES:
            read: set[str] = fold_condition(rule.condition, visitor)
            for question_id in sorted(read):
                readers.setdefault(question_id, []).append(rule.id)
    return readers


def check_carry_over(questions: list[Question], rules: list[Rule], check: Checker) -> None:
    """Refuse ``carry_over: true`` on a question whose answer goes stale, with the question's line."""
    by_id = {q.id: q for q in questions}
    windowed = window_questions(rules)
    stopping = stopping_rules_by_question(questions, rules)
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
        elif question.id in stopping and not question.lifelong and not question.time_sensitive:
            names = ", ".join(f"'{rule}'" for rule in stopping[question.id])
            check.problem(
                question.line,
                f"{what} is read by the deferring or excluding rule(s) {names}, so it cannot carry_over "
                "unless it is lifelong history (lifelong: true)",
            )
        parents = question.show_if.questions() if question.show_if else set()
        for parent in sorted(p for p in parents if p in by_id and not by_id[p].carry_over):
            check.problem(question.line, f"{what} is a follow-up of '{parent}', which does not carry_over")


def carried_answers(questions: Iterable[Question], answers: Mapping[str, Any]) -> dict[str, Any]:
    """The stored ``answers`` a returning patient is offered again: those of carry-over questions."""
    return {q.id: answers[q.id] for q in questions if q.carry_over and answers.get(q.id) not in (None, "", [])}
