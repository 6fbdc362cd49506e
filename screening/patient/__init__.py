"""The patient's pages: the start page, the questionnaire and the result."""

from __future__ import annotations

from flask import Flask

from . import (
    documents,  # noqa: F401 - adds the privacy notice and the result PDF to the blueprint
    notices,
)
from .views import bp


def init_app(app: Flask) -> None:
    """Register the patient pages."""
    app.register_blueprint(bp)
    app.register_blueprint(notices.bp)  # the e-mailed link, the reminder, the print view
