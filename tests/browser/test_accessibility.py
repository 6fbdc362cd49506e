"""axe-core on the pages the journeys do not reach, the phone layout, and no third-party requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page, Route, expect
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
    TooManyRequests,
)

from screening import create_app
from screening.web.errors import handle_http_error
from tests.browser.browser_patient import CLEAR_PATIENT, answer_questions, fill_details, go_to_step, step_count, submit
from tests.browser.helpers import DESKTOP, LiveServer, Session, axe_violations

OTHER_ERRORS = (BadRequest(), Forbidden(), MethodNotAllowed(), RequestEntityTooLarge(), TooManyRequests())
MIN_TARGET = 44  # px: comfortable for a thumb (WCAG 2.5.5); 2.5.8 (AA) asks for 24


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app in this process, to render error pages the browser cannot provoke."""
    folder = tmp_path_factory.mktemp("render")
    yield create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "DATABASE": str(folder / "r.sqlite")})


def error_html(app: Flask, error: HTTPException, language: str) -> str:
    with app.test_request_context("/", headers={"Accept-Language": language}):
        body, _code = handle_http_error(error)  # type: ignore[misc]
    return str(body)


def serve(html: str, code: int | None) -> Callable[[Route], None]:
    return lambda route: route.fulfill(status=code or 500, body=html, content_type="text/html; charset=utf-8")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_error_pages_have_no_violations(
    new_context: Callable[..., Session], live_server: LiveServer, renderer: Flask, axe: Axe, language: str
) -> None:
    page = new_context(locale=language).context.new_page()
    response = page.goto("/result/no-such-token")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Page not found" if language == "en" else "Страница не найдена"
    )
    assert axe_violations(axe, page) == []

    # The other errors, rendered by the app's own handler and served at the app's address.
    for error in (*OTHER_ERRORS, InternalServerError()):
        page.route(f"{live_server.url}/error-{error.code}", serve(error_html(renderer, error, language), error.code))
        page.goto(f"/error-{error.code}")
        expect(
            page.get_by_role(
                "link", name="Back to the start page" if language == "en" else "Вернуться на главную страницу"
            )
        ).to_be_visible()
        assert axe_violations(axe, page) == [], error.code


def test_pages_without_the_script_have_no_violations(new_context: Callable[..., Session], axe: Axe) -> None:
    """As a browser without JavaScript shows them (axe itself needs script, so only ours is blocked)."""
    session = new_context()
    session.context.route("**/static/app.js", lambda route: route.abort())
    page = session.context.new_page()
    page.goto("/screening")
    # Without the script every follow-up is on screen, each with its "answer only if" note.
    last_dose_note = page.locator("#q-isotretinoin_stopped_on").get_by_text("Follow-up question:")
    expect(last_dose_note).to_be_visible()
    assert axe_violations(axe, page) == []
    submit(page)
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(axe, page) == []


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def test_phone_layout_is_one_column_with_large_targets(page: Page) -> None:
    page.goto("/")
    no_horizontal_scroll(page)
    page.goto("/screening")
    no_horizontal_scroll(page)

    # Every step on screen in turn (answered, so each "Next" is accepted); each control measured once.
    answer_questions(page, CLEAR_PATIENT)
    fill_details(page)
    boxes: list[dict[str, Any]] = []
    controls: list[float] = []
    for step in range(1, step_count(page) + 1):
        go_to_step(page, step)
        no_horizontal_scroll(page)
        boxes += page.evaluate(
            """() => [...document.querySelectorAll(`.option, .button, input[type=text], input[type=email],
                 input[type=tel], input[type=date], .language-switch a, .language-switch span,
                 .language-switch button`)]
                 .filter(e => e.offsetParent !== null && !e.hasAttribute("data-measured"))
                 .map(e => { const r = e.getBoundingClientRect(); e.setAttribute("data-measured", "");
                             return {what: e.outerHTML.slice(0, 80), x: r.x, w: r.width, h: r.height}; })"""
        )
        controls += page.evaluate(
            """() => [...document.querySelectorAll('input[type=radio], input[type=checkbox]')]
                 .filter(e => e.offsetParent !== null)
                 .map(e => { const r = e.getBoundingClientRect(); return Math.min(r.width, r.height); })"""
        )
    assert len(boxes) > 60  # every option of every question, the fields, the buttons
    # The steps' own buttons are among them: Back, Next and the last step's submit.
    for button in ("step-back", "step-next", 'id="submit"'):
        assert any(button in b["what"] for b in boxes), button
    small = [b for b in boxes if b["h"] < MIN_TARGET]
    assert small == []
    # Options and fields run the full width of the one column.
    column = page.locator("main").bounding_box()
    assert column is not None
    widths = {round(b["w"]) for b in boxes if "option" in b["what"] or "<input" in b["what"]}
    assert widths == {round(column["width"]) - 32}  # 1rem padding each side
    assert min(controls) >= 24

    submit(page)
    expect(page.locator("[data-status]")).to_be_visible()
    no_horizontal_scroll(page)
    copy = page.get_by_role("button", name="Copy code").bounding_box()
    assert copy is not None and copy["height"] >= MIN_TARGET


def test_desktop_layout_keeps_lines_readable(page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/screening")
    no_horizontal_scroll(page)
    main = page.locator("main").bounding_box()
    assert main is not None and main["width"] <= 44 * 16 + 1  # 44rem: about 70 characters a line


def test_pages_load_nothing_from_another_host(session: Session, page: Page) -> None:
    page.goto("/")
    page.goto("/screening")
    answer_questions(page, CLEAR_PATIENT)
    fill_details(page)
    submit(page)
    expect(page.locator("[data-status]")).to_be_visible()
    paths = {url.split("/", 3)[3] for url in session.requests.urls}
    assert {"", "screening", "static/style.css", "static/app.js"} <= paths
    assert any(p.startswith("result/") for p in paths)
    hosts = {url.split("/")[2] for url in session.requests.urls}
    assert hosts == {page.url.split("/")[2]}
