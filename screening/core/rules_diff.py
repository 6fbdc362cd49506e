"""What changes between two rule sets, in words, and what the change would do
to past screenings (re-evaluated under both, nothing stored).

Used by ``diff-rules`` on the command line and by the rules page for an
uploaded candidate file; both print the same report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .answers import InvalidAnswers
from .conditions import describe_condition
from .engine import Verdict, screen
from .examples import run_examples
from .model import Question, Rescreen, Rule, RuleBook, RuleSet, UnknownProcedure, pick_text

# Changes whose line is in the old file.
_REMOVED = ("rule_removed", "question_removed")
# The replay's "status" of answers that no longer fit a rule set's questionnaire.
INVALID = "invalid answers"


@dataclass(frozen=True)
class Change:
    """One difference between the old and the new rule set."""

    kind: str  # rule_added, rule_removed, condition, outcome, rescreen, texts, question_added, ...
    subject: str  # the rule or question id
    line: int  # its line in the new file (in the old one when it was removed)
    text: str  # the change in words


def _period(rescreen: Rescreen | None) -> str:
    return rescreen.describe() if rescreen else "none"


def _rule_changes(old: Rule, new: Rule) -> list[Change]:
    changes = []
    what = f"rule '{new.id}'"
    old_words, new_words = describe_condition(old.condition), describe_condition(new.condition)
    if old_words != new_words:
        changes.append(
            Change("condition", new.id, new.line, f"{what}: condition changed from {old_words} to {new_words}")
        )
    if old.outcome != new.outcome:
        changes.append(
            Change("outcome", new.id, new.line, f"{what}: outcome changed from {old.outcome} to {new.outcome}")
        )
    if old.rescreen != new.rescreen:
        changes.append(
            Change(
                "rescreen",
                new.id,
                new.line,
                f"{what}: waiting period changed from {_period(old.rescreen)} to {_period(new.rescreen)}",
            )
        )
    texts = [name for name in ("patient", "practitioner", "source") if getattr(old, name) != getattr(new, name)]
    if texts:
        changes.append(Change("texts", new.id, new.line, f"{what}: texts changed ({', '.join(texts)})"))
    return changes


def _question_changes(old: Question, new: Question) -> list[Change]:
    what = f"question '{new.id}'"
    changes = [
        Change("option_added", new.id, new.line, f"{what}: option '{value}' added")
        for value in sorted(new.option_values - old.option_values)
    ]
    changes += [
        Change("option_removed", new.id, new.line, f"{what}: option '{value}' removed")
        for value in sorted(old.option_values - new.option_values)
    ]
    if old.type != new.type:
        changes.append(Change("question_type", new.id, new.line, f"{what}: type changed from {old.type} to {new.type}"))
    old_shown = f"when {describe_condition(old.show_if)}" if old.show_if else "always"
    new_shown = f"when {describe_condition(new.show_if)}" if new.show_if else "always"
    if old_shown != new_shown:
        changes.append(Change("show_if", new.id, new.line, f"{what}: was asked {old_shown}, now {new_shown}"))
    if old.required != new.required:
        changes.append(
            Change("required", new.id, new.line, f"{what}: {'now required' if new.required else 'now optional'}")
        )
    return changes


def diff_rulesets(old: RuleSet, new: RuleSet) -> list[Change]:
    """Every difference that matters to a verdict or a reader, questions first, in file order."""
    changes: list[Change] = []
    for question in new.questions:
        before = old.question_by_id.get(question.id)
        if before is None:
            changes.append(Change("question_added", question.id, question.line, f"question '{question.id}' added"))
        else:
            changes += _question_changes(before, question)
    changes += [
        Change("question_removed", q.id, q.line, f"question '{q.id}' removed")
        for q in old.questions
        if q.id not in new.question_by_id
    ]
    old_rules = {rule.id: rule for rule in old.rules}
    new_ids = {rule.id for rule in new.rules}
    for rule in new.rules:
        if rule.id not in old_rules:
            text = f"rule '{rule.id}' added ({rule.outcome}): when {describe_condition(rule.condition)}"
            changes.append(Change("rule_added", rule.id, rule.line, text))
        else:
            changes += _rule_changes(old_rules[rule.id], rule)
    changes += [
        Change("rule_removed", r.id, r.line, f"rule '{r.id}' removed (was {r.outcome})")
        for r in old.rules
        if r.id not in new_ids
    ]
    return changes


@dataclass(frozen=True)
class StoredScreening:
    """What the replay needs of a stored screening."""

    reference: str
    day: dt.date  # the screening day: waiting periods and ages count from it
    answers: Mapping[str, Any]


@dataclass
class Replay:
    """How the verdicts of past screenings differ between two rule sets."""

    screenings: int = 0
    # (old status, new status) -> the references whose verdict changes that way, oldest first.
    transitions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # reference -> the rule ids that fire under only one of the two rule sets.
    rules: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        """How many verdicts would change."""
        return sum(len(refs) for refs in self.transitions.values())


def _verdict(ruleset: RuleSet, screening: StoredScreening) -> Verdict | None:
    try:
        return screen(ruleset, screening.answers, screening.day)
    except InvalidAnswers:
        return None


def fired_rules(verdict: Verdict) -> dict[str, str]:
    """Rule id -> outcome of every rule that fired, notes included."""
    return {reason.rule: reason.outcome for reason in (*verdict.reasons, *verdict.notes)}


def differing_rules(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The rules (id -> outcome) that fire under one rule set only, or with another outcome."""
    return sorted(rule for rule in before.keys() | after.keys() if before.get(rule) != after.get(rule))


