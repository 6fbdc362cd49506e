"""The check-in after a session, on a phone (360 px): the e-mailed link's page fits the screen,
passes axe, and answering "blisters" tells the patient that the clinic will contact them."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from screening.storage import session_checks
from screening.web.db import get_db
from tests.browser.helpers import PHONE, LiveServer, axe_violations, screenshot
from tests.helpers import add_screening, build_app, create_account, execute, query


def check_in_link(live_server: LiveServer, folder: Path) -> str:
    """A session given two days ago on a new patient's screening, and its check-in link's path."""
    app = build_app(folder, DATABASE=live_server.env["SCREENING_DATABASE"])
    practitioner = create_account(app, f"{uuid.uuid4().hex[:8]}@example.com", "Dr Check-in")
    screening = add_screening(app, name="Vera Check", email=f"{uuid.uuid4().hex[:8]}@example.com")
    given_on = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    execute(
        app,
        "INSERT INTO courses (patient_id, practitioner_id, created_at, started_on, planned_sessions, interval_days)"
        " VALUES (?, ?, '2026-01-01T00:00:00+00:00', ?, 6, 28)",
        [screening["patient_id"], practitioner, given_on],
    )
    course_id = query(app, "SELECT max(id) AS id FROM courses")[0]["id"]
    execute(
        app,
        "INSERT INTO course_sessions (course_id, screening_id, practitioner_id, created_at, given_on, number)"
        " VALUES (?, ?, ?, '2026-01-01T00:00:00+00:00', ?, 1)",
        [course_id, screening["id"], practitioner, given_on],
    )
    session_id = query(app, "SELECT max(id) AS id FROM course_sessions")[0]["id"]
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=14)).isoformat()
    with app.app_context():
        token = session_checks.create_check_in(get_db(), session_id, screening["id"], expires)
    return f"/check-in/{token}"


def test_check_in_on_a_phone(page: Page, live_server: LiveServer, axe: Axe, tmp_path: Path) -> None:
    path = check_in_link(live_server, tmp_path)
    page.goto(path)
    page.get_by_role("heading", name="How is your skin after your session").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(axe, page) == []

    # Sent with a question left out: the error is beside it and in the summary, nothing else is lost.
    for name, value in [("redness", "yes"), ("swelling", "no"), ("crusting", "no")]:
        page.locator(f'input[name="{name}"][value="{value}"]').check()
    page.get_by_role("button", name="Send my answers").click()
    page.locator("#error-summary").wait_for()
    assert page.locator("#q-blisters .field-error").inner_text().endswith("Please answer this question.")
    assert page.locator('input[name="redness"][value="yes"]').is_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    for name, value in [
        ("blisters", "yes"),
        ("darker_patches", "no"),
        ("lighter_patches", "no"),
        ("pain", "moderate"),
        ("other", "no"),
    ]:
        page.locator(f'input[name="{name}"][value="{value}"]').check()
    page.get_by_label("Anything you want to tell us (optional)").fill("Two small blisters on the cheek")
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    assert "they will contact you" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "check-in-done")
