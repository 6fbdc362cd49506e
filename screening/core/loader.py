"""Load and validate the rule file into the rule set of ``model``.

The rule file is the clinic's single source of truth. Loading either returns a
complete, consistent ``RuleSet`` or raises ``RuleFileError`` listing every
problem with its file and line, so the app never runs on a half-valid set.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from .build_questions import build_option_sets, build_questions, build_recheck_review, build_sections
from .build_rules import build_rules
from .carry_over import check_carry_over
from .checker import Checker
from .examples import build_examples, run_examples
from .model import Procedure, Question, RuleFileError, RuleSet
from .placeholders import render_placeholders
from .safety import check_follow_up_loops, check_rule_inputs_offer_unsure, check_unsure_is_never_cleared
from .yaml_lines import LineDict, LineList, read_yaml


def load_rules(path: str | Path) -> RuleSet:
    """Read, validate and return the rule set at ``path``; raise ``RuleFileError``."""
    ruleset, failing = load_candidate(path)
    if failing:
        raise RuleFileError(failing)
    return ruleset


def parse_rules(raw: bytes, path: str = "rules.yaml") -> RuleSet:
    """Validate the rule file's bytes and build the rule set; raise ``RuleFileError``."""
    ruleset, failing = parse_candidate(raw, path)
    if failing:
        raise RuleFileError(failing)
    return ruleset


def load_candidate(path: str | Path) -> tuple[RuleSet, list[str]]:
    """The rule set at ``path`` and its failing examples (``file:line: ...``): a candidate
    whose examples no longer hold still loads, to show what it changes; raise ``RuleFileError``
    for any other problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleFileError([f"{path}: cannot read the rule file: {exc.strerror or exc}"]) from exc
    return parse_candidate(raw, str(path))


def parse_candidate(raw: bytes, path: str = "rules.yaml") -> tuple[RuleSet, list[str]]:
    """Like ``parse_rules``, but failing examples are returned, not raised (alone: with any
    other problem they are raised together, as ``parse_rules`` does)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError([f"{path}: the file is not valid UTF-8 (byte {exc.start})"]) from exc
    data, duplicate_keys = read_yaml(text, path)
    check = Checker(path)
    for line, key in duplicate_keys:
        check.problem(line, f"duplicate key '{key}'")
    if not isinstance(data, LineDict):
        raise RuleFileError([f"{path}:1: the rule file must be a mapping with version, procedure, questions and rules"])
    ruleset = _build(data, check, hashlib.sha256(raw).hexdigest())
    if ruleset is None or (check.problems and not _is_whole(data, ruleset)):
        raise RuleFileError(check.problems)
    if "examples" not in data:
        if check.problems:
            raise RuleFileError(check.problems)
        return ruleset, []
    # Examples run on a rule set in which every question and rule was built, even
    # one with other problems (a waiting period left on a rule that is no longer a
    # deferral, say), so that one run also shows what the edit decides differently.
    structural = len(check.problems)
    examples, review = build_examples(data["examples"], check.line_of(data, "examples"), check, ruleset)
    if len(check.problems) > structural:
        raise RuleFileError(check.problems)
    ruleset = replace(ruleset, examples=examples, examples_review=review, examples_line=check.line_of(data, "examples"))
    failing = run_examples(ruleset)
    if check.problems:
        raise RuleFileError([*check.problems, *failing])
    return ruleset, failing


def _is_whole(data: LineDict, ruleset: RuleSet) -> bool:
    """Every question and rule of the file made it into ``ruleset``, each follow-up with its condition."""
    questions, rules = data.get("questions"), data.get("rules")
    if not isinstance(questions, LineList) or not isinstance(rules, LineList):
        return False
    if len(questions) != len(ruleset.questions) or len(rules) != len(ruleset.rules):
        return False
    return all(
        isinstance(item, LineDict) and ("show_if" in item) == (question.show_if is not None)
        for item, question in zip(questions, ruleset.questions, strict=True)
    )


