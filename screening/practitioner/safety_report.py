"""The safety report (``core.safety_report``): an admin page and the ``safety-report``
command, over the sessions given in a span of days (default: the last year)."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app, render_template, request
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue

from ..core.model import UnknownProcedure
from ..core.rules_diff import AdverseSession, StoredScreening
from ..core.safety_report import SafetyReport, build_report, report_csv, report_lines
from ..storage import session_checks as checks
from ..web.audit import audit
from ..web.db import get_db, screening_day
from ..web.ruleset import get_ruleset
from .adverse_events import EVENT_GRADE_LABELS, EVENT_KIND_LABELS, EVENT_OUTCOME_LABELS, EVENT_SOURCE_LABELS
from .blueprint import bp
from .clock import to_local
from .export import neutralise

DEFAULT_DAYS = 365


def rules_in_force(procedure: str, version: str) -> tuple[str, ...] | None:
    """The rule ids of ``procedure`` when ``version`` is the version in force; else None."""
    try:
        ruleset = get_ruleset(current_app, procedure=procedure)
    except UnknownProcedure:
        return None
    return tuple(rule.id for rule in ruleset.rules) if ruleset.full_version == version else None


def safety_report(first_day: dt.date, last_day: dt.date) -> SafetyReport:
    """The report over the sessions given from ``first_day`` to ``last_day``."""
    db, first, last = get_db(), first_day.isoformat(), last_day.isoformat()
    return build_report(
        first,
        last,
        checks.list_sessions_given(db, first, last),
        checks.list_adverse_events(db, first, last),
        rules_in_force,
    )


def _day(value: str | None, default: dt.date) -> dt.date | None:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


@bp.get("/safety-report")
def safety_report_page() -> ResponseReturnValue:
    """Sessions, check-ins and adverse events per procedure and rules version, and each event's screening."""
    today = screening_day()
    first = _day(request.args.get("from"), today - dt.timedelta(days=DEFAULT_DAYS))
    last = _day(request.args.get("to"), today)
    error = None
    if first is None or last is None or first > last:
        error = True
        first, last = today - dt.timedelta(days=DEFAULT_DAYS), today
    report = safety_report(first, last)
    audit("safety.report", None, {"from": first.isoformat(), "to": last.isoformat(), "events": len(report.events)})
    return render_template(
        "practitioner/safety_report.html",
        report=report,
        first=first,
        last=last,
        error=error,
        kind_labels=EVENT_KIND_LABELS,
        grade_labels=EVENT_GRADE_LABELS,
        outcome_labels=EVENT_OUTCOME_LABELS,
        source_labels=EVENT_SOURCE_LABELS,
    ), (400 if error else 200)


@click.command("safety-report")
@with_appcontext
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First session day (default: a year ago).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last session day (default: today).")
@click.option("--format", "output", type=click.Choice(["text", "csv"]), default="text", show_default=True)
def safety_report_command(first: dt.datetime | None, last: dt.datetime | None, output: str) -> None:
    """Print the safety report: sessions given, check-ins answered, adverse events by kind and grade,
    per procedure and rules version, and each adverse event's answers and rules."""
    today = screening_day()
    first_day = first.date() if first else today - dt.timedelta(days=DEFAULT_DAYS)
    last_day = last.date() if last else today
    if first_day > last_day:
        raise click.BadParameter("--from must not be after --to", param_hint="--from")
    report = safety_report(first_day, last_day)
    audit(
        "safety.report", None, {"from": first_day.isoformat(), "to": last_day.isoformat(), "events": len(report.events)}
    )
    if output == "csv":
        click.echo(report_csv(report, neutralise), nl=False)
    else:
        click.echo("\n".join(report_lines(report)))


def adverse_event_sessions(procedure: str) -> list[AdverseSession]:
    """Every past session of ``procedure`` with an adverse event, with its screening's answers and day."""
    sessions: dict[int, AdverseSession] = {}
    for row in checks.list_adverse_events(get_db()):
        if row["procedure"] == procedure and row["session_id"] not in sessions:
            day = to_local(row["created_at"]).date()
            sessions[row["session_id"]] = AdverseSession(
                row["session_id"], StoredScreening(row["reference"], day, row["answers"])
            )
    return list(sessions.values())
