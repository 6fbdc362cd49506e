"""A screening's chart copy as a PDF, and the consent texts patients signed."""

from __future__ import annotations

from flask import abort, current_app, render_template
from flask.typing import ResponseReturnValue

from .. import storage
from ..core.consent import ConsentText
from ..documents import consent_context, pdf_response, render_pdf
from ..web.audit import audit, screening_target
from ..web.clinic import get_clinic
from ..web.course import course_progress
from ..web.db import get_db
from ..web.i18n import current_language, translate_text
from ..web.ruleset import get_ruleset
from .answer_rows import history
from .blueprint import bp
from .detail import answer_context, screening_or_404


@bp.get("/screening/<reference>/chart.pdf")
def chart_pdf(reference: str) -> ResponseReturnValue:
    """Everything about one screening for the paper file, in the practitioner's language."""
    screening = screening_or_404(reference)
    db = get_db()
    ruleset = get_ruleset(current_app)
    language = current_language()
    reviews = storage.list_reviews(db, screening["id"])
    reconfirmations = storage.list_reconfirmations(db, screening["id"])
    pdf = render_pdf(
        "documents/chart.html",
        screening=screening,
        ruleset=ruleset,
        **answer_context(screening, language),
        history=history(screening, reviews, reconfirmations, ruleset, language),
        integrity=storage.integrity_matches(db, screening),
        course=course_progress(db, screening.get("patient_id"), screening["procedure"]),
        footer_text=f"{translate_text(get_clinic().name)} · {screening['reference']} · {screening['patient_name']}",
        **consent_context(screening),
    )
    audit("document.chart_pdf", screening_target(screening["reference"]))
    return pdf_response(pdf, f"chart-{screening['reference']}.pdf")


@bp.get("/consent/<sha256>")
def consent_text(sha256: str) -> ResponseReturnValue:
    """A consent or privacy text exactly as patients signed it, by its SHA-256."""
    record = storage.get_consent_text(get_db(), sha256)
    if record is None:
        abort(404)
    text = ConsentText(record["kind"], record["language"], record["version"], record["body"])
    return render_template("practitioner/consent_text.html", text=text, record=record)
