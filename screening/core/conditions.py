"""One walk over a ``Condition``, shared by every rendering of one.

The rules page describes conditions in words, the API sends them as JSON,
the FHIR Questionnaire as FHIRPath, the questionnaire's script as follow-up
triggers, and the engine compiles them into matchers: each is a
``ConditionVisitor`` and ``fold_condition`` does the walking, so the shape
of a condition (tests, "any" groups, ``any_answer``) is read in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from .model import Condition, Test

T = TypeVar("T")


class ConditionVisitor(ABC, Generic[T]):
    """What a rendering of a condition does with each of its parts."""

    @abstractmethod
    def test(self, test: Test) -> T:
        """One test on one answer."""

    @abstractmethod
    def any_of(self, parts: list[T]) -> T:
        """A group of which at least one must hold."""

    @abstractmethod
    def any_answer(self, value: str) -> T:
        """Some answer equals ``value``."""

    @abstractmethod
    def all_of(self, parts: list[T]) -> T:
        """Every part holds (the condition itself)."""


def fold_condition(condition: Condition, visitor: ConditionVisitor[T]) -> T:
    """Render ``condition`` with ``visitor``, parts in file order: tests, groups, ``any_answer``."""
    parts = [visitor.test(test) for test in condition.tests]
    parts += [visitor.any_of([fold_condition(sub, visitor) for sub in group]) for group in condition.any_of]
    if condition.any_answer is not None:
        parts.append(visitor.any_answer(condition.any_answer))
    return visitor.all_of(parts)


class _Words(ConditionVisitor[str]):
    def test(self, test: Test) -> str:
        if test.date_test == "age_under":
            return f"{test.question} is less than {test.amount} years ago"
        if test.unit:
            return f"{test.question} is less than {test.amount} {test.unit} ago"
        values = sorted(test.values)
        if len(values) == 1:
            return f'{test.question} is "{values[0]}"'
        return f"{test.question} is one of " + ", ".join(f'"{v}"' for v in values)

    def any_of(self, parts: list[str]) -> str:
        return "(" + " or ".join(parts) + ")"

    def any_answer(self, value: str) -> str:
        return f'any answer is "{value}"'

    def all_of(self, parts: list[str]) -> str:
        return " and ".join(parts)


def describe_condition(condition: Condition) -> str:
    """The condition in words with question ids (the CLI and logs)."""
    return fold_condition(condition, _Words())


def simple_trigger(condition: Condition) -> dict[str, list[str]] | None:
    """For a condition made only of answer-value tests, {question: values}; else None.

    The questionnaire's script shows a follow-up as its trigger is ticked; any
    other condition is left to the server, which decides after submission.
    """
    if condition.any_of or condition.any_answer is not None or not condition.tests:
        return None
    if any(test.date_test for test in condition.tests):
        return None
    return {test.question: sorted(test.values) for test in condition.tests}