def replay_screenings(old: RuleSet, new: RuleSet, screenings: Iterable[StoredScreening]) -> Replay:
    """Re-evaluate each screening on its own day under both rule sets; nothing is stored."""
    replay = Replay()
    for screening in sorted(screenings, key=lambda s: (s.day, s.reference)):
        replay.screenings += 1
        before, after = _verdict(old, screening), _verdict(new, screening)
        old_status = before.status if before else INVALID
        new_status = after.status if after else INVALID
        if old_status == new_status:
            continue
        replay.transitions.setdefault((old_status, new_status), []).append(screening.reference)
        replay.rules[screening.reference] = differing_rules(
            fired_rules(before) if before else {}, fired_rules(after) if after else {}
        )
    return replay


def report_lines(
    old: RuleSet,
    new: RuleSet,
    changes: list[Change],
    replay: Replay | None,
    days: int | None,
    *,
    failing: Sequence[str] = (),
) -> list[str]:
    """The report in words, as ``diff-rules`` prints it and the rules page shows it; ``failing``:
    the examples that fail (``file:line: ...``, see ``loader.load_candidate``)."""
    lines = [f"Rules: {old.path} ({old.full_version}) → {new.path} ({new.full_version})"]
    lines += [f"{old.path if c.kind in _REMOVED else new.path}:{c.line}: {c.text}" for c in changes]
    lines.append(f"{len(changes)} change(s).")
    if failing:
        lines.append(f"{len(failing)} example(s) fail under their file's rules (fix each, or the rules):")
        lines += [f"  {problem}" for problem in failing]
    if replay is not None:
        lines.append(
            f"Replay of {replay.screenings} screening(s) from the last {days} day(s): "
            f"{replay.changed} verdict(s) would change."
        )
        for (before, after), references in sorted(replay.transitions.items()):
            lines.append(f"  {before} → {after}: {len(references)}")
            lines.append(f"    {', '.join(references)}")
    return lines


def report_json(
    old: RuleSet,
    new: RuleSet,
    changes: list[Change],
    replay: Replay | None,
    days: int | None,
    *,
    failing: Sequence[str] = (),
) -> dict[str, Any]:
    """The report for tools (``diff-rules --format json``)."""
    data: dict[str, Any] = {
        "old": {"path": old.path, "version": old.full_version},
        "new": {"path": new.path, "version": new.full_version},
        "changes": [{"kind": c.kind, "subject": c.subject, "line": c.line, "text": c.text} for c in changes],
    }
    if failing:
        data["failing_examples"] = list(failing)
    if replay is not None:
        data["replay"] = {
            "days": days,
            "screenings": replay.screenings,
            "changed": replay.changed,
            "transitions": [
                {"from": before, "to": after, "count": len(refs), "references": refs}
                for (before, after), refs in sorted(replay.transitions.items())
            ],
        }
    return data


@dataclass(frozen=True)
class AdverseSession:
    """A past session with an adverse event, and the screening it was given on."""

    session_id: int
    screening: StoredScreening


# The verdicts that would have kept a patient from the session.
_STOPPING = frozenset({"deferred", "review", "ineligible"})


def stopped_adverse_sessions(ruleset: RuleSet, sessions: Iterable[AdverseSession]) -> tuple[int, list[str]]:
    """How many past sessions with an adverse event there are, and the references of the screenings
    behind those whose patient ``ruleset`` would have deferred, sent to review or found ineligible
    (each screening re-evaluated on its own day; nothing is stored)."""
    count, stopped = 0, []
    for session in sorted(sessions, key=lambda s: (s.screening.day, s.session_id)):
        count += 1
        verdict = _verdict(ruleset, session.screening)
        if verdict is not None and verdict.status in _STOPPING:
            stopped.append(session.screening.reference)
    return count, stopped


