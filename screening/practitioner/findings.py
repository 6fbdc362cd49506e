"""The findings box of the detail page: each answer that contradicts the same
patient's recent one, and a new screening before an earlier deferral's date
(``core.history``), in the reader's language, with a link to the earlier screening."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, url_for

from ..core.history import BEFORE_DEFERRAL
from ..core.model import pick_text
from ..web.i18n import current_language, format_iso_date
from ..web.ruleset import get_ruleset
from .answer_rows import answer_label
from .blueprint import bp


@bp.app_template_global()
def screening_findings(screening: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The screening's findings as the detail page lists them (none: an empty list)."""
    ruleset = get_ruleset(current_app)
    language = current_language()
    rows = []
    for finding in screening.get("findings") or []:
        row = {
            "kind": finding["kind"],
            "reference": finding["reference"],
            "url": url_for("practitioner.detail", reference=finding["reference"]),
            "answered_on": format_iso_date(finding["answered_on"]),
            "rescreen_after": format_iso_date(finding["rescreen_after"]) if finding.get("rescreen_after") else "",
        }
        if finding["kind"] != BEFORE_DEFERRAL:
            question = ruleset.question_by_id.get(finding["question"] or "")
            # The text stored with the finding: the rule file may have changed since.
            row["question_id"] = finding["question"]
            row["question"] = pick_text(finding.get("text"), language) or finding["question"]
            row["earlier"] = answer_label(question, finding["earlier"], language) if question else finding["earlier"]
            row["now"] = answer_label(question, finding["now"], language) if question else finding["now"]
        rows.append(row)
    return rows
