"""Conditions compiled into matchers: functions of (answers, today), built
once per rule set, so evaluating a verdict stays cheap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .dates import age_on, shift_date
from .model import OUTCOME_RANK, Answers, Condition, Rule, RuleSet, Test

Matcher = Callable[[Answers, dt.date], "tuple[str, ...] | None"]
TestFn = Callable[[Answers, dt.date], bool]


def _compile_test(test: Test, question_type: str) -> TestFn:
    q = test.question
    if test.date_test is None:
        values = test.values
        if question_type == "multi":
            return lambda a, t: not values.isdisjoint(a.get(q) or ())
        return lambda a, t: a.get(q) in values
    amount = test.amount
    if test.date_test == "age_under":
        return lambda a, t: q in a and age_on(a[q], t) < amount
    unit = test.unit or "days"
    return lambda a, t: q in a and shift_date(a[q], unit, amount) > t


def compile_condition(condition: Condition, ruleset: RuleSet) -> Matcher:
    """Turn a condition into a function of (answers, today) returning the ids
    of the answers that make it hold, or None.

    Conditions are compiled once per rule set, so evaluating a verdict costs
    little more than a hand-written chain of ifs.
    """
    types = {q.id: q.type for q in ruleset.questions}
    tests = [_compile_test(t, types[t.question]) for t in condition.tests]
    groups = [[compile_condition(c, ruleset) for c in group] for group in condition.any_of]
    static = tuple(dict.fromkeys(t.question for t in condition.tests))
    wanted = condition.any_answer
    multi_offering = [q.id for q in ruleset.questions if q.type == "multi" and wanted in q.option_values]
    if not groups and wanted is None:
        if len(condition.tests) == 1 and condition.tests[0].date_test is None and types[static[0]] != "multi":
            # The common case, inlined: one answer compared with a set of values.
            q, values = static[0], condition.tests[0].values
            return lambda a, t: static if a.get(q) in values else None
        if len(tests) == 1:
            only = tests[0]
            return lambda a, t: static if only(a, t) else None
        return lambda a, t: static if all(f(a, t) for f in tests) else None

    def match(a: Answers, t: dt.date) -> tuple[str, ...] | None:
        for f in tests:
            if not f(a, t):
                return None
        fired = list(static)
        for group in groups:
            held = False
            for sub in group:
                ids = sub(a, t)
                if ids is not None:
                    held = True
                    fired.extend(ids)
            if not held:
                return None
        if wanted is not None:
            matching = [qid for qid, value in a.items() if value == wanted]
            # A ticked option of a multi question counts too.
            matching += [qid for qid in multi_offering if wanted in a.get(qid, ())]
            if not matching:
                return None
            fired.extend(matching)
        return tuple(dict.fromkeys(fired))

    return match


@dataclass(frozen=True)
class CompiledRules:
    # (rule, matcher, rank, question, values): for the common one-answer
    # rules, question and values let evaluate test inline, without a call.
    rules: tuple[tuple[Rule, Matcher, int, str | None, frozenset[str]], ...]
    show_if: Mapping[str, Matcher]
    # The rules with the outcome "note", (rule, matcher): they never rank.
    notes: tuple[tuple[Rule, Matcher], ...] = ()


def _single_test(rule: Rule, ruleset: RuleSet) -> tuple[str | None, frozenset[str]]:
    """(question, values) if the rule is just "this answer is one of these values"."""
    condition = rule.condition
    if condition.any_of or condition.any_answer is not None or len(condition.tests) != 1:
        return None, frozenset()
    test = condition.tests[0]
    if test.date_test is not None or ruleset.question_by_id[test.question].type == "multi":
        return None, frozenset()
    return test.question, test.values


# Keyed by id(); the rule set is kept in the value so the id cannot be reused.
_compiled_cache: dict[int, tuple[RuleSet, CompiledRules]] = {}


def compiled_rules(ruleset: RuleSet) -> CompiledRules:
    entry = _compiled_cache.get(id(ruleset))
    if entry is None or entry[0] is not ruleset:
        compiled = CompiledRules(
            rules=tuple(
                (
                    rule,
                    compile_condition(rule.condition, ruleset),
                    OUTCOME_RANK[rule.outcome],
                    *_single_test(rule, ruleset),
                )
                for rule in ruleset.rules
                if not rule.is_note
            ),
            notes=tuple((rule, compile_condition(rule.condition, ruleset)) for rule in ruleset.rules if rule.is_note),
            show_if={q.id: compile_condition(q.show_if, ruleset) for q in ruleset.questions if q.show_if is not None},
        )
        entry = _compiled_cache[id(ruleset)] = (ruleset, compiled)
    return entry[1]
