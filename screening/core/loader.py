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
from typing import Any

import yaml

from .model import (
    DATE_TESTS,
    ID_PATTERN,
    NONE_OPTION,
    NOTE,
    QUESTION_TYPES,
    RESCREEN_UNITS,
    RESERVED_IDS,
    ROLES,
    RULE_OUTCOMES,
    UNSURE,
    Coding,
    Condition,
    Option,
    Procedure,
    Question,
    Rescreen,
    Rule,
    RuleFileError,
    RuleSet,
    Section,
    Test,
)

# --- YAML with line numbers --------------------------------------------------


class _LineDict(dict[str, Any]):
    """A mapping that remembers the line of each key and of itself."""

    line: int = 0
    key_lines: dict[str, int]


class _LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers and reads yes/no/on/off and dates as
    plain strings, since answers such as ``yes`` must not become booleans."""

    duplicate_keys: list[tuple[int, str]]


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key = str(key)
        if key in result:
            loader.duplicate_keys.append((key_node.start_mark.line + 1, key))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# --- Validation --------------------------------------------------------------


class _Checker:
    """Collects problems while building the rule set, so that one run
    reports every mistake in the file instead of only the first."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[str] = []
        self.languages: tuple[str, ...] = ("en",)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {message}")

    def line_of(self, parent: Any, key: str | int) -> int:
        if isinstance(parent, _LineDict) and isinstance(key, str):
            return parent.key_lines.get(key, parent.line)
        if isinstance(parent, _LineList) and isinstance(key, int):
            return parent.item_lines[key]
        return getattr(parent, "line", 1)

    def mapping(self, value: Any, line: int, what: str) -> _LineDict | None:
        if isinstance(value, _LineDict):
            return value
        self.problem(line, f"{what} must be a mapping of keys to values")
        return None

    def sequence(self, value: Any, line: int, what: str) -> _LineList | None:
        if isinstance(value, _LineList):
            return value
        self.problem(line, f"{what} must be a list")
        return None

    def text(self, parent: _LineDict, key: str, what: str, required: bool = True) -> dict[str, str] | None:
        """A translatable text: a string (one language) or {lang: string}."""
        line = self.line_of(parent, key)
        value = parent.get(key)
        if value is None or value == "":
            if required:
                self.problem(line, f"{what} is missing its '{key}' text")
            return None
        return self.text_value(value, line, f"{what} '{key}'")

    def text_value(self, value: Any, line: int, what: str) -> dict[str, str] | None:
        if isinstance(value, str):
            if len(self.languages) > 1:
                self.problem(
                    line,
                    f"{what} must give a translation for each language "
                    f"({', '.join(self.languages)}), e.g. {{{self.languages[0]}: ..., {self.languages[1]}: ...}}",
                )
            return {lang: value.strip() for lang in self.languages}
        if isinstance(value, _LineDict):
            result: dict[str, str] = {}
            for lang in self.languages:
                text = value.get(lang)
                if not isinstance(text, str) or not text.strip():
                    self.problem(value.key_lines.get(lang, line), f"{what} has no '{lang}' translation")
                else:
                    result[lang] = text.strip()
            for lang in value:
                if lang not in self.languages:
                    self.problem(
                        value.key_lines[lang],
                        f"{what} has a text in '{lang}', which is not in languages ({', '.join(self.languages)})",
                    )
            return result
        self.problem(line, f"{what} must be a text or a mapping of language to text")
        return None

    def identifier(self, item: _LineDict, what: str) -> str | None:
        value = item.get("id")
        if value is None:
            self.problem(item.line, f"{what} has no 'id'")
            return None
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.problem(
                self.line_of(item, "id"),
                f"{what} id {value!r} must start with a lower-case letter and use only a-z, 0-9 and _",
            )
            return None
        return value

    def unknown_keys(self, item: _LineDict, allowed: tuple[str, ...], what: str) -> None:
        for key in item:
            if key not in allowed:
                self.problem(
                    item.key_lines[key],
                    f"{what} has an unknown key '{key}' (allowed: {', '.join(allowed)})",
                )


