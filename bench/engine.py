"""Engine speed: verdicts per second against a plain if chain of the same rules.

Both run in this process on the same answer sets, so the ratio holds on a noisy
machine. The baseline is the rule file written out as a straight ``if`` chain
with every value inlined (generated from the rule set, so it always holds the
same rules: the floor for Python); the two must agree on every answer set
before their speeds are compared. Answer sets are
made from the rule file's own questions, so the benchmark follows the rule file
as it changes. Also times loading and validating the rule file.

    .venv/bin/python bench/engine.py [--sets 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from screening.core.engine import age_on, clean_answers, evaluate, screen, shift_date
from screening.core.loader import load_rules
from screening.core.model import OUTCOME_RANK, Condition, Question, RuleSet

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 24)


def quiet_options(ruleset: RuleSet) -> dict[str, list[str]]:
    """Per question, the options no rule tests for: what most patients answer."""
    tested: dict[str, set[str]] = {}
    for rule in ruleset.rules:
        for test in rule.condition.tests:
            tested.setdefault(test.question, set()).update(test.values)
    return {
        q.id: [v for v in q.option_values if v not in tested.get(q.id, set()) and v != "unsure"]
        for q in ruleset.questions
    }


def make_answer(question: Question, quiet: list[str], rng: random.Random) -> Any:
    """One realistic answer: mostly a quiet option, some flagged ones, a few "not sure"."""
    values = sorted(question.option_values)
    if question.type == "date":
        if question.role == "birth_date":
            return (TODAY - dt.timedelta(days=rng.randint(15 * 365, 75 * 365))).isoformat()
        return (TODAY - dt.timedelta(days=rng.randint(1, 700))).isoformat()
    if question.type == "multi":
        flagged = [v for v in values if v not in quiet and v not in ("none", "unsure")]
        if "none" in values and rng.random() < 0.9:
            return ["none"]
        return rng.sample(flagged or values, min(2, len(flagged or values)))
    roll = rng.random()
    if roll < 0.005 and "unsure" in values:
        return "unsure"
    if roll < 0.96 and quiet:
        return rng.choice(quiet)
    return rng.choice(values)


def make_answer_sets(ruleset: RuleSet, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic raw answer sets for every question of the rule file."""
    rng = random.Random(seed)
    quiet = quiet_options(ruleset)
    sets = []
    for _ in range(count):
        answers = {q.id: make_answer(q, quiet[q.id], rng) for q in ruleset.questions}
        sets.append(answers)
    return sets


def condition_source(condition: Condition, ruleset: RuleSet) -> str:
    """A condition as one Python expression over ``a`` (answers) and ``today``."""
    parts = []
    for test in condition.tests:
        q = repr(test.question)
        if test.date_test == "age_under":
            parts.append(f"({q} in a and age_on(a[{q}], today) < {test.amount})")
        elif test.date_test is not None:
            unit = test.date_test.removeprefix("within_")
            parts.append(f"({q} in a and shift_date(a[{q}], {unit!r}, {test.amount}) > today)")
        elif ruleset.question_by_id[test.question].type == "multi":
            parts.append(f"not {set(test.values)!r}.isdisjoint(a.get({q}) or ())")
        else:
            parts.append(f"a.get({q}) in {set(test.values)!r}")
    for group in condition.any_of:
        parts.append("(" + " or ".join(condition_source(c, ruleset) for c in group) + ")")
    if condition.any_answer is not None:
        w = repr(condition.any_answer)
        parts.append(f"any(v == {w} or (type(v) is tuple and {w} in v) for v in a.values())")
    return " and ".join(parts) or "True"


def write_if_chain(ruleset: RuleSet) -> Callable[[dict[str, Any], dt.date], tuple[str, list[str], dt.date | None]]:
    """The rule file written out as a straight if chain, as a person would by hand: the floor for Python.

    It is generated from the rule set rather than typed in, so it always holds
    the same rules as the file; each rule becomes one ``if`` with its values inlined.
    """
    lines = ["def chain(a, today):", "    fired = []"]
    for rule in ruleset.rules:
        if rule.is_note:
            continue
        date = "None"
        if rule.rescreen is not None:
            start = f"a.get({rule.rescreen.after!r}, today)" if rule.rescreen.after else "today"
            date = f"shift_date({start}, {rule.rescreen.unit!r}, {rule.rescreen.amount})"
        lines.append(f"    if {condition_source(rule.condition, ruleset)}:")
        lines.append(f"        fired.append(({rule.id!r}, {rule.outcome!r}, {date}))")
    lines += [
        "    status = max((o for _, o, _ in fired), key=RANK.__getitem__, default='eligible')",
        "    dates = [d for _, o, d in fired if o == 'deferred']",
        "    known = [d for d in dates if d is not None]",
        "    ok = known and len(known) == len(dates) and status != 'ineligible'",
        "    return status, [r for r, _, _ in fired], (max(known) if ok else None)",
    ]
    namespace: dict[str, Any] = {"age_on": age_on, "shift_date": shift_date, "RANK": OUTCOME_RANK}
    exec("\n".join(lines), namespace)  # our own generated source, from the validated rule set
    return namespace["chain"]  # type: ignore[no-any-return]


def best_rate(fn: Any, items: list[Any], rounds: int) -> float:
    """Best of several rounds, in calls per second (the least disturbed round)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = max(best, len(items) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    ruleset = load_rules(ROOT / "rules.yaml")
    load_ms = (time.perf_counter() - start) * 1000

    chain_fn = write_if_chain(ruleset)
    raw_sets = make_answer_sets(ruleset, args.sets)
    cleaned = [clean_answers(ruleset, a, TODAY) for a in raw_sets]
    # The two must agree before their speeds are compared.
    for answers in cleaned:
        verdict = evaluate(ruleset, answers, TODAY)
        status, rules, rescreen = chain_fn(answers, TODAY)
        assert verdict.status == status and sorted(r.rule for r in verdict.reasons) == sorted(rules), answers
        assert verdict.rescreen_after == rescreen, answers

    chain = best_rate(lambda a: chain_fn(a, TODAY), cleaned, args.rounds)
    engine = best_rate(lambda a: evaluate(ruleset, a, TODAY), cleaned, args.rounds)
    full = best_rate(lambda a: screen(ruleset, a, TODAY), raw_sets, args.rounds)
    statuses: dict[str, int] = {}
    for answers in cleaned:
        status = chain_fn(answers, TODAY)[0]
        statuses[status] = statuses.get(status, 0) + 1

    print(f"Engine benchmark: {args.sets} answer sets ({statuses}), best of {args.rounds} rounds, one core")
    print(f"{'what':<46}{'verdicts/s':>12}{'vs chain':>10}")
    print(f"{'if chain of the same rules (baseline)':<46}{chain:>12,.0f}{1:>10.2f}")
    print(f"{'engine: evaluate (rules from rules.yaml)':<46}{engine:>12,.0f}{engine / chain:>10.2f}")
    print(f"{'engine: screen (validate + drop + evaluate)':<46}{full:>12,.0f}{full / chain:>10.2f}")
    print(f"engine time per verdict vs the if chain: {chain / engine:.2f}x (goal <= 2x)")
    print(f"rule file load + validation: {load_ms:.1f} ms (goal < 100 ms)")


if __name__ == "__main__":
    main()
