"""The patient's documents: the privacy notice and consent pages, and the PDF of their result."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import force_locale

from ..core.facts import current_rescreen_after
from ..documents import consent_context, pdf_response, render_pdf
from ..web.audit import audit, screening_target
from ..web.clinic import get_clinic
from ..web.consent import consent_text
from ..web.i18n import format_iso_date, translate_text
from ..web.limits import limiter, pdf_rate_limit
from ..web.procedures import ruleset_of
from ..web.ruleset import get_ruleset
from .linked import linked_screening
from .notices import notice_context
from .result import sibling_results
from .views import bp


@bp.get("/privacy")
def privacy() -> ResponseReturnValue:
    """The privacy notice in force, in the patient's language."""
    return render_template("patient/text.html", text=consent_text("privacy"))


@bp.get("/consent")
def consent() -> ResponseReturnValue:
    """The consent text in force, in the patient's language."""
    return render_template("patient/text.html", text=consent_text("consent"))


@bp.get("/result/<token>/record.pdf")
@limiter.limit(pdf_rate_limit)
def result_pdf(token: str) -> ResponseReturnValue:
    """The patient's copy of their screening, as a PDF in the language they answered in."""
    screening = linked_screening(token)
    ruleset = ruleset_of(screening)
    siblings = sibling_results(screening)  # the other treatments screened from the same answers
    with force_locale(screening["language"] or get_ruleset(current_app).languages[0]):
        pdf = render_pdf(
            "documents/patient.html",
            screening=screening,
            ruleset=ruleset,
            siblings=siblings,
            rescreen_after=format_iso_date(current_rescreen_after(screening)),
            footer_text=f"{translate_text(get_clinic().name)} · {screening['reference']}",
            **consent_context(screening),
            **notice_context(screening, token),
            pdf=True,
        )
    for shown in [screening, *(sibling["screening"] for sibling in siblings)]:
        audit("document.patient_pdf", screening_target(shown["reference"]), actor="patient")
    return pdf_response(pdf, f"screening-{screening['reference']}.pdf")
