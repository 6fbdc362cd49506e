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
from .model import Procedure, Question, Rule, RuleBook, RuleFileError, RuleSet, Score
from .patch import build_patch_test
from .placeholders import render_placeholders
from .safety import check_follow_up_loops, check_rule_inputs_offer_unsure, check_unsure_is_never_cleared
from .scores import build_scores
from .yaml_lines import LineDict, LineList, read_yaml

# The top-level keys: the questionnaire is written once, each procedure under ``procedures:``.
_TOP_KEYS = (
    "version",
    "languages",
    "default_procedure",
    "option_sets",
    "sections",
    "questions",
    "scores",
    "recheck_review",
    "procedures",
)
# The single-procedure shape of rule files before several procedures (refused with a hint).
_OLD_KEYS = ("procedure", "rules", "examples")
_PROCEDURE_KEYS = (
    "id",
    "name",
    "description",
    "course",
    "preparation",
    "aftercare",
    "planned_sessions",
    "interval_weeks",
    "patch_test",
    "rules",
    "examples",
)
_PROCEDURE_TEXTS = ("name", "description", "course", "preparation", "aftercare")


def load_rules(path: str | Path) -> RuleSet:
    """Read, validate and return the default procedure's rule set at ``path``; raise ``RuleFileError``."""
    return load_rulebook(path).get()


def load_rulebook(path: str | Path) -> RuleBook:
    """Read, validate and return every procedure of the rule file at ``path``; raise ``RuleFileError``."""
    book, failing = load_book_candidate(path)
    if failing:
        raise RuleFileError(failing)
    return book


def parse_rules(raw: bytes, path: str = "rules.yaml") -> RuleSet:
    """Validate the rule file's bytes and build the default procedure's rule set; raise ``RuleFileError``."""
    return parse_rulebook(raw, path).get()


def parse_rulebook(raw: bytes, path: str = "rules.yaml") -> RuleBook:
    """Validate the rule file's bytes and build every procedure; raise ``RuleFileError``."""
    book, failing = parse_book_candidate(raw, path)
    if failing:
        raise RuleFileError(failing)
    return book


def load_candidate(path: str | Path) -> tuple[RuleSet, list[str]]:
    """The default procedure's rule set at ``path`` and the file's failing examples (see
    ``load_book_candidate``); raise ``RuleFileError``."""
    book, failing = load_book_candidate(path)
    return book.get(), failing


def parse_candidate(raw: bytes, path: str = "rules.yaml") -> tuple[RuleSet, list[str]]:
    """Like ``parse_book_candidate``, for the default procedure."""
    book, failing = parse_book_candidate(raw, path)
    return book.get(), failing


def load_book_candidate(path: str | Path) -> tuple[RuleBook, list[str]]:
    """The rule file at ``path`` and its failing examples (``file:line: ...``): a candidate
    whose examples no longer hold still loads, to show what it changes; raise ``RuleFileError``
    for any other problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleFileError([f"{path}: cannot read the rule file: {exc.strerror or exc}"]) from exc
    return parse_book_candidate(raw, str(path))


def parse_book_candidate(raw: bytes, path: str = "rules.yaml") -> tuple[RuleBook, list[str]]:
    """Like ``parse_rulebook``, but failing examples are returned, not raised (alone: with any
    other problem they are raised together, as ``parse_rulebook`` does)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError([f"{path}: the file is not valid UTF-8 (byte {exc.start})"]) from exc
    data, duplicate_keys = read_yaml(text, path)
    check = Checker(path)
    for line, key in duplicate_keys:
        check.problem(line, f"duplicate key '{key}'")
    if not isinstance(data, LineDict):
        raise RuleFileError(
            [f"{path}:1: the rule file must be a mapping with version, questions and procedures (each with its rules)"]
        )
    built = _build(data, check, hashlib.sha256(raw).hexdigest())
    if built is None or (check.problems and not built[2]):
        raise RuleFileError(_unique(check.problems))
    book, items, _whole = built
    # Examples run on rule sets in which every question and rule was built, even one
    # with other problems (a waiting period left on a rule that is no longer a deferral,
    # say), so that one run also shows what the edit decides differently.
    structural = len(check.problems)
    procedures: dict[str, RuleSet] = {}
    for procedure_id, ruleset in book.procedures.items():
        item = items[procedure_id]
        if "examples" in item:
            line = check.line_of(item, "examples")
            examples, review = build_examples(item["examples"], line, check, ruleset)
            ruleset = replace(ruleset, examples=examples, examples_review=review, examples_line=line)
        procedures[procedure_id] = ruleset
    if len(check.problems) > structural:
        raise RuleFileError(_unique(check.problems))
    failing = [failure for ruleset in procedures.values() for failure in run_examples(ruleset)]
    if check.problems:
        raise RuleFileError([*_unique(check.problems), *failing])
    return replace(book, procedures=procedures), failing


