"""Two treatments in a real browser (issue 33): the patient ticks both, answers once and sees a
verdict for each; the practitioner's queue filters by treatment; one patient's two courses stay apart."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from playwright.sync_api import expect

from screening import ROOT
from screening.core.loader import load_rulebook
from tests.browser.browser_patient import CLEAR_PATIENT, answer_questions, fill_details, submit
from tests.browser.helpers import DESKTOP, LiveServer, Session, fill_session_form

BOOK = load_rulebook(ROOT / "rules.yaml")
BOTH = BOOK.combined(tuple(BOOK.procedures))
EMAIL = "dr.volkova@clinic.example"
COURSE_EMAIL = "dr.orlov@clinic.example"
LASER, IPL = "laser_rejuvenation", "ipl_photorejuvenation"
PASSWORD = "two-treatments-one-form"
# A tan 5 weeks ago and skin type IV: the laser waits for the tan, IPL asks a practitioner.
TANNED = {
    **CLEAR_PATIENT,
    "recent_tan": "yes",
    "recent_tan_on": (dt.date.today() - dt.timedelta(weeks=5)).isoformat(),
    "skin_type": "IV",
    "pigmented_lesions": "no",
    "caution_medicines": "no",
    "recent_pdt": "no",
    "hair_removal_face": "no",
}


def test_a_patient_chooses_both_treatments_and_the_queue_filters_by_one(
    new_context: Callable[..., Session], live_server: LiveServer
) -> None:
    patient = new_context().context.new_page()
    patient.goto("/")
    patient.get_by_label("IPL photorejuvenation").check()
    expect(patient.get_by_label("Laser facial rejuvenation")).to_be_checked()  # the default, ticked
    patient.get_by_role("button", name="Start the questionnaire").click()
    expect(patient.get_by_role("heading", level=1)).to_contain_text("Laser facial rejuvenation + IPL photorejuvenation")
    answer_questions(patient, {k: v for k, v in TANNED.items() if k in BOTH.question_by_id}, ruleset=BOTH)
    fill_details(patient, name="Olga Belova")
    submit(patient)

    laser = patient.locator(".outcome", has_text="for Laser facial rejuvenation")
    ipl = patient.locator(".outcome", has_text="for IPL photorejuvenation")
    expect(laser).to_have_attribute("data-status", "deferred")
    expect(ipl).to_have_attribute("data-status", "review")
    ipl_reference = ipl.locator(".reference-code").inner_text()
    laser_reference = laser.locator(".reference-code").inner_text()

    created = live_server.flask(
        "create-practitioner", EMAIL, "--name", "Dr Irina Volkova", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    page = new_context(viewport=DESKTOP).context.new_page()
    page.goto("/practitioner/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Screenings")
    page.goto("/practitioner/?view=all")
    expect(page.get_by_role("link", name=laser_reference)).to_be_visible()
    page.get_by_label("Treatment").select_option(label="IPL photorejuvenation")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"procedure=ipl_photorejuvenation"))
    row = page.locator("tr", has=page.get_by_role("link", name=ipl_reference))
    expect(row).to_contain_text("IPL photorejuvenation")
    expect(page.get_by_role("link", name=laser_reference)).to_have_count(0)
    row.get_by_role("link", name=ipl_reference).click()
    expect(page.get_by_text("Treatment: IPL photorejuvenation")).to_be_visible()


def test_one_patients_ipl_course_and_laser_course_are_kept_apart(
    new_context: Callable[..., Session], live_server: LiveServer
) -> None:
    patient = new_context().context.new_page()
    patient.goto(f"/screening?procedure={LASER}&procedure={IPL}")
    clear = {k: v for k, v in {**TANNED, "recent_tan": "no", "skin_type": "III"}.items() if k != "recent_tan_on"}
    answer_questions(patient, {k: v for k, v in clear.items() if k in BOTH.question_by_id}, ruleset=BOTH)
    fill_details(patient, name="Vera Two-Courses")
    submit(patient)
    references = {}
    for procedure, name in ((LASER, "Laser facial rejuvenation"), (IPL, "IPL photorejuvenation")):
        outcome = patient.locator(".outcome", has_text=f"for {name}")
        expect(outcome).to_have_attribute("data-status", "eligible")
        references[procedure] = outcome.locator(".reference-code").inner_text()

    created = live_server.flask(
        "create-practitioner", COURSE_EMAIL, "--name", "Dr Pavel Orlov", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    page = new_context(viewport=DESKTOP).context.new_page()
    page.goto("/practitioner/login")
    page.get_by_label("Email").fill(COURSE_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Screenings")
    # A course for each treatment, started from each screening's page: IPL 5 sessions, laser 8.
    for procedure, planned in ((IPL, "5"), (LASER, "8")):
        page.goto(f"/practitioner/screening/{references[procedure]}")
        page.get_by_role("group", name="Your decision").get_by_role("button", name=re.compile("^Eligible")).click()
        page.goto(f"/practitioner/screening/{references[procedure]}")
        expect(page.get_by_text("No course yet.")).to_be_visible()  # the other treatment's course is not this one
        page.get_by_label("Planned sessions").fill(planned)
        page.get_by_role("button", name="Start the course").click()
        expect(page.get_by_text("Course started.")).to_be_visible()
    form = page.locator("form.session-form")
    fill_session_form(form, "12")
    form.get_by_role("button", name="Record the session").click()
    expect(page.get_by_text("Session 1 recorded.")).to_be_visible()

    laser_course = page.locator("section.course")
    expect(page.get_by_text("Treatment: Laser facial rejuvenation")).to_be_visible()
    expect(laser_course.locator(".course-progress")).to_contain_text("1 of 8 sessions given")
    expect(laser_course.locator(".course-sessions li")).to_have_count(1)
    page.goto(f"/practitioner/screening/{references[IPL]}")
    expect(page.get_by_text("Treatment: IPL photorejuvenation")).to_be_visible()
    ipl_course = page.locator("section.course")
    expect(ipl_course.locator(".course-progress")).to_contain_text("0 of 5 sessions given")
    expect(ipl_course.locator(".course-sessions li")).to_have_count(0)
