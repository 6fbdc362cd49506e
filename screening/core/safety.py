"""Safety checks on a whole rule set: no follow-up loops, "unsure" is never
cleared, and a patient can say "unsure" to every question a rule reads."""

from __future__ import annotations

from .checker import Checker
from .model import NONE_OPTION, NOTE, UNSURE, Condition, Question, Rule
from .yaml_lines import LineDict


def check_follow_up_loops(questions: list[Question], check: Checker) -> None:
    """Refuse follow-up chains that loop (A shown if B, B shown if A)."""
    depends = {q.id: (q.show_if.questions() if q.show_if else set()) for q in questions}
    lines = {q.id: q.line for q in questions}
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(depends.get(node, ())):
            if nxt in path:
                loop = path[path.index(nxt) :]
                key = frozenset(loop)
                if key not in reported:
                    reported.add(key)
                    chain = " -> ".join([*loop, nxt])
                    check.problem(lines[loop[0]], f"follow-up questions loop: {chain} (show_if refers back)")
                continue
            visit(nxt, [*path, nxt])

    for question in questions:
        visit(question.id, [question.id])


def check_unsure_is_never_cleared(questions: list[Question], rules: list[Rule], data: LineDict, check: Checker) -> None:
    """Safety: if patients can answer "unsure", some rule must send any such
    answer at least to review; otherwise an unsure patient could be cleared."""
    if not any(UNSURE in q.option_values for q in questions):
        return
    for rule in rules:
        cond = rule.condition
        if cond.any_answer == UNSURE and not cond.tests and not cond.any_of and rule.outcome not in ("eligible", NOTE):
            return
    check.problem(
        check.line_of(data, "rules"),
        f'questions offer "{UNSURE}", but no rule sends it to review: add a rule with '
        f"when: {{any_answer: {UNSURE}}} and outcome: review",
    )


def rule_inputs(questions: list[Question], rules: list[Rule]) -> dict[str, set[str] | None]:
    """Question id -> the option values rules test on it, for every question a
    rule reads; None for a follow-up trigger that decides whether such a
    question is asked (read by ``show_if``, not by a rule)."""
    by_id = {q.id: q for q in questions}
    inputs: dict[str, set[str] | None] = {}

    def add(condition: Condition) -> None:
        for test in condition.tests:
            values = inputs.setdefault(test.question, set())
            if values is not None:
                values.update(test.values)
        for group in condition.any_of:
            for sub in group:
                add(sub)

    for rule in rules:
        add(rule.condition)
    pending = list(inputs)
    while pending:
        question = by_id.get(pending.pop())
        if question is not None and question.show_if is not None:
            for trigger in sorted(question.show_if.questions()):
                if trigger not in inputs:
                    inputs[trigger] = None
                    pending.append(trigger)
    return inputs


def check_rule_inputs_offer_unsure(questions: list[Question], rules: list[Rule], check: Checker) -> None:
    """Safety: a patient can say "I'm not sure" to every question a rule reads.

    "Reads" includes the follow-up triggers of a question a rule reads: they
    decide whether it is asked. A choice question offers "unsure" unless it
    declares ``unsure_exempt``. A multi question is required and offers "none"
    and "unsure" (unless exempt), so nothing left blank clears the patient; if
    a rule reads it, a rule reads each of its other options too, so nothing
    ticked is ignored. A date question has no options: the question it follows
    from offers "unsure", and an approximate date is an answer.
    """
    inputs = rule_inputs(questions, rules)
    for question in questions:
        if question.id not in inputs or question.type == "date":
            continue
        what = f"question '{question.id}'"
        values = question.option_values
        if UNSURE not in values and question.unsure_exempt is None:
            check.problem(
                question.line,
                f'{what} is read by a rule but offers no "{UNSURE}" option: add '
                f'{{value: {UNSURE}, label: ...}}, or say why not with unsure_exempt: "..."',
            )
        if question.type != "multi":
            continue
        if not question.required:
            check.problem(
                question.line,
                f"{what} is a multi question that rules read: it must be required "
                f"(required: true), or an unticked list would clear the patient",
            )
        if NONE_OPTION not in values:
            check.problem(
                question.line,
                f'{what} is a multi question that rules read: it needs a "{NONE_OPTION}" option ("None of these")',
            )
        read = inputs[question.id]
        ignored = [o.value for o in question.options if o.value not in (NONE_OPTION, UNSURE)]
        ignored = [v for v in ignored if read is not None and v not in read]
        if ignored:
            check.problem(
                question.line,
                f"{what}: no rule reads the option(s) {', '.join(ignored)}; in a multi question that rules "
                "read, every option must be a rule input (or be none/unsure)",
            )
