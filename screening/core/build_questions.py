"""The questionnaire part of the rule file: options, option sets, sections
and questions (their ``show_if`` conditions built by ``build_rules``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .build_rules import build_condition
from .checker import Checker
from .model import QUESTION_TYPES, RESERVED_IDS, ROLES, UNSURE, Option, Question, Recheck, RecheckReview, Section
from .yaml_lines import LineDict


def _build_options(value: Any, line: int, check: Checker, what: str) -> tuple[Option, ...]:
    entries = check.sequence(value, line, f"{what} options")
    if entries is None:
        return ()
    options: list[Option] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        entry_line = check.line_of(entries, index)
        score: int | None = None
        if isinstance(entry, (str, int)):
            entry_value, label = str(entry), {lang: str(entry) for lang in check.languages}
        elif isinstance(entry, LineDict) and "value" in entry:
            check.unknown_keys(entry, ("value", "label", "score"), f"{what} option")
            entry_value = str(entry["value"])
            label = check.text(entry, "label", f"{what} option '{entry_value}'") or {}
            score = _build_score(entry, check, f"{what} option '{entry_value}'")
        else:
            check.problem(entry_line, f"{what} option must be a value or {{value: ..., label: ...}}")
            continue
        if entry_value in seen:
            check.problem(entry_line, f"{what} has the option '{entry_value}' twice")
        seen.add(entry_value)
        options.append(Option(value=entry_value, label=label, score=score))
    return tuple(options)


def _build_score(entry: LineDict, check: Checker, what: str) -> int | None:
    """An option's ``score:`` (its points in a scored self-assessment), a whole number from 0."""
    score = entry.get("score")
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, int) or score < 0:
        check.problem(check.line_of(entry, "score"), f"{what}: score must be a whole number from 0")
        return None
    return score


def build_option_sets(data: LineDict, check: Checker) -> dict[str, tuple[Option, ...]]:
    """The named option lists questions may share (``options: yes_no_unsure``)."""
    if "option_sets" not in data:
        return {}
    sets = check.mapping(data["option_sets"], check.line_of(data, "option_sets"), "option_sets")
    if sets is None:
        return {}
    return {
        name: _build_options(value, sets.key_lines[name], check, f"option set '{name}'") for name, value in sets.items()
    }


def build_sections(data: LineDict, check: Checker) -> list[Section]:
    """The titled groups of questions, in file order."""
    sections: list[Section] = []
    seen: set[str] = set()
    for item in check.entries(data, "sections", "section"):
        check.unknown_keys(item, ("id", "title"), "section")
        section_id = check.identifier(item, "a section")
        title = check.text(item, "title", f"section '{section_id}'")
        if not check.is_new(section_id, item, seen, "section"):
            continue
        sections.append(Section(id=section_id, title=title or {}))
    return sections


_QUESTION_KEYS = (
    "id",
    "section",
    "type",
    "text",
    "help",
    "options",
    "required",
    "show_if",
    "role",
    "unsure_exempt",
    "carry_over",
    "time_sensitive",
    "lifelong",
    "recheck",
)