def _unique(problems: list[str]) -> list[str]:
    """Each problem once: a shared question checked for two procedures is reported once."""
    return list(dict.fromkeys(problems))


def _is_whole(
    data: LineDict, questions: list[Question], items: dict[str, LineDict], rules: dict[str, list[Rule]]
) -> bool:
    """Every question and rule of the file was built, each follow-up with its condition."""
    listed = data.get("questions")
    if not isinstance(listed, LineList) or len(listed) != len(questions):
        return False
    for procedure_id, item in items.items():
        entries = item.get("rules")
        if not isinstance(entries, LineList) or len(entries) != len(rules.get(procedure_id, ())):
            return False
    return all(
        isinstance(entry, LineDict) and ("show_if" in entry) == (question.show_if is not None)
        for entry, question in zip(listed, questions, strict=True)
    )


def _old_shape(data: LineDict, check: Checker) -> bool:
    """A problem for each key of the single-procedure shape; True when there is one."""
    found = [key for key in _OLD_KEYS if key in data]
    for key in found:
        check.problem(
            check.line_of(data, key),
            f"'{key}' at the top of the file is the single-procedure shape: move the procedure's texts, its "
            "rules and its examples under 'procedures:', as a list item with an id, e.g. "
            "procedures: [{id: laser_rejuvenation, name: ..., rules: [...], examples: ...}]",
        )
    return bool(found)


def _procedure_items(data: LineDict, check: Checker) -> dict[str, LineDict]:
    """The ``procedures:`` entries by id, in file order."""
    if "procedures" not in data:
        check.problem(
            data.line or 1, "the rule file needs 'procedures:', a list of procedures each with an id, texts and rules"
        )
        return {}
    items: dict[str, LineDict] = {}
    seen: set[str] = set()
    for item in check.entries(data, "procedures", "procedure"):
        procedure_id = check.identifier(item, "a procedure")
        if check.is_new(procedure_id, item, seen, "procedure"):
            items[procedure_id] = item
    if isinstance(data.get("procedures"), LineList) and not data["procedures"]:
        check.problem(check.line_of(data, "procedures"), "procedures lists no procedure")
    return items


def _default_procedure(data: LineDict, check: Checker, ids: list[str]) -> str:
    """``default_procedure:`` when given, else the first procedure of the file."""
    if "default_procedure" not in data:
        return ids[0]
    chosen = data["default_procedure"]
    if chosen not in ids:
        check.problem(
            check.line_of(data, "default_procedure"),
            f"default_procedure names {chosen!r}, which is not a procedure of the file ({', '.join(ids)})",
        )
        return ids[0]
    return str(chosen)


def _own_texts(item: LineDict) -> LineDict:
    """A procedure's texts and rules, as ``render_placeholders`` walks them."""
    texts = LineDict({key: item[key] for key in _PROCEDURE_TEXTS if key in item})
    texts.line, texts.key_lines = item.line, {key: item.key_lines[key] for key in texts}
    part = LineDict({"procedure": texts})
    part.line, part.key_lines = item.line, {"procedure": item.line}
    if "rules" in item:
        part["rules"], part.key_lines["rules"] = item["rules"], item.key_lines["rules"]
    return part


def asked_questions(
    questions: list[Question], scores: list[Score], read: dict[str, set[str]], procedure: str
) -> set[str]:
    """The questions procedure ``procedure`` asks: those its rules read (``read``: question ids by
    procedure), with a role, or read by no procedure's rule; a score's items when its computed
    question is asked; and the questions whose answer decides whether an asked one is shown."""
    read_by_any = set().union(*read.values()) if read else set()
    items = {question_id for score in scores for question_id in score.items}
    asked = {
        q.id
        for q in questions
        if q.id in read[procedure] or q.role is not None or (q.id not in read_by_any and q.id not in items)
    }
    asked |= {question_id for score in scores if score.computes in asked for question_id in score.items}
    by_id = {q.id: q for q in questions}
    pending = list(asked)
    while pending:
        question = by_id.get(pending.pop())
        for parent in question.show_if.questions() if question and question.show_if else ():
            if parent not in asked:
                asked.add(parent)
                pending.append(parent)
    return asked


