"""A practitioner records a session on a phone (360 px): the device and each setting, a fluence above
the clinic's protocol for the patient's skin type refused beside its field until a reason is given,
and the saved override highlighted on the course page."""

from __future__ import annotations

import re
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.browser_patient import CLEAR_PATIENT, answer_questions, fill_details, show_field, submit
from tests.browser.helpers import PHONE, LiveServer, Session, axe_violations, fill_session_form

EMAIL = "dr.petrov@clinic.example"
PASSWORD = "laser-settings-2026-checked"


def test_a_session_above_the_protocols_fluence_needs_a_reason_on_a_phone(
    new_context: Callable[..., Session], live_server: LiveServer, axe: Axe
) -> None:
    patient = new_context().context.new_page()
    patient.goto("/screening")
    answer_questions(patient, {**CLEAR_PATIENT, "skin_type": "III"})
    fill_details(patient, name="Olga Settings")
    show_field(patient, patient.get_by_label("Email", exact=True)).fill("olga.settings@example.com")
    submit(patient)
    expect(patient.locator("[data-status]")).to_have_attribute("data-status", "eligible")
    reference = patient.locator("#reference-code").inner_text()

    created = live_server.flask(
        "create-practitioner", EMAIL, "--name", "Dr Ivan Petrov", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    page = new_context().context.new_page()
    assert page.viewport_size == PHONE
    page.goto("/practitioner/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Screenings")

    page.goto(f"/practitioner/screening/{reference}")
    page.get_by_role("group", name="Your decision").get_by_role("button", name=re.compile("^Eligible")).click()
    page.goto(f"/practitioner/screening/{reference}")
    page.get_by_role("button", name="Start the course").click()
    expect(page.get_by_text("Course started.")).to_be_visible()

    form = page.locator("form.session-form")
    fill_session_form(form, "16")  # skin type III: the example protocol allows 15
    form.get_by_role("button", name="Record the session").click()

    fluence = page.locator("#q-fluence_j_cm2")
    expect(fluence).to_contain_text("Above the protocol's 15 J/cm² for skin type III.")
    expect(page.locator("#q-override_reason")).to_contain_text("give the reason")
    expect(form.get_by_label("Fluence (J/cm²)")).to_have_value("16")  # the answers are kept
    expect(form.get_by_label("Endpoint seen")).to_have_value("Mild erythema")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(axe, page) == []

    form.get_by_label("Reason for settings outside the protocol").fill("Test patch at 16 J/cm² read clear")
    form.get_by_role("button", name="Record the session").click()
    expect(page.get_by_text("Session 1 recorded.")).to_be_visible()
    override = page.locator("li.session-override")
    expect(override).to_contain_text("1064 nm, 16 J/cm², 10 ms, spot 5 mm, 2 pass(es), cooling: contact")
    expect(override).to_contain_text("Outside the protocol (fluence). Reason: Test patch at 16 J/cm² read clear")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(axe, page) == []
