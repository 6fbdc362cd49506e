"""A patient's contact details and the screening's status, without the answers:
what reception needs to call a patient back or book a session."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from ..web.audit import audit, screening_target
from .blueprint import bp
from .detail import screening_or_404


@bp.get("/screening/<reference>/contact")
def contact(reference: str) -> ResponseReturnValue:
    """Name, contact details, reference and status of one screening."""
    screening = screening_or_404(reference)
    audit("screening.view", screening_target(screening["reference"]), {"part": "contact"})
    return render_template("practitioner/contact.html", screening=screening)
