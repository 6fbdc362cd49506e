"""The rules part of the rule file: rules, their conditions and tests,
re-screen periods and clinical codes, each checked with its line."""

from __future__ import annotations

from typing import Any

from .checker import Checker
from .model import DATE_TESTS, NOTE, RESCREEN_UNITS, RULE_OUTCOMES, Coding, Condition, Question, Rescreen, Rule, Test
from .yaml_lines import LineDict

_RULE_KEYS = ("id", "when", "outcome", "rescreen", "patient", "practitioner", "source", "code")


def build_rules(data: LineDict, check: Checker, by_id: dict[str, Question]) -> list[Rule]:
    """Every rule, with its condition, outcome, texts, re-screen period and code."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for item in check.entries(data, "rules", "rule"):
        rule_id, what = check.head(item, "rule", _RULE_KEYS)
        if rule_id is not None and rule_id in seen:
            check.problem(check.line_of(item, "id"), f"duplicate rule id '{rule_id}'")
        if "when" not in item:
            check.problem(item.line, f"{what} has no 'when' condition")
            condition = None
        else:
            condition = build_condition(item["when"], check.line_of(item, "when"), check, by_id, what)
        outcome = item.get("outcome")
        if outcome not in RULE_OUTCOMES:
            check.problem(
                check.line_of(item, "outcome"),
                f"{what} has an unknown outcome {outcome!r}; use one of: {', '.join(RULE_OUTCOMES)}",
            )
        # A note's patient text is optional: not every note is for the patient.
        patient = check.text(item, "patient", what, required=outcome != NOTE)
        practitioner = check.text(item, "practitioner", what)
        source = item.get("source")
        if not isinstance(source, str) or not source.strip():
            check.problem(check.line_of(item, "source"), f"{what} has no 'source' saying where the rule comes from")
            source = ""
        rescreen = None
        if "rescreen" in item:
            rescreen = _build_rescreen(item["rescreen"], check.line_of(item, "rescreen"), check, by_id, what)
            if outcome != "deferred":
                check.problem(
                    check.line_of(item, "rescreen"), f"{what}: only a deferred rule can have a rescreen period"
                )
        code = _build_coding(item["code"], check.line_of(item, "code"), check, what) if "code" in item else None
        if rule_id is None or rule_id in seen or condition is None:
            continue
        seen.add(rule_id)
        rules.append(
            Rule(
                id=rule_id,
                condition=condition,
                outcome=str(outcome),
                patient=patient or {},
                practitioner=practitioner or {},
                rescreen=rescreen,
                source=source.strip(),
                line=item.line,
                code=code,
            )
        )
    return rules


def _build_coding(value: Any, line: int, check: Checker, what: str) -> Coding | None:
    """A rule's clinical code: ``{system: http://snomed.info/sct, code: "77386006", display: Pregnant}``."""
    item = check.mapping(value, line, f"{what} code")
    if item is None:
        return None
    check.unknown_keys(item, ("system", "code", "display"), f"{what} code")
    parts = {key: item.get(key) for key in ("system", "code", "display")}
    for key, part in parts.items():
        if not isinstance(part, str) or not part.strip():
            check.problem(check.line_of(item, key), f"{what} code needs a '{key}' text")
            return None
    if not str(parts["system"]).startswith(("http://", "https://", "urn:")):
        check.problem(check.line_of(item, "system"), f"{what} code system must be a URI, e.g. http://snomed.info/sct")
        return None
    return Coding(system=str(parts["system"]), code=str(parts["code"]), display=str(parts["display"]))