def load_rules(path: str | Path) -> RuleSet:
    """Read, validate and return the rule set at ``path``; raise ``RuleFileError``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleFileError([f"{path}: cannot read the rule file: {exc.strerror or exc}"]) from exc
    return parse_rules(raw, str(path))


def parse_rules(raw: bytes, path: str = "rules.yaml") -> RuleSet:
    """Validate the rule file's bytes and build the rule set; raise ``RuleFileError``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError([f"{path}: the file is not valid UTF-8 (byte {exc.start})"]) from exc
    loader = _Loader(text)
    loader.duplicate_keys = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise RuleFileError([f"{path}:{line}: YAML syntax error: {exc.problem or exc.context}"]) from exc
    except yaml.YAMLError as exc:
        raise RuleFileError([f"{path}: YAML error: {exc}"]) from exc
    finally:
        loader.dispose()

    check = _Checker(path)
    for line, key in loader.duplicate_keys:
        check.problem(line, f"duplicate key '{key}'")
    if not isinstance(data, _LineDict):
        raise RuleFileError([f"{path}:1: the rule file must be a mapping with version, procedure, questions and rules"])
    ruleset = _build(data, check, hashlib.sha256(raw).hexdigest())
    if check.problems or ruleset is None:
        raise RuleFileError(check.problems)
    return ruleset


def _build(data: _LineDict, check: _Checker, digest: str) -> RuleSet | None:
    check.unknown_keys(
        data,
        ("version", "languages", "procedure", "option_sets", "sections", "questions", "rules"),
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

    procedure = _build_procedure(data, check)
    option_sets = _build_option_sets(data, check)
    sections = _build_sections(data, check)
    questions = _build_questions(data, check, option_sets, {s.id for s in sections})
    by_id = {q.id: q for q in questions}
    _check_follow_up_loops(questions, check)
    rules = _build_rules(data, check, by_id)
    _check_unsure_is_never_cleared(questions, rules, data, check)
    _check_rule_inputs_offer_unsure(questions, rules, check)
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
    )


def _build_procedure(data: _LineDict, check: _Checker) -> Procedure | None:
    item = check.mapping(data.get("procedure"), check.line_of(data, "procedure"), "procedure")
    if item is None:
        return None
    check.unknown_keys(item, ("name", "description", "course", "preparation", "aftercare"), "procedure")
    texts = {key: check.text(item, key, "procedure") or {} for key in ("name", "description", "course")}
    lists: dict[str, tuple[Mapping[str, str], ...]] = {}
    for key in ("preparation", "aftercare"):
        entries = check.sequence(item.get(key, _LineList()), check.line_of(item, key), f"procedure {key}")
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
    )


def _build_options(value: Any, line: int, check: _Checker, what: str) -> tuple[Option, ...]:
    entries = check.sequence(value, line, f"{what} options")
    if entries is None:
        return ()
    options: list[Option] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        entry_line = check.line_of(entries, index)
        if isinstance(entry, (str, int)):
            entry_value, label = str(entry), {lang: str(entry) for lang in check.languages}
        elif isinstance(entry, _LineDict) and "value" in entry:
            check.unknown_keys(entry, ("value", "label"), f"{what} option")
            entry_value = str(entry["value"])
            label = check.text(entry, "label", f"{what} option '{entry_value}'") or {}
        else:
            check.problem(entry_line, f"{what} option must be a value or {{value: ..., label: ...}}")
            continue
        if entry_value in seen:
            check.problem(entry_line, f"{what} has the option '{entry_value}' twice")
        seen.add(entry_value)
        options.append(Option(value=entry_value, label=label))
    return tuple(options)


def _build_option_sets(data: _LineDict, check: _Checker) -> dict[str, tuple[Option, ...]]:
    if "option_sets" not in data:
        return {}
    sets = check.mapping(data["option_sets"], check.line_of(data, "option_sets"), "option_sets")
    if sets is None:
        return {}
    return {
        name: _build_options(value, sets.key_lines[name], check, f"option set '{name}'") for name, value in sets.items()
    }


def _build_sections(data: _LineDict, check: _Checker) -> list[Section]:
    entries = check.sequence(data.get("sections"), check.line_of(data, "sections"), "sections")
    sections: list[Section] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries or []):
        item = check.mapping(entry, check.line_of(entries, index), "a section")
        if item is None:
            continue
        check.unknown_keys(item, ("id", "title"), "section")
        section_id = check.identifier(item, "a section")
        title = check.text(item, "title", f"section '{section_id}'")
        if section_id is None:
            continue
        if section_id in seen:
            check.problem(check.line_of(item, "id"), f"duplicate section id '{section_id}'")
            continue
        seen.add(section_id)
        sections.append(Section(id=section_id, title=title or {}))
    return sections


