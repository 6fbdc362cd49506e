"""The rules page: the rule set in words, a form to try any answer set on it
(nothing is stored), and the report on an uploaded candidate rule file (what
it changes, its warnings, and which past verdicts it would change)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from .. import storage
from ..core.engine import InvalidAnswers, clean_answers, evaluate, visible_questions
from ..core.lint import lint_rules
from ..core.loader import parse_candidate
from ..core.model import RuleFileError, RuleSet, pick_text
from ..core.rules_diff import StoredScreening, diff_rulesets, replay_screenings
from ..web.audit import audit
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.ruleset import get_ruleset
from .answer_rows import answer_label
from .blueprint import bp
from .clock import day_start, to_local
from .forms import CandidateRulesForm, try_rules_form_class
from .words import condition_text


@bp.route("/rules", methods=["GET", "POST"])
def rules() -> ResponseReturnValue:
    """The rule set in words, and a form to try any answer set (nothing is stored)."""
    ruleset = get_ruleset(current_app)
    language = current_language()
    form_class = try_rules_form_class(ruleset, language)
    today = screening_day()
    result = None
    status = 200
    if request.method == "GET":
        form = form_class(formdata=None, data={"screening_day": today})
    else:
        form = form_class()
        day = form.screening_day.data or today
        if not form.validate():
            status = 400
        else:
            try:
                answers = clean_answers(ruleset, form.raw_answers(ruleset), day, partial=True)
            except InvalidAnswers as error:
                form.add_answer_errors(error)
                status = 400
            else:
                result = try_result(ruleset, answers, day, language)
    return render_template("practitioner/rules.html", ruleset=ruleset, form=form, result=result, today=today), status


def try_result(ruleset: RuleSet, answers: dict[str, Any], day: dt.date, language: str) -> dict[str, Any]:
    """The verdict on a tried answer set, each reason with the answers behind it."""
    verdict = evaluate(ruleset, answers, day)
    rules_by_id = {r.id: r for r in ruleset.rules}
    reasons = []
    for reason in (*verdict.reasons, *verdict.notes):
        because = []
        for question_id in reason.questions:
            question = ruleset.question_by_id[question_id]
            because.append((pick_text(question.text, language), answer_label(question, answers[question_id], language)))
        reasons.append(
            {
                "rule": reason.rule,
                "outcome": reason.outcome,
                "condition": condition_text(rules_by_id[reason.rule].condition, ruleset, language),
                "because": because,
                "practitioner": pick_text(reason.practitioner, language),
                "rescreen_after": reason.rescreen_after,
            }
        )
    shown = visible_questions(ruleset, answers, day)
    unanswered = [
        pick_text(q.text, language) for q in ruleset.questions if q.required and q.id not in answers and q.id in shown
    ]
    return {"verdict": verdict, "reasons": reasons, "unanswered": unanswered, "day": day}


def stored_screenings(days: int) -> Iterator[StoredScreening]:
    """The screenings of the last ``days`` clinic days, each with its own screening day."""
    since = day_start(screening_day() - dt.timedelta(days=days))
    rows = storage.iter_screenings(
        get_db(), storage.ScreeningFilter(since=since), columns="id, reference, created_at, answers"
    )
    for row in rows:
        yield StoredScreening(row["reference"], to_local(row["created_at"]).date(), row["answers"])


@bp.route("/rules/candidate", methods=["GET", "POST"])
def candidate_rules() -> ResponseReturnValue:
    """Compare an uploaded rule file with the rules in force; replay past screenings (nothing is stored)."""
    # A rule file is larger than any other form the app takes.
    request.max_content_length = int(current_app.config["RULES_UPLOAD_MAX_BYTES"])
    ruleset = get_ruleset(current_app)
    form = CandidateRulesForm(formdata=None) if request.method == "GET" else CandidateRulesForm()
    report: dict[str, Any] | None = None
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            upload = form.rules_file.data
            try:
                # Examples that fail under the candidate's rules are part of what it changes, not a refusal.
                candidate, failing = parse_candidate(upload.read(), upload.filename or "candidate.yaml")
            except RuleFileError as error:
                problems = error.problems
            else:
                status = 200
                report = candidate_report(ruleset, candidate, form.days.data, failing)
    return render_template(
        "practitioner/rules_candidate.html", ruleset=ruleset, form=form, report=report, problems=problems
    ), status


def candidate_report(
    ruleset: RuleSet, candidate: RuleSet, days: int | None, failing: list[str] | None = None
) -> dict[str, Any]:
    """What the candidate changes, its warnings, the examples that ``failing`` under its rules, and
    (with ``days``) the verdicts it would change."""
    replay = None
    if days:
        replay = replay_screenings(ruleset, candidate, stored_screenings(days))
        audit("rules.replay", details={"days": days, "screenings": replay.screenings})
    return {
        "candidate": candidate,
        "changes": diff_rulesets(ruleset, candidate),
        "warnings": lint_rules(candidate),
        "examples": len(candidate.examples) - len(failing or []),
        "failing": failing or [],
        "replay": replay,
        "days": days,
    }
