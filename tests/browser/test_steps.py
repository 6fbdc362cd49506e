"""The questionnaire in steps on a phone (360 px): one section per screen with the script, the one page without."""

from __future__ import annotations

import re
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Route, expect

from tests.browser.browser_patient import (
    CLEAR_PATIENT,
    RULES,
    WORDS,
    answer_questions,
    current_step,
    fill_details,
    go_to_step,
    question_text,
    step_count,
    submit,
)
from tests.browser.helpers import PHONE, Session, axe_violations

SECTIONS = [s for s in RULES.sections if any(q.section == s.id for q in RULES.questions)]
STORED = "Object.keys(sessionStorage).filter(k => k.startsWith('screening-answers:')).length"
KEPT_NAMES = """Object.keys(JSON.parse(sessionStorage.getItem(
    Object.keys(sessionStorage).find(k => k.startsWith('screening-answers:')))).values)"""


def required_in(section_id: str) -> list[str]:
    """The required questions of a section that show without a trigger answer."""
    return [q.id for q in RULES.questions if q.section == section_id and q.required and q.show_if is None]


def section_index(question_id: str) -> int:
    return next(i for i, s in enumerate(SECTIONS) if s.id == RULES.question_by_id[question_id].section)


def option_values(question_id: str) -> list[str]:
    return [o.value for o in RULES.question_by_id[question_id].options]


def test_steps_walk_one_section_at_a_time_and_check_only_that_section(page: Page, axe: Axe) -> None:
    assert page.viewport_size == PHONE
    page.goto("/screening")
    count = len(SECTIONS) + 2  # the questions' sections, the patient's details, the consent
    assert step_count(page) == count
    status = page.locator("#step-status")
    expect(status).to_have_text(f"Step 1 of {count}: {SECTIONS[0].title['en']}")
    expect(page.get_by_role("progressbar")).to_have_attribute("value", "1")
    expect(page.get_by_role("button", name="Back")).to_be_hidden()
    expect(page.get_by_role("button", name=WORDS["en"]["submit"])).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(axe, page) == []

    # An empty "Next": the errors of this step only, next to its questions and summed up at its top.
    health = next(i for i, s in enumerate(SECTIONS) if len(required_in(s.id)) >= 3)
    answer_questions(page, {k: v for k, v in CLEAR_PATIENT.items() if section_index(k) < health})
    go_to_step(page, health + 1)
    expect(status).to_have_text(f"Step {health + 1} of {count}: {SECTIONS[health].title['en']}")
    page.get_by_role("button", name="Next").click()
    expected = len(required_in(SECTIONS[health].id))
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text(WORDS["en"]["errors"])
    expect(summary.get_by_role("link")).to_have_count(expected)
    expect(page.locator(".field-error:visible")).to_have_count(expected)
    expect(page.locator(".field-error")).to_have_count(expected)  # nothing on the other steps
    expect(page).to_have_title(re.compile(r"^Error: "))
    first = page.get_by_role("group", name=question_text(required_in(SECTIONS[health].id)[0]))
    expect(first).to_have_accessible_description(re.compile(r"Error: Please answer this question\.$"))
    assert current_step(page) == health + 1
    assert axe_violations(axe, page) == []

    # "I'm not sure" is an answer; the step then lets the patient on, focus on the next heading.
    here = {k: v for k, v in CLEAR_PATIENT.items() if section_index(k) == health}
    unsure = next(k for k in required_in(SECTIONS[health].id) if "unsure" in option_values(k))
    answer_questions(page, {**here, unsure: "unsure"})
    page.get_by_role("button", name="Next").click()
    expect(page.locator("section[data-step]:visible h2")).to_be_focused()
    expect(page.locator(".field-error")).to_have_count(0)
    expect(page).not_to_have_title(re.compile(r"^Error: "))

    # Back keeps the answers.
    page.get_by_role("button", name="Back").click()
    expect(status).to_have_text(f"Step {health + 1} of {count}: {SECTIONS[health].title['en']}")
    expect(page.get_by_role("heading", level=2, name=SECTIONS[health].title["en"])).to_be_focused()
    checked = page.locator("section[data-step]:visible input:checked")
    answered = checked.count()
    assert answered >= expected

    # A reload keeps the answers and the step (this tab's sessionStorage).
    page.reload()
    expect(status).to_have_text(f"Step {health + 1} of {count}: {SECTIONS[health].title['en']}")
    expect(page.locator("section[data-step]:visible input:checked")).to_have_count(answered)
    go_to_step(page, 1)
    birth = page.get_by_label(question_text(RULES.role_question("birth_date") or ""))
    expect(birth).to_have_value(str(CLEAR_PATIENT[RULES.role_question("birth_date") or ""]))
    assert page.evaluate(STORED) == 1

    # The details and the consent are the last two steps; the last one sends the whole form.
    answer_questions(page, {k: v for k, v in CLEAR_PATIENT.items() if section_index(k) > health})
    fill_details(page)
    expect(status).to_have_text(f"Step {count} of {count}: Consent")
    # A reload keeps the details but not the signature and the consent tick: the patient signs again.
    page.reload()
    expect(status).to_have_text(f"Step {count} of {count}: Consent")
    expect(page.get_by_label(WORDS["en"]["name"])).to_have_value("Anna Petrova")
    expect(page.get_by_label(WORDS["en"]["signature"])).to_have_value("")
    expect(page.get_by_label(WORDS["en"]["consent"])).not_to_be_checked()
    kept = page.evaluate(KEPT_NAMES)
    assert "patient_name" in kept and "signature" not in kept and "consent" not in kept
    page.get_by_label(WORDS["en"]["signature"]).fill("Anna Petrova")
    page.get_by_label(WORDS["en"]["consent"]).check()
    expect(page.get_by_role("button", name="Next")).to_be_hidden()
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "review")
    assert page.evaluate(STORED) == 0
    page.go_back()
    expect(page.locator("form.questionnaire")).to_be_attached()
    assert page.evaluate(STORED) == 0