_QUESTION_KEYS = ("id", "section", "type", "text", "help", "options", "required", "show_if", "role", "unsure_exempt")


def _build_questions(
    data: _LineDict, check: _Checker, option_sets: dict[str, tuple[Option, ...]], section_ids: set[str]
) -> list[Question]:
    entries = check.sequence(data.get("questions"), check.line_of(data, "questions"), "questions")
    # Conditions in show_if may name later questions, so build them after
    # every question's id and options are known.
    drafts: list[tuple[_LineDict, Question]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries or []):
        item = check.mapping(entry, check.line_of(entries, index), "a question")
        if item is None:
            continue
        question_id = check.identifier(item, "a question")
        what = f"question '{question_id}'"
        check.unknown_keys(item, _QUESTION_KEYS, what)
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
        if question_id is None:
            continue
        if question_id in seen:
            check.problem(check.line_of(item, "id"), f"duplicate question id '{question_id}'")
            continue
        seen.add(question_id)
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
                ),
            )
        )
    by_id = {q.id: q for _, q in drafts}
    questions = []
    for item, question in drafts:
        if "show_if" in item:
            show_if = _build_condition(
                item["show_if"], check.line_of(item, "show_if"), check, by_id, f"question '{question.id}' show_if"
            )
            question = replace(question, show_if=show_if)
        questions.append(question)
    return questions


def _build_unsure_exempt(
    item: _LineDict, check: _Checker, what: str, qtype: Any, options: tuple[Option, ...]
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


def _check_follow_up_loops(questions: list[Question], check: _Checker) -> None:
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


def _check_unsure_is_never_cleared(
    questions: list[Question], rules: list[Rule], data: _LineDict, check: _Checker
) -> None:
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


def _rule_inputs(questions: list[Question], rules: list[Rule]) -> dict[str, set[str] | None]:
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


def _check_rule_inputs_offer_unsure(questions: list[Question], rules: list[Rule], check: _Checker) -> None:
    """Safety: a patient can say "I'm not sure" to every question a rule reads.

    "Reads" includes the follow-up triggers of a question a rule reads: they
    decide whether it is asked. A choice question offers "unsure" unless it
    declares ``unsure_exempt``. A multi question is required and offers "none"
    and "unsure" (unless exempt), so nothing left blank clears the patient; if
    a rule reads it, a rule reads each of its other options too, so nothing
    ticked is ignored. A date question has no options: the question it follows
    from offers "unsure", and an approximate date is an answer.
    """
    inputs = _rule_inputs(questions, rules)
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


_RULE_KEYS = ("id", "when", "outcome", "rescreen", "patient", "practitioner", "source", "code")


def _build_rules(data: _LineDict, check: _Checker, by_id: dict[str, Question]) -> list[Rule]:
    entries = check.sequence(data.get("rules"), check.line_of(data, "rules"), "rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries or []):
        item = check.mapping(entry, check.line_of(entries, index), "a rule")
        if item is None:
            continue
        rule_id = check.identifier(item, "a rule")
        what = f"rule '{rule_id}'"
        check.unknown_keys(item, _RULE_KEYS, what)
        if rule_id is not None and rule_id in seen:
            check.problem(check.line_of(item, "id"), f"duplicate rule id '{rule_id}'")
        if "when" not in item:
            check.problem(item.line, f"{what} has no 'when' condition")
            condition = None
        else:
            condition = _build_condition(item["when"], check.line_of(item, "when"), check, by_id, what)
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


def _build_coding(value: Any, line: int, check: _Checker, what: str) -> Coding | None:
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


def _build_roles(questions: list[Question], check: _Checker) -> dict[str, str]:
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


def _build_rescreen(value: Any, line: int, check: _Checker, by_id: dict[str, Question], what: str) -> Rescreen | None:
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


def _build_condition(value: Any, line: int, check: _Checker, by_id: dict[str, Question], what: str) -> Condition | None:
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
                _build_condition(sub, check.line_of(entries, i), check, by_id, what) for i, sub in enumerate(entries)
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
    key: str, expected: Any, line: int, check: _Checker, by_id: dict[str, Question], what: str
) -> Test | None:
    question = by_id.get(key)
    if question is None:
        check.problem(line, f"{what} names an unknown question '{key}'")
        return None
    if isinstance(expected, _LineDict):
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
