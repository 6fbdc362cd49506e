"""The rules page: the rule set in words, and a form to try any answer set
on it (nothing is stored)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from ..core.engine import InvalidAnswers, clean_answers, evaluate, visible_questions
from ..core.model import RuleSet, pick_text
from ..web.db import screening_day
from ..web.i18n import current_language
from ..web.ruleset import get_ruleset
from .answer_rows import answer_label
from .blueprint import bp
from .forms import try_rules_form_class
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