def test_server_errors_open_the_first_step_with_an_error(page: Page) -> None:
    page.goto("/screening")
    answer_questions(page, CLEAR_PATIENT)
    fill_details(page, name="Anna Petrova")
    page.get_by_label(WORDS["en"]["signature"]).fill("Someone Else")  # only the server compares the two
    submit(page)
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#step-status")).to_have_text(re.compile(r"^Step (\d+) of \1: Consent$"))
    expect(page.locator("#signature-error")).to_be_visible()
    page.get_by_label(WORDS["en"]["signature"]).fill("anna petrova")
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "eligible")


def test_a_kiosk_page_keeps_nothing_in_session_storage(page: Page) -> None:
    birth = RULES.role_question("birth_date") or ""
    page.goto("/screening")
    answer_questions(page, {birth: "1990-05-31"})
    assert page.evaluate(STORED) == 1

    def as_kiosk(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace("<body ", "<body data-kiosk ", 1))

    page.route("**/screening", as_kiosk)  # the attribute kiosk mode puts on the page
    page.reload()
    assert page.evaluate(STORED) == 0  # what an earlier page kept is gone too
    expect(page.get_by_label(question_text(birth))).to_have_value("")
    answer_questions(page, {birth: "1990-05-31"})
    page.get_by_role("button", name="Next").click()
    assert page.evaluate(STORED) == 0


def test_without_script_the_one_page_is_sent_as_today(new_context: Callable[..., Session]) -> None:
    page = new_context(java_script_enabled=False).context.new_page()
    page.goto("/screening")
    expect(page.locator("section.form-section:visible")).to_have_count(len(SECTIONS) + 2)
    expect(page.get_by_text("Section 1 of")).to_be_visible()
    expect(page.get_by_role("button", name="Next")).to_have_count(0)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    answer_questions(page, CLEAR_PATIENT)
    fill_details(page)
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "eligible")
