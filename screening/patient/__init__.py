"""The patient's pages: the start page, the questionnaire, the result and the next screening."""

from __future__ import annotations

from flask import Flask

from . import returning  # noqa: F401  (its routes join the blueprint)
from .views import bp


def init_app(app: Flask) -> None:
    """Register the patient pages."""
    app.register_blueprint(bp)
