"""Schemathesis against the app in-process (WSGI), driven by /api/v1/openapi.json.

Every operation gets a small, fixed number of generated requests, valid and
invalid; each response must not be a server error and must agree with the
document (status code, content type, headers, body schema), and requests the
document forbids must be refused. Bearer operations get a live token.

All of Schemathesis's checks run except positive_data_acceptance: the document
states what a request must look like, but the server also checks what no
schema can say (dates against today, follow-ups needed only when shown,
e-mail and phone formats after trimming), so a schema-valid request may be
refused with a documented 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from screening import storage
from screening.api.openapi import openapi_document
from screening.core.loader import load_rulebook
from screening.web.db import get_db
from tests.helpers import CLEAR_ANSWERS, RULES_FILE, build_app

# schemathesis generates hundreds of requests: seconds.
pytestmark = pytest.mark.slow

MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the whole run, without rate limits (Schemathesis sends many requests)."""
    path: Path = tmp_path_factory.mktemp("openapi")
    app = build_app(path, WTF_CSRF_ENABLED=True)
    app_under_test.app = app
    yield app
    app_under_test.app = None


@pytest.fixture(scope="module")
def api_token(api_app: Flask) -> str:
    with api_app.app_context():
        db = get_db()
        practitioner_id = storage.create_practitioner(db, "sync@example.com", "EHR", "x")
        return storage.create_api_token(db, practitioner_id, "schemathesis")


@pytest.fixture(scope="module")
def references(api_app: Flask) -> list[str]:
    """Stored screenings, so reads are tested with found ones as well as 404s."""
    client = api_app.test_client()
    found = []
    for changes in ({}, {"pregnant": "yes", "cancer": "active", "concerns": ["scars"]}):
        response = client.post(
            "/api/v1/screenings",
            json={
                "answers": {**CLEAR_ANSWERS, **changes},
                "patient": {"name": "Test Patient", "phone": "+7 912 345 67 89"},
                "consent": True,
            },
        )
        assert response.status_code == 201
        found.append(response.get_json()["reference"])
    return found


class AppUnderTest:
    """The WSGI app Schemathesis sends requests to: the api_app fixture's app."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "the api_app fixture sets the app"
        return self.app(environ, start_response)


app_under_test = AppUnderTest()

# Built from the rule file by the function that serves /api/v1/openapi.json
# (test_served_document_is_the_tested_one checks they agree). Schemathesis's
# lazy fixture loader does not work with pytest 9, so the schema is loaded
# eagerly, before the app exists, and sends its requests through app_under_test.
schema = schemathesis.openapi.from_dict(openapi_document(load_rulebook(RULES_FILE)))
schema.app = app_under_test


def test_served_document_is_the_tested_one(api_app: Flask) -> None:
    served = api_app.test_client().get("/api/v1/openapi.json").get_json()
    assert served == schema.raw_schema


# The app compresses responses (Flask-Compress) for clients that accept it;
# the WSGI transport asks for that but does not decompress.
PLAIN = {"Accept-Encoding": "identity"}


def headers_for(case: schemathesis.Case, token: str) -> dict[str, str]:
    """The token for bearer operations, except in cases that test a missing one."""
    headers = dict(PLAIN)
    if case.operation.definition.raw.get("security") and not case.operation.schema.is_security_param_negated(case):
        headers["Authorization"] = f"Bearer {token}"
    return headers


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_matches_its_openapi_document(case: schemathesis.Case, api_app: Flask, api_token: str) -> None:
    case.call_and_validate(headers=headers_for(case, api_token), excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize(
    "path",
    ["/api/v1/screenings/{reference}", "/api/v1/screenings/{reference}/fhir", "/api/v1/screenings/{reference}/patient"],
)
def test_found_screenings_match_the_document(api_app: Flask, api_token: str, references: list[str], path: str) -> None:
    operation = schema[path]["GET"]
    for reference in references:
        case = operation.Case(path_parameters={"reference": reference})
        response = case.call_and_validate(headers={**PLAIN, "Authorization": f"Bearer {api_token}"})
        assert response.status_code == 200


def test_list_pages_match_the_document(api_app: Flask, api_token: str, references: list[str]) -> None:
    operation = schema["/api/v1/screenings"]["GET"]
    case = operation.Case(query={"limit": 1})
    response = case.call_and_validate(headers={**PLAIN, "Authorization": f"Bearer {api_token}"})
    cursor = response.json()["next_cursor"]
    assert cursor
    case = operation.Case(query={"limit": 1, "cursor": cursor, "status": "ineligible", "since": "2000-01-01"})
    case.call_and_validate(headers={**PLAIN, "Authorization": f"Bearer {api_token}"})


def test_every_questionnaire_id_the_document_names_is_served(api_app: Flask) -> None:
    """``/fhir/Questionnaire/{id}``: each id of its enum (a FHIR id or a procedure's id) is a Questionnaire."""
    operation = schema["/fhir/Questionnaire/{id}"]["GET"]
    ids = operation.definition.raw["parameters"][0]["schema"]["enum"]
    assert len(ids) >= 2 * len(load_rulebook(RULES_FILE).procedures) - 1
    for resource_id in ids:
        response = operation.Case(path_parameters={"id": resource_id}).call_and_validate(headers=PLAIN)
        assert response.status_code == 200
        assert response.json()["resourceType"] == "Questionnaire"
