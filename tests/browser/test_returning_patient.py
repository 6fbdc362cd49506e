"""A returning patient in a real browser on a phone (360 px): "answer again" with one section left
unticked, and the result page of a patient in a course."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from screening import storage
from tests.browser.browser_patient import (
    CLEAR_PATIENT,
    RULES,
    answer_questions,
    fill_details,
    option_label,
    question_text,
    show_field,
    submit,
)
from tests.browser.helpers import PHONE, LiveServer, Session, axe_violations

STILL_TRUE = "Still true: my answers in this section are the same as last time"


def screened(page: Page, name: str, email: str, **changes: object) -> str:
    """A first screening through the questionnaire; the result page's reference code.

    An e-mail of its own: the suite's other patients share one, and a screening matched to an
    earlier patient's record on it alone is not proven, so it would show no course.
    """
    page.goto("/screening")
    answer_questions(page, {**CLEAR_PATIENT, **changes})
    fill_details(page, name=name)
    show_field(page, page.get_by_label("Email", exact=True)).fill(email)
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "eligible")
    return page.locator("#reference-code").inner_text()


def test_answer_again_with_a_section_unticked_keeps_the_details_and_goes_through_once_ticked(
    session: Session, axe: Axe
) -> None:
    page = session.context.new_page()
    assert page.viewport_size == PHONE
    screened(page, "Irina Volkova", "irina@example.com", skin_type="II")
    page.get_by_role("link", name="Start my next screening").click()
    expect(page.get_by_label(question_text("date_of_birth"))).to_have_value("1990-05-31")

    # Everything asked afresh is answered; every section's "still true" ticked (on its step) but "About you".
    answer_questions(page, {k: v for k, v in CLEAR_PATIENT.items() if not RULES.question_by_id[k].carry_over})
    ticks = page.get_by_role("checkbox", name=STILL_TRUE, include_hidden=True)
    assert ticks.count() > 1
    for tick in ticks.all():
        show_field(page, tick).check()
    about_you = page.get_by_role("region", name=re.compile("About you"), include_hidden=True)
    show_field(page, about_you).get_by_role("checkbox", name=STILL_TRUE).uncheck()
    show_field(page, page.get_by_label("Signature: type your first name and surname")).fill("Irina Volkova")
    page.get_by_label("I agree that the clinic stores my answers").check()
    submit(page)

    # One error, for the section, naming its tick; nothing typed is lost.
    message = "Tick “Still true” for “About you”, or answer its questions."
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("listitem")).to_have_count(1)
    expect(summary).to_contain_text(message)
    expect(page.locator(".field-error")).to_have_count(1)
    expect(about_you.locator(".field-error")).to_have_text(re.compile(re.escape(message)))
    expect(page.get_by_label(question_text("date_of_birth"))).to_have_value("1990-05-31")
    expect(page.get_by_label("Your full name")).to_have_value("Irina Volkova")
    expect(page.get_by_label("Email", exact=True)).to_have_value("irina@example.com")
    skin = page.get_by_role("group", name=question_text("skin_type"))
    for radio in skin.get_by_role("radio").all():
        expect(radio).not_to_be_checked()
    expect(skin).to_contain_text(f"Last time you answered: {option_label('skin_type', 'II')}")
    assert axe_violations(axe, page) == []

    # The summary leads to the tick; ticking it confirms the last answers, and the screening goes through.
    summary.get_by_role("link").click()
    expect(about_you.get_by_role("checkbox", name=STILL_TRUE)).to_be_focused()
    about_you.get_by_role("checkbox", name=STILL_TRUE).check()
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "eligible")


def test_a_course_patients_result_page_shows_the_course_above_everything_else(
    new_context: Callable[..., Session], live_server: LiveServer
) -> None:
    page = new_context().context.new_page()
    reference = screened(page, "Olga Morozova", "olga.morozova@example.com")
    email = "dr.course@clinic.example"
    created = live_server.flask(
        "create-practitioner", email, "--name", "Dr Nina Kurs", "--password-stdin", stdin="laser-course-2026-safe\n"
    )
    assert created.returncode == 0, created.stderr
    db = storage.connect(live_server.env["SCREENING_DATABASE"])
    try:
        (practitioner,) = db.query("SELECT id FROM practitioners WHERE email = ?", [email])
        screening = storage.get_screening_by_reference(db, reference)
        assert screening is not None and screening["patient_id"] is not None
        today = dt.date.today().isoformat()
        course = storage.start_course(
            db, screening["patient_id"], practitioner["id"], today, 6, 28, procedure=screening["procedure"]
        )
        storage.record_session(
            db, course, screening["id"], practitioner["id"], given_on=today, number=1, note=None, settings=None
        )
    finally:
        db.close()

    page.reload()
    course_box = page.get_by_role("region", name="Your course")
    expect(course_box).to_contain_text("Session 1 of 6 done.")
    expect(course_box).to_contain_text("Before your next session")
    top = course_box.bounding_box()
    assert top is not None
    # Every other heading of the page, the verdict's included, comes below the course.
    headings = page.locator("main h1, main h2").filter(has_not=page.locator("#course-title"))
    assert headings.count() > 3
    for heading in headings.all():
        box = heading.bounding_box()
        if box is not None and heading.get_attribute("id") != "course-title":
            assert box["y"] >= top["y"] + top["height"], heading.inner_text()
    expect(page.get_by_text("first session")).to_have_count(0)
    expect(page.get_by_role("heading", name="After each session")).to_have_count(1)
