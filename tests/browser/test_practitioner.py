"""A patient's screening reaches the clinic: a practitioner signs in and reviews it."""

from __future__ import annotations

import re
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.browser_patient import CLEAR_PATIENT, answer_questions, fill_details, submit
from tests.browser.helpers import DESKTOP, LiveServer, Session, axe_violations

EMAIL = "dr.orlova@clinic.example"
PASSWORD = "laser-safety-first-2026"


def test_practitioner_signs_in_and_reviews_the_screening(
    new_context: Callable[..., Session], live_server: LiveServer, axe: Axe
) -> None:
    patient = new_context().context.new_page()
    patient.goto("/screening")
    answer_questions(patient, {**CLEAR_PATIENT, "pregnant": "yes"})
    fill_details(patient, name="Maria Sokolova")
    submit(patient)
    expect(patient.locator("[data-status]")).to_have_attribute("data-status", "deferred")
    reference = patient.locator("#reference-code").inner_text()

    created = live_server.flask(
        "create-practitioner", EMAIL, "--name", "Dr Elena Orlova", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr

    page = new_context(viewport=DESKTOP).context.new_page()
    page.goto("/practitioner/")
    expect(page).to_have_url(re.compile(r"/practitioner/login"))
    assert axe_violations(axe, page) == []
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Screenings")
    row = page.locator("tr", has=page.get_by_role("link", name=reference))
    expect(row).to_contain_text("Maria Sokolova")
    expect(row).to_contain_text("Deferred")
    assert axe_violations(axe, page) == []
    row.get_by_role("link", name=reference).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_text("Maria Sokolova", exact=True)).to_be_visible()  # the name, not the signature
    reasons = page.get_by_role("region", name="Reasons")
    expect(reasons).to_contain_text("Pregnancy: elective laser resurfacing is conventionally deferred")
    expect(page.get_by_role("strong").filter(has_text="Not reviewed yet")).to_be_visible()
    assert axe_violations(axe, page) == []

    # One click on the decision that matches the verdict confirms it.
    decision = page.get_by_role("group", name="Your decision")
    expect(decision.get_by_role("button")).to_have_count(3)  # eligible, deferred, not eligible
    decision.get_by_role("button", name="Deferred: confirm the verdict").click()
    # The next undecided screening opens (or the queue, when none is left); this one shows the decision.
    expect(page.get_by_text(re.compile(r"Your decision (on [A-Z0-9]+ )?is recorded\."))).to_be_visible()
    page.goto(f"/practitioner/screening/{reference}")
    expect(page.locator("#current-decision")).to_have_text("Deferred")
    expect(page.get_by_role("region", name="History")).to_contain_text("Dr Elena Orlova")
    expect(page.get_by_role("region", name="History")).to_contain_text("confirmed the verdict")