def _build(data: LineDict, check: Checker, digest: str) -> tuple[RuleBook, dict[str, LineDict], bool] | None:
    """The rule book (examples not yet built), each procedure's entry, and whether every question
    and rule of the file was built; None when it cannot be built."""
    if _old_shape(data, check):
        return None
    check.unknown_keys(data, (*_TOP_KEYS, *_OLD_KEYS), "the rule file")
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

    items = _procedure_items(data, check)
    if not items:
        return None
    default = _default_procedure(data, check, list(items))
    # Placeholders are rendered into the texts before anything is built from them: the shared
    # questionnaire's name the default procedure's rules, each procedure's its own.
    shared_texts = render_placeholders(data, check, items[default])
    own_texts = {procedure_id: render_placeholders(_own_texts(item), check) for procedure_id, item in items.items()}
    option_sets = build_option_sets(data, check)
    sections = build_sections(data, check)
    questions = build_questions(data, check, option_sets, {s.id for s in sections})
    by_id = {q.id: q for q in questions}
    check_follow_up_loops(questions, check)
    scores = build_scores(data, check, questions)
    roles = _build_roles(questions, check)
    procedures = {procedure_id: _build_procedure(item, check, by_id) for procedure_id, item in items.items()}
    rules = {procedure_id: build_rules(item, check, by_id) for procedure_id, item in items.items()}
    read = {
        procedure_id: set().union(*(rule.condition.questions() for rule in found))
        for procedure_id, found in rules.items()
    }
    recheck_review = build_recheck_review(data, check, questions, {r.id for found in rules.values() for r in found})
    rulesets: dict[str, RuleSet] = {}
    for procedure_id, item in items.items():
        procedure, own_rules = procedures[procedure_id], rules[procedure_id]
        asked = asked_questions(questions, scores, read, procedure_id)
        own_questions = [q for q in questions if q.id in asked]
        check_unsure_is_never_cleared(own_questions, own_rules, item, check)
        check_rule_inputs_offer_unsure(own_questions, own_rules, check)
        check_carry_over(own_questions, own_rules, check)
        if procedure is None:
            continue
        used_sections = {q.section for q in own_questions}
        rulesets[procedure_id] = RuleSet(
            path=check.path,
            version=str(version),
            digest=digest,
            languages=check.languages,
            procedure=procedure,
            sections=tuple(s for s in sections if s.id in used_sections),
            questions=tuple(own_questions),
            rules=tuple(own_rules),
            question_by_id={q.id: q for q in own_questions},
            roles={role: question_id for role, question_id in roles.items() if question_id in asked},
            recheck_review=recheck_review,
            # A shared text is linted once, with the default procedure whose periods it names.
            texts=(*(shared_texts if procedure_id == default else ()), *own_texts[procedure_id]),
            scores=tuple(s for s in scores if s.computes in asked),
        )
    if len(rulesets) != len(items):
        return None
    book = RuleBook(
        path=check.path,
        version=str(version),
        digest=digest,
        languages=check.languages,
        procedures=rulesets,
        default=default,
        questions=tuple(questions),
        sections=tuple(sections),
    )
    return book, items, _is_whole(data, questions, items, rules)


def _build_procedure(item: LineDict, check: Checker, by_id: dict[str, Question]) -> Procedure | None:
    procedure_id = item.get("id")
    what = f"procedure '{procedure_id}'"
    check.unknown_keys(item, _PROCEDURE_KEYS, what)
    texts = {key: check.text(item, key, what) or {} for key in ("name", "description", "course")}
    lists: dict[str, tuple[Mapping[str, str], ...]] = {}
    for key in ("preparation", "aftercare"):
        entries = check.sequence(item.get(key, LineList()), check.line_of(item, key), f"{what} {key}")
        values = []
        for index, entry in enumerate(entries or []):
            value = check.text_value(entry, check.line_of(entries, index), f"{what} {key} item {index + 1}")
            if value:
                values.append(value)
        lists[key] = tuple(values)
    return Procedure(
        name=texts["name"],
        description=texts["description"],
        course=texts["course"],
        preparation=lists["preparation"],
        aftercare=lists["aftercare"],
        id=str(procedure_id),
        patch_test=tuple(build_patch_test(item, check, by_id, what)),
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
