"""The patient's result page behind the unguessable link: the verdict in plain words, and the
verdict of every other treatment screened from the same answers."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue

from ..core.facts import current_rescreen_after
from ..core.model import UNSURE
from ..storage import ScreeningRecord, list_submission_screenings
from ..web.audit import audit, screening_target
from ..web.db import get_db
from ..web.i18n import format_iso_date
from ..web.patch_test import patient_patch
from ..web.procedures import ruleset_of
from .linked import linked_screening
from .notices import effective_status, notice_context
from .views import bp


@bp.get("/result/<token>")
def result(token: str) -> ResponseReturnValue:
    """The verdict, in plain words, behind an unguessable link (expiry: ``result_link``)."""
    screening = linked_screening(token)
    ruleset = ruleset_of(screening)
    # The other procedures screened from the same answers: a verdict for each, each view audited
    # (the link check audits the screening the link names).
    siblings = sibling_results(screening)
    for sibling in siblings:
        audit(
            "screening.view",
            screening_target(sibling["screening"]["reference"]),
            {"via": "result link", "page": request.endpoint, "with": screening["reference"]},
            actor="patient",
        )
    return render_template(
        "patient/result.html",
        screening=screening,
        ruleset=ruleset,
        rescreen_after=format_iso_date(current_rescreen_after(screening)),
        siblings=siblings,
        patch=patient_patch(get_db(), ruleset, screening),  # a test patch before the first session
        **notice_context(screening, token),  # the token too: the page links its PDF and notices
        # Rules that fire on "not sure" answers: their reason names the questions answered so.
        unsure_rules={rule.id for rule in ruleset.rules if rule.condition.any_answer == UNSURE},
    )


def sibling_results(screening: ScreeningRecord) -> list[dict[str, Any]]:
    """The other screenings made from the same answers for other procedures, each with its rule
    set and the verdict that counts (a practitioner's decision once there is one)."""
    submission = screening.get("submission")
    if not submission:
        return []
    return [
        {
            "screening": other,
            "ruleset": ruleset_of(other),
            "status": effective_status(other),
            "rescreen_after": format_iso_date(current_rescreen_after(other)),
        }
        for other in list_submission_screenings(get_db(), submission)
        if other["id"] != screening["id"]
    ]
