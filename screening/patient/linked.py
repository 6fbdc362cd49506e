"""The screening behind a patient's result token, read once a request: the link check
(``result_link``) reads it before the view, and the view it lets through reuses it."""

from __future__ import annotations

from flask import abort, g

from ..storage import ScreeningRecord, get_screening_by_token
from ..web.db import get_db


def linked_screening(token: str) -> ScreeningRecord:
    """The screening behind ``token`` as this request first read it; 404 if there is none."""
    cached = g.get("linked_screening")
    if cached is not None and cached[0] == token:
        return cached[1]  # type: ignore[no-any-return]
    screening = get_screening_by_token(get_db(), token)
    if screening is None:
        abort(404)
    g.linked_screening = (token, screening)
    return screening
