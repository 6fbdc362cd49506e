"""The patient's pages: the start page, the questionnaire, the result and the next screening."""

from __future__ import annotations

from flask import Flask

# Importing these adds their routes to the blueprint (documents: the privacy notice and the
# result PDF; returning: the next screening) and the notices blueprint.
from . import documents, notices, returning  # noqa: F401
from .views import bp


def init_app(app: Flask) -> None:
    """Register the patient pages."""
    app.register_blueprint(bp)
    app.register_blueprint(notices.bp)  # the e-mailed link, the reminder, the print view
