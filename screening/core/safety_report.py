"""The safety report: sessions given, check-ins answered and adverse events by kind and
grade, per procedure and per rules version of the screening behind each session, and
for each adverse event the answers and the rules that fired (or did not) at that
screening. Pure: the rows come from ``storage.session_checks``; ``safety-report`` and
the admin page print the same report."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Group:
    """One procedure under one rules version."""

    procedure: str
    rules_version: str
    sessions: int = 0
    check_ins: int = 0
    # (kind, grade) -> events
    events: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class EventLine:
    """An adverse event with the screening behind its session."""

    reference: str
    procedure: str
    rules_version: str
    given_on: str
    number: int
    kind: str
    grade: str
    onset_on: str
    outcome: str
    source: str
    follow_up: str
    answers: Mapping[str, Any]
    fired: tuple[str, ...]  # rule ids (reasons and notes) the screening's verdict named
    not_fired: tuple[str, ...] | None  # the other rules of that version, when it is the one in force


@dataclass
class SafetyReport:
    """The report over a span of session days."""

    first_day: str
    last_day: str
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    events: list[EventLine] = field(default_factory=list)


def build_report(
    first_day: str,
    last_day: str,
    sessions: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    rules_in_force: Callable[[str, str], tuple[str, ...] | None],
) -> SafetyReport:
    """The report from session rows (procedure, rules_version, check_ins_answered) and adverse-event
    rows (the screening's columns with the event's); ``rules_in_force(procedure, version)`` gives
    that version's rule ids when it is the one in force, else None (its rules are not at hand)."""
    report = SafetyReport(first_day, last_day)

    def group(row: Mapping[str, Any]) -> Group:
        key = (str(row["procedure"]), str(row["rules_version"]))
        return report.groups.setdefault(key, Group(*key))

    for session in sessions:
        entry = group(session)
        entry.sessions += 1
        entry.check_ins += int(session["check_ins_answered"] or 0)
    for event in events:
        group(event).events[(event["kind"], event["grade"])] += 1
        fired = tuple(dict.fromkeys(r["rule"] for r in [*event["reasons"], *event["notes"]]))
        every = rules_in_force(event["procedure"], event["rules_version"])
        report.events.append(
            EventLine(
                reference=event["reference"],
                procedure=event["procedure"],
                rules_version=event["rules_version"],
                given_on=event["given_on"],
                number=int(event["number"]),
                kind=event["kind"],
                grade=event["grade"],
                onset_on=event["onset_on"],
                outcome=event["outcome"],
                source=event["source"],
                follow_up=event["follow_up"] or "",
                answers=event["answers"],
                fired=fired,
                not_fired=None if every is None else tuple(r for r in every if r not in fired),
            )
        )
    return report


def _answers_text(answers: Mapping[str, Any]) -> str:
    return "; ".join(f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in answers.items())


def report_lines(report: SafetyReport) -> list[str]:
    """The report as text (``safety-report --format text``)."""
    lines = [f"Safety report: sessions given from {report.first_day} to {report.last_day}"]
    if not report.groups:
        lines.append("No session given in this span.")
    for (procedure, version), entry in sorted(report.groups.items()):
        total = sum(entry.events.values())
        lines.append(
            f"{procedure}, rules {version}: {entry.sessions} session(s), {entry.check_ins} check-in(s) answered,"
            f" {total} adverse event(s)"
        )
        for (kind, grade), count in sorted(entry.events.items()):
            lines.append(f"  {kind} ({grade}): {count}")
    for event in report.events:
        lines.append(
            f"Adverse event: {event.reference} session {event.number} on {event.given_on}:"
            f" {event.kind} ({event.grade}), began {event.onset_on}, {event.outcome}, {event.source}"
        )
        lines.append(f"  rules {event.rules_version} fired: {', '.join(event.fired) or 'none'}")
        if event.not_fired is None:
            lines.append("  rules not fired: not known (that rules version is no longer in force)")
        else:
            lines.append(f"  rules not fired: {len(event.not_fired)}")
        lines.append(f"  answers: {_answers_text(event.answers)}")
    return lines


CSV_COLUMNS = (
    "row",
    "procedure",
    "rules_version",
    "sessions",
    "check_ins_answered",
    "kind",
    "grade",
    "events",
    "reference",
    "session_number",
    "given_on",
    "onset_on",
    "outcome",
    "source",
    "follow_up",
    "rules_fired",
    "rules_not_fired",
    "answers",
)


def report_csv(report: SafetyReport, cell: Callable[[Any], str] = str) -> str:
    """The report as CSV: a "group" row per procedure and rules version, a "count" row per kind and
    grade, an "event" row per adverse event (``safety-report --format csv``); ``cell`` writes each
    value (the export's, which keeps a spreadsheet from reading free text as a formula)."""
    rows: list[dict[str, Any]] = []
    for (procedure, version), entry in sorted(report.groups.items()):
        base = {"procedure": procedure, "rules_version": version}
        rows.append({**base, "row": "group", "sessions": entry.sessions, "check_ins_answered": entry.check_ins})
        rows += [
            {**base, "row": "count", "kind": kind, "grade": grade, "events": count}
            for (kind, grade), count in sorted(entry.events.items())
        ]
    for event in report.events:
        rows.append(
            {
                "row": "event",
                "procedure": event.procedure,
                "rules_version": event.rules_version,
                "kind": event.kind,
                "grade": event.grade,
                "reference": event.reference,
                "session_number": event.number,
                "given_on": event.given_on,
                "onset_on": event.onset_on,
                "outcome": event.outcome,
                "source": event.source,
                "follow_up": event.follow_up,
                "rules_fired": " ".join(event.fired),
                "rules_not_fired": "" if event.not_fired is None else " ".join(event.not_fired),
                "answers": _answers_text(event.answers),
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: cell(value) for key, value in row.items()})
    return out.getvalue()