def _build_rescreen(value: Any, line: int, check: Checker, by_id: dict[str, Question], what: str) -> Rescreen | None:
    item = check.mapping(value, line, f"{what} rescreen")
    if item is None:
        return None
    units = [key for key in item if key in RESCREEN_UNITS]
    for key in item:
        if key not in RESCREEN_UNITS and key != "after":
            check.problem(
                item.key_lines[key],
                f"{what} rescreen has an unknown key '{key}' "
                f"(use one of {', '.join(RESCREEN_UNITS)}, and optionally after)",
            )
    if len(units) != 1:
        check.problem(line, f"{what} rescreen needs exactly one of {', '.join(RESCREEN_UNITS)}")
        return None
    amount = item[units[0]]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        check.problem(item.key_lines[units[0]], f"{what} rescreen {units[0]} must be a whole number above 0")
        return None
    after = item.get("after")
    if after is not None:
        question = by_id.get(str(after))
        if question is None:
            check.problem(item.key_lines["after"], f"{what} rescreen counts from an unknown question '{after}'")
            return None
        if question.type != "date":
            check.problem(
                item.key_lines["after"], f"{what} rescreen counts from '{after}', which is not a date question"
            )
            return None
    return Rescreen(unit=units[0], amount=amount, after=str(after) if after is not None else None)


def build_condition(value: Any, line: int, check: Checker, by_id: dict[str, Question], what: str) -> Condition | None:
    """A ``when:`` or ``show_if:`` mapping as a ``Condition``, or None when it is wrong."""
    item = check.mapping(value, line, f"{what} condition")
    if item is None:
        return None
    if not item:
        check.problem(line, f"{what} condition is empty")
        return None
    tests: list[Test] = []
    groups: list[tuple[Condition, ...]] = []
    any_answer: str | None = None
    ok = True
    for key, expected in item.items():
        key_line = item.key_lines[key]
        if key == "any":
            entries = check.sequence(expected, key_line, f"{what} 'any'")
            if not entries:
                if entries is not None:
                    check.problem(key_line, f"{what} 'any' needs at least one condition")
                ok = False
                continue
            group = [
                build_condition(sub, check.line_of(entries, i), check, by_id, what) for i, sub in enumerate(entries)
            ]
            if any(c is None for c in group):
                ok = False
                continue
            groups.append(tuple(c for c in group if c is not None))
        elif key == "any_answer":
            if not isinstance(expected, (str, int)):
                check.problem(key_line, f"{what} 'any_answer' must be a single value")
                ok = False
                continue
            any_answer = str(expected)
            if not any(any_answer in q.option_values for q in by_id.values()):
                check.problem(key_line, f"{what} 'any_answer' names '{any_answer}', which no question offers")
                ok = False
        else:
            test = _build_test(key, expected, key_line, check, by_id, what)
            if test is None:
                ok = False
            else:
                tests.append(test)
    if not ok:
        return None
    return Condition(tests=tuple(tests), any_of=tuple(groups), any_answer=any_answer)


def _build_test(
    key: str, expected: Any, line: int, check: Checker, by_id: dict[str, Question], what: str
) -> Test | None:
    question = by_id.get(key)
    if question is None:
        check.problem(line, f"{what} names an unknown question '{key}'")
        return None
    if isinstance(expected, LineDict):
        tests = [k for k in expected if k in DATE_TESTS]
        if len(expected) != 1 or len(tests) != 1:
            check.problem(line, f"{what}: a test on '{key}' must be one of {', '.join(DATE_TESTS)}")
            return None
        name = tests[0]
        amount = expected[name]
        if question.type != "date":
            check.problem(line, f"{what}: '{name}' needs a date question, but '{key}' is a {question.type} question")
            return None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            check.problem(line, f"{what}: '{name}' on '{key}' must be a whole number above 0")
            return None
        return Test(question=key, date_test=name, amount=amount)
    values = expected if isinstance(expected, list) else [expected]
    if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
        check.problem(line, f"{what}: '{key}' must be compared with an option value or a list of them")
        return None
    if question.type == "date":
        check.problem(line, f"{what}: '{key}' is a date question; compare it with {', '.join(DATE_TESTS)}")
        return None
    wanted = {str(v) for v in values}
    unknown = sorted(wanted - question.option_values)
    if unknown:
        allowed = ", ".join(o.value for o in question.options)
        for value in unknown:
            check.problem(line, f"{what}: question '{key}' has no option '{value}' (options: {allowed})")
        return None
    return Test(question=key, values=frozenset(wanted))