# --- Per procedure ------------------------------------------------------------------------------


@dataclass
class ProcedureDiff:
    """One procedure of two rule files compared: in both, or only in one (added or removed);
    the replay and the adverse-event count are filled in by the caller that has the database."""

    id: str
    name: str  # in the file's first language
    old: RuleSet | None
    new: RuleSet | None
    changes: list[Change] = field(default_factory=list)
    old_failing: list[str] = field(default_factory=list)  # the old file's failing examples of it
    new_failing: list[str] = field(default_factory=list)
    replay: Replay | None = None
    # How many past sessions of it had an adverse event, and the references the new rules would stop.
    adverse: tuple[int, list[str]] | None = None

    @property
    def state(self) -> str:
        """ "added", "removed" or "compared"."""
        if self.old is None:
            return "added"
        return "removed" if self.new is None else "compared"


def diff_rulebooks(old: RuleBook, new: RuleBook, procedure: str | None = None) -> list[ProcedureDiff]:
    """Each procedure of the two files compared, in the new file's order, then those removed
    (only ``procedure`` when given; raise ``UnknownProcedure`` when neither file declares it)."""
    ids = list(dict.fromkeys([*new.procedures, *old.procedures]))
    if procedure is not None:
        if procedure not in ids:
            raise UnknownProcedure(procedure, tuple(ids))
        ids = [procedure]
    diffs = []
    for pid in ids:
        before, after = old.procedures.get(pid), new.procedures.get(pid)
        shown = after or before
        assert shown is not None  # every id comes from one of the two files
        diffs.append(
            ProcedureDiff(
                pid,
                pick_text(shown.procedure.name, shown.languages[0]),
                before,
                after,
                diff_rulesets(before, after) if before and after else [],
                run_examples(before) if before else [],
                run_examples(after) if after else [],
            )
        )
    return diffs


def _adverse_line(adverse: tuple[int, list[str]]) -> str:
    count, stopped = adverse
    return (
        f"Sessions with an adverse event (all recorded): {count}; the new rules would have deferred,"
        f" sent to review or refused the patient of {len(stopped)}{': ' if stopped else '.'}{', '.join(stopped)}"
    )


def book_report_lines(old: RuleBook, new: RuleBook, diffs: Sequence[ProcedureDiff], days: int | None) -> list[str]:
    """The report of ``diff_rulebooks`` in words, a block per procedure under its id and name."""
    lines = [f"Rules: {old.path} ({old.full_version}) → {new.path} ({new.full_version})"]
    for diff in diffs:
        heading = f"Procedure {diff.id} ({diff.name})"
        if diff.new is None:
            lines.append(f"{heading}: removed (only in {old.path}).")
        elif diff.old is None:
            lines.append(f"{heading}: added in {new.path}, {len(diff.new.rules)} rule(s).")
            # Its failing examples, as a compared procedure lists them (after the header and count).
            lines += report_lines(diff.new, diff.new, [], None, None, failing=diff.new_failing)[2:]
        else:
            lines.append(f"{heading}:")
            failing = [*diff.old_failing, *diff.new_failing]
            lines += report_lines(diff.old, diff.new, diff.changes, diff.replay, days, failing=failing)[1:]
            if diff.adverse is not None:
                lines.append(_adverse_line(diff.adverse))
    return lines


def book_report_json(old: RuleBook, new: RuleBook, diffs: Sequence[ProcedureDiff], days: int | None) -> dict[str, Any]:
    """The report of ``diff_rulebooks`` for tools (``diff-rules --format json``): a part per procedure."""
    parts = []
    for diff in diffs:
        part: dict[str, Any] = {"id": diff.id, "name": diff.name, "state": diff.state}
        failing = [*diff.old_failing, *diff.new_failing]
        if diff.old is not None and diff.new is not None:
            report = report_json(diff.old, diff.new, diff.changes, diff.replay, days, failing=failing)
            part.update({key: value for key, value in report.items() if key not in ("old", "new")})
            if diff.adverse is not None:
                part["replay"]["adverse_events"] = {
                    "sessions": diff.adverse[0],
                    "stopped": len(diff.adverse[1]),
                    "references": diff.adverse[1],
                }
        else:
            part["changes"] = []
            if failing:
                part["failing_examples"] = failing
        parts.append(part)
    return {
        "old": {"path": old.path, "version": old.full_version},
        "new": {"path": new.path, "version": new.full_version},
        "procedures": parts,
    }