def build_questions(
    data: LineDict, check: Checker, option_sets: dict[str, tuple[Option, ...]], section_ids: set[str]
) -> list[Question]:
    """Every question, with its options and ``show_if`` condition."""
    # Conditions in show_if may name later questions, so build them after
    # every question's id and options are known.
    drafts: list[tuple[LineDict, Question]] = []
    seen: set[str] = set()
    for item in check.entries(data, "questions", "question"):
        question_id, what = check.head(item, "question", _QUESTION_KEYS)
        if question_id in RESERVED_IDS:
            check.problem(check.line_of(item, "id"), f"{what}: '{question_id}' is a reserved name")
            continue
        qtype = item.get("type")
        if qtype not in QUESTION_TYPES:
            check.problem(
                check.line_of(item, "type"),
                f"{what} has type {qtype!r}; use one of: {', '.join(QUESTION_TYPES)}",
            )
        section = item.get("section")
        if section not in section_ids:
            check.problem(check.line_of(item, "section"), f"{what} names an unknown section {section!r}")
        text = check.text(item, "text", what)
        help_text = check.text(item, "help", what, required=False)
        options: tuple[Option, ...] = ()
        raw_options = item.get("options")
        if qtype in ("choice", "multi"):
            if raw_options is None:
                check.problem(item.line, f"{what} of type {qtype} needs options")
            elif isinstance(raw_options, str):
                if raw_options not in option_sets:
                    check.problem(check.line_of(item, "options"), f"{what} names an unknown option set '{raw_options}'")
                options = option_sets.get(raw_options, ())
            else:
                options = _build_options(raw_options, check.line_of(item, "options"), check, what)
                if not options:
                    check.problem(check.line_of(item, "options"), f"{what} has no options")
        elif raw_options is not None:
            check.problem(check.line_of(item, "options"), f"{what} of type {qtype} cannot have options")
        required = item.get("required", qtype != "multi")
        if not isinstance(required, bool):
            check.problem(check.line_of(item, "required"), f"{what}: required must be true or false")
            required = True
        role = item.get("role")
        if role is not None and role not in ROLES:
            check.problem(
                check.line_of(item, "role"), f"{what} has an unknown role {role!r}; use one of: {', '.join(ROLES)}"
            )
            role = None
        elif role is not None and qtype != ROLES[role]:
            check.problem(
                check.line_of(item, "role"), f"{what}: the role '{role}' needs a question of type {ROLES[role]}"
            )
            role = None
        unsure_exempt = _build_unsure_exempt(item, check, what, qtype, options)
        carry_over, time_sensitive, lifelong = (
            _build_flag(item, key, check, what) for key in ("carry_over", "time_sensitive", "lifelong")
        )
        if lifelong and time_sensitive:
            check.problem(
                check.line_of(item, "lifelong"), f"{what} is time_sensitive, so it cannot be lifelong history"
            )
        recheck = _build_recheck(item, check, what, qtype, options)
        if not check.is_new(question_id, item, seen, "question"):
            continue
        drafts.append(
            (
                item,
                Question(
                    id=question_id,
                    section=str(section),
                    type=str(qtype),
                    text=text or {},
                    help=help_text,
                    options=options,
                    required=required,
                    show_if=None,
                    line=item.line,
                    role=role,
                    unsure_exempt=unsure_exempt,
                    carry_over=carry_over,
                    time_sensitive=time_sensitive,
                    lifelong=lifelong,
                    recheck=recheck,
                ),
            )
        )
    by_id = {q.id: q for _, q in drafts}
    questions = []
    for item, question in drafts:
        if "show_if" in item:
            show_if = build_condition(
                item["show_if"], check.line_of(item, "show_if"), check, by_id, f"question '{question.id}' show_if"
            )
            question = replace(question, show_if=show_if)
        questions.append(question)
    return questions


def _build_flag(item: LineDict, key: str, check: Checker, what: str) -> bool:
    """An optional true/false key of a question (``carry_over``, ``time_sensitive``, ``lifelong``), false by default."""
    value = item.get(key, False)
    if not isinstance(value, bool):
        check.problem(check.line_of(item, key), f"{what}: {key} must be true or false")
        return False
    return value


def _build_unsure_exempt(
    item: LineDict, check: Checker, what: str, qtype: Any, options: tuple[Option, ...]
) -> str | None:
    """``unsure_exempt: "why"``: the reason a question that rules read offers no "unsure"."""
    if "unsure_exempt" not in item:
        return None
    value = item["unsure_exempt"]
    line = check.line_of(item, "unsure_exempt")
    if not isinstance(value, str) or not value.strip():
        check.problem(line, f'{what}: unsure_exempt must be a text saying why the question needs no "{UNSURE}" option')
        return None
    if qtype == "date":
        check.problem(line, f"{what}: unsure_exempt is for choice and multi questions; a date question has no options")
        return None
    if any(o.value == UNSURE for o in options):
        check.problem(line, f'{what} offers "{UNSURE}" and also declares unsure_exempt: keep one of them')
        return None
    return value.strip()


_RECHECK_KEYS = ("within_days", "from", "to", "moved")
# An earlier answer compared for up to ten years: "ever had" history changes meaning after that.
RECHECK_MAX_DAYS = 3660


