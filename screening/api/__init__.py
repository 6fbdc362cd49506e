"""The clinic's other systems: the JSON API, its OpenAPI document and FHIR R4.

The ``api`` blueprint (``blueprint.py``) gets its routes from
``questionnaire.py``, ``screenings.py`` and ``patient_record.py``; the ``fhir`` blueprint is in
``fhir.py``. Importing those modules here is what adds their routes.
"""

from __future__ import annotations

from flask import Flask

from . import fhir, patient_record, questionnaire, screenings
from .blueprint import bp

__all__ = ["fhir", "init_app", "patient_record", "questionnaire", "screenings"]


def init_app(app: Flask) -> None:
    """Register the API and FHIR blueprints."""
    app.register_blueprint(bp)
    app.register_blueprint(fhir.bp)
