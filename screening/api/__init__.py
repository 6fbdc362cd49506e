"""The clinic's other systems: the JSON API, its OpenAPI document and FHIR R4."""

from __future__ import annotations

from flask import Flask

from . import fhir, views


def init_app(app: Flask) -> None:
    """Register the API and FHIR blueprints."""
    app.register_blueprint(views.bp)
    app.register_blueprint(fhir.bp)