def _build_recheck(
    item: LineDict, check: Checker, what: str, qtype: Any, options: tuple[Option, ...]
) -> Recheck | None:
    """``recheck: {within_days: N, from: [...], to: [...]}`` (``{within_days: N, moved: true}`` on a
    date question): which change of the same patient's recent answer a practitioner must decide on."""
    if "recheck" not in item:
        return None
    line = check.line_of(item, "recheck")
    block = check.mapping(item["recheck"], line, f"{what} recheck")
    if block is None:
        return None
    check.unknown_keys(block, _RECHECK_KEYS, f"{what} recheck")
    problems = len(check.problems)
    days: Any = block.get("within_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= RECHECK_MAX_DAYS:
        check.problem(
            check.line_of(block, "within_days"),
            f"{what} recheck: within_days must be a whole number of days from 1 to {RECHECK_MAX_DAYS}",
        )
    moved = block.get("moved", False)
    if not isinstance(moved, bool):
        check.problem(check.line_of(block, "moved"), f"{what} recheck: moved must be true or false")
    elif qtype == "date":
        if not moved:
            check.problem(line, f"{what} recheck: a date question is rechecked with moved: true")
        for key in ("from", "to"):
            if key in block:
                check.problem(check.line_of(block, key), f"{what} recheck: a date question has no '{key}' values")
    elif moved:
        check.problem(check.line_of(block, "moved"), f"{what} recheck: moved is for date questions only")
    values = {
        key: _recheck_values(block, key, check, what, options) if qtype != "date" else frozenset()
        for key in ("from", "to")
    }
    if qtype != "date" and "from" not in block:
        check.problem(line, f"{what} recheck needs 'from': the earlier answers whose change counts")
    if values["from"] & values["to"]:
        check.problem(
            check.line_of(block, "to"),
            f"{what} recheck: {', '.join(sorted(values['from'] & values['to']))} is in both 'from' and 'to'",
        )
    if len(check.problems) > problems:
        return None
    return Recheck(
        within_days=int(days),
        from_values=values["from"],
        to_values=values["to"],
        moved=bool(moved),
        line=line,
    )


def _recheck_values(
    block: LineDict, key: str, check: Checker, what: str, options: tuple[Option, ...]
) -> frozenset[str]:
    """The option values listed under ``recheck`` ``key`` ("from", "to"), each one the question offers."""
    if key not in block:
        return frozenset()
    entries = check.sequence(block[key], check.line_of(block, key), f"{what} recheck '{key}'")
    if entries is None:
        return frozenset()
    offered = {o.value for o in options}
    values = set()
    for index, entry in enumerate(entries):
        value = str(entry)
        if isinstance(entry, bool) or not isinstance(entry, (str, int)) or value not in offered:
            check.problem(
                check.line_of(entries, index),
                f"{what} recheck '{key}': {entry!r} is not an option of the question;"
                f" use one of: {', '.join(sorted(offered))}",
            )
            continue
        values.add(value)
    if not entries:
        check.problem(check.line_of(block, key), f"{what} recheck '{key}' lists no answers")
    return frozenset(values)


def build_recheck_review(
    data: LineDict, check: Checker, questions: list[Question], rule_ids: set[str]
) -> RecheckReview | None:
    """``recheck_review: {id, patient, practitioner, source}``: the reason a screening goes to review
    when a patient proven to be the same person changed a recent answer. Needed once a question
    declares ``recheck``."""
    if "recheck_review" not in data:
        rechecked = next((q for q in questions if q.recheck is not None), None)
        if rechecked is not None:
            check.problem(
                rechecked.recheck.line if rechecked.recheck else rechecked.line,
                f"question '{rechecked.id}' declares recheck, so the rule file needs 'recheck_review'"
                " (id, patient and practitioner texts, source): what a returning patient reads when a"
                " changed answer sends the screening to review",
            )
        return None
    item = check.mapping(data["recheck_review"], check.line_of(data, "recheck_review"), "recheck_review")
    if item is None:
        return None
    review_id, what = check.head(item, "recheck_review", ("id", "patient", "practitioner", "source"))
    if review_id is not None and review_id in rule_ids:
        check.problem(check.line_of(item, "id"), f"{what}: '{review_id}' is already a rule's id")
    patient = check.text(item, "patient", what)
    practitioner = check.text(item, "practitioner", what)
    source = item.get("source")
    if not isinstance(source, str) or not source.strip():
        check.problem(check.line_of(item, "source"), f"{what} needs a 'source': where the check comes from")
        source = ""
    if review_id is None or patient is None or practitioner is None:
        return None
    return RecheckReview(
        id=review_id, patient=patient, practitioner=practitioner, source=source.strip(), line=item.line
    )