def _build(data: LineDict, check: Checker, digest: str) -> RuleSet | None:
    check.unknown_keys(
        data,
        (
            "version",
            "languages",
            "procedure",
            "option_sets",
            "sections",
            "questions",
            "rules",
            "recheck_review",
            "examples",
        ),
        "the rule file",
    )
    version = data.get("version")
    if not isinstance(version, (str, int, float)) or str(version).strip() == "":
        check.problem(check.line_of(data, "version"), "the rule file needs a 'version', e.g. version: \"2026.11.1\"")
        version = ""

    languages = data.get("languages", ["en"])
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(lang, str) and re.match(r"^[a-z]{2}$", lang) for lang in languages)
    ):
        check.problem(check.line_of(data, "languages"), "languages must be a list of two-letter codes, e.g. [en, ru]")
    else:
        check.languages = tuple(languages)

    # Placeholders are rendered into the texts before anything is built from them.
    texts = render_placeholders(data, check)
    procedure = _build_procedure(data, check)
    option_sets = build_option_sets(data, check)
    sections = build_sections(data, check)
    questions = build_questions(data, check, option_sets, {s.id for s in sections})
    by_id = {q.id: q for q in questions}
    check_follow_up_loops(questions, check)
    rules = build_rules(data, check, by_id)
    check_unsure_is_never_cleared(questions, rules, data, check)
    check_rule_inputs_offer_unsure(questions, rules, check)
    check_carry_over(questions, rules, check)
    recheck_review = build_recheck_review(data, check, questions, {r.id for r in rules})
    if procedure is None:
        return None
    return RuleSet(
        path=check.path,
        version=str(version),
        digest=digest,
        languages=check.languages,
        procedure=procedure,
        sections=tuple(sections),
        questions=tuple(questions),
        rules=tuple(rules),
        question_by_id=by_id,
        roles=_build_roles(questions, check),
        recheck_review=recheck_review,
        texts=texts,
    )


def _build_procedure(data: LineDict, check: Checker) -> Procedure | None:
    item = check.mapping(data.get("procedure"), check.line_of(data, "procedure"), "procedure")
    if item is None:
        return None
    check.unknown_keys(
        item,
        ("name", "description", "course", "preparation", "aftercare", "planned_sessions", "interval_weeks"),
        "procedure",
    )
    texts = {key: check.text(item, key, "procedure") or {} for key in ("name", "description", "course")}
    lists: dict[str, tuple[Mapping[str, str], ...]] = {}
    for key in ("preparation", "aftercare"):
        entries = check.sequence(item.get(key, LineList()), check.line_of(item, key), f"procedure {key}")
        values = []
        for index, entry in enumerate(entries or []):
            value = check.text_value(entry, check.line_of(entries, index), f"procedure {key} item {index + 1}")
            if value:
                values.append(value)
        lists[key] = tuple(values)
    return Procedure(
        name=texts["name"],
        description=texts["description"],
        course=texts["course"],
        preparation=lists["preparation"],
        aftercare=lists["aftercare"],
        **_build_course_plan(item, check),
    )


def _build_course_plan(item: LineDict, check: Checker) -> dict[str, int]:
    """``planned_sessions`` (1-20) and ``interval_weeks`` (1-26) of a course, where the file sets them."""
    plan: dict[str, int] = {}
    for key, most in (("planned_sessions", 20), ("interval_weeks", 26)):
        if key not in item:
            continue
        value = item[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            check.problem(check.line_of(item, key), f"procedure {key} must be a whole number from 1 to {most}")
            continue
        plan[key] = value
    return plan


def _build_roles(questions: list[Question], check: Checker) -> dict[str, str]:
    """Role -> question id; a role is played by one question at most."""
    roles: dict[str, str] = {}
    for question in questions:
        if question.role is None:
            continue
        if question.role in roles:
            check.problem(
                question.line,
                f"question '{question.id}': the role '{question.role}' is already '{roles[question.role]}'",
            )
            continue
        roles[question.role] = question.id
    return roles
