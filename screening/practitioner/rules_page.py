"""The rules page: the rule set in words, a form to try any answer set on it
(nothing is stored), and the report on an uploaded candidate rule file (what
it changes, its warnings, and which past verdicts it would change)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from .. import storage
from ..core.engine import InvalidAnswers, clean_answers, evaluate, visible_questions
from ..core.lint import lint_rules
from ..core.loader import parse_book_candidate
from ..core.model import RuleBook, RuleFileError, RuleSet, UnknownProcedure, pick_text
from ..core.rules_diff import StoredScreening, diff_rulebooks, replay_screenings
from ..web.audit import audit
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.procedures import PROCEDURE_FIELD, procedure_names
from ..web.ruleset import get_rulebook, get_ruleset
from .answer_rows import answer_label
from .blueprint import bp
from .clock import day_start, to_local
from .forms import CandidateRulesForm, try_rules_form_class
from .rule_change_forms import ProposeRulesForm, encode_rules_text
from .words import condition_text, rescreen_text, rule_titles


@bp.route("/rules", methods=["GET", "POST"])
def rules() -> ResponseReturnValue:
    """A procedure's rule set in words (``?procedure=``, the default's when absent), and a form to
    try any answer set on it (nothing is stored)."""
    book = get_rulebook(current_app)
    try:
        ruleset = book.get(request.args.get(PROCEDURE_FIELD) or None)
    except UnknownProcedure:
        abort(404)
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
    return render_template(
        "practitioner/rules.html",
        ruleset=ruleset,
        procedures=procedure_names(language),
        form=form,
        result=result,
        today=today,
        # The workspace's helpers read the default procedure's questions: these read this one's.
        rule_titles=rule_titles(ruleset, language),
        condition_text=lambda condition: condition_text(condition, ruleset, language),
        rescreen_text=lambda rescreen: rescreen_text(rescreen, ruleset, language),
    ), status


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


def stored_screenings(days: int, procedure: str | None = None) -> Iterator[StoredScreening]:
    """The screenings of the last ``days`` clinic days (of ``procedure``; None: every one), each
    with its own screening day."""
    since = day_start(screening_day() - dt.timedelta(days=days))
    rows = storage.iter_screenings(
        get_db(),
        storage.ScreeningFilter(since=since, procedure=procedure),
        columns="id, reference, created_at, answers",
    )
    for row in rows:
        yield StoredScreening(row["reference"], to_local(row["created_at"]).date(), row["answers"])


@bp.route("/rules/candidate", methods=["GET", "POST"])
def candidate_rules() -> ResponseReturnValue:
    """Compare an uploaded rule file with the rules in force, procedure by procedure; replay past
    screenings (nothing is stored)."""
    # A rule file is larger than any other form the app takes.
    request.max_content_length = int(current_app.config["RULES_UPLOAD_MAX_BYTES"])
    ruleset = get_ruleset(current_app)
    form = CandidateRulesForm(formdata=None) if request.method == "GET" else CandidateRulesForm()
    report: dict[str, Any] | None = None
    problems: list[str] = []
    propose_form = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            upload = form.rules_file.data
            raw = upload.read()
            try:
                # Examples that fail under the candidate's rules are part of what it changes, not a refusal.
                candidate, _failing = parse_book_candidate(raw, upload.filename or "candidate.yaml")
            except RuleFileError as error:
                problems = error.problems
            else:
                status = 200
                report = candidate_report(get_rulebook(current_app), candidate, form.days.data)
                # The file the report was made of, for the administrator to propose (rule_changes).
                data = {"rules_text": encode_rules_text(raw), "days": form.days.data or ""}
                propose_form = ProposeRulesForm(formdata=None, data=data)
    return render_template(
        "practitioner/rules_candidate.html",
        ruleset=ruleset,
        form=form,
        report=report,
        problems=problems,
        propose_form=propose_form,
    ), status


def candidate_report(book: RuleBook, candidate: RuleBook, days: int | None) -> dict[str, Any]:
    """What the candidate changes in each procedure, its warnings, the examples that fail under
    its rules, and (with ``days``) the verdicts of each procedure's past screenings it would change."""
    language = current_language()
    parts: list[dict[str, Any]] = []
    for diff in diff_rulebooks(book, candidate):
        if days and diff.old is not None and diff.new is not None:
            diff.replay = replay_screenings(diff.old, diff.new, stored_screenings(days, diff.id))
        shown = diff.new or diff.old
        assert shown is not None  # a procedure of one of the two files
        parts.append(
            {
                "id": diff.id,
                "name": pick_text(shown.procedure.name, language),
                "state": diff.state,
                "changes": diff.changes,
                "warnings": lint_rules(diff.new) if diff.new else [],
                "examples": len(diff.new.examples) - len(diff.new_failing) if diff.new else 0,
                "failing": diff.new_failing,
                "replay": diff.replay,
            }
        )
    if days:
        replayed = sum(part["replay"].screenings for part in parts if part["replay"])
        audit("rules.replay", details={"days": days, "screenings": replayed})
    return {
        "candidate": candidate,
        "procedures": parts,
        "failing": [problem for part in parts for problem in part["failing"]],
        "days": days,
    }
