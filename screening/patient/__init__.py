"""The patient's pages: the start page, the questionnaire, the result and the next screening."""

from __future__ import annotations

from flask import Flask

# Importing these adds their routes to the blueprint (result: the result page; documents: the
# privacy notice and the result PDF; returning: the next screening; link_confirm: "Is this you?"
# from the e-mailed record link; kiosk: the reception tablet's result and "Done"; session_checks:
# the checks before and after a course session) and the notices blueprint;
# result_link puts the one expiry check and audit before every view a result token reaches.
from . import documents, kiosk, link_confirm, notices, result, result_link, returning, session_checks  # noqa: F401
from .views import bp


def init_app(app: Flask) -> None:
    """Register the patient pages."""
    app.register_blueprint(bp)
    app.register_blueprint(notices.bp)  # the e-mailed link, the reminder, the print view
