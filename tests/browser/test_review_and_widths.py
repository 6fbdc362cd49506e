"""A practitioner between two patients and a patient on a phone, in chromium:
a decision from the queue in three actions, the next undecided screening after a
decision, shortcuts to each decision, no page wider than a 360 px phone,
chart labels that fit, the language switch that keeps answers, errors in page order."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from screening import ROOT
from tests.browser.browser_patient import CLEAR_PATIENT, WORDS, answer_questions, question_text, show_field
from tests.browser.helpers import DESKTOP, PHONE, LiveServer, Session

EMAIL = "dr.quick@clinic.example"
PASSWORD = "two-clicks-per-patient"
EXAMPLE = json.loads((ROOT / "examples" / "screening.json").read_text(encoding="utf-8"))


def post_screening(live_server: LiveServer, name: str, **answers: Any) -> dict[str, Any]:
    """A screening stored through the API (fast: no page to fill), as the API answers."""
    body = {**EXAMPLE, "answers": {**EXAMPLE["answers"], **answers}, "patient": {**EXAMPLE["patient"], "name": name}}
    request = urllib.request.Request(
        live_server.url + "/api/v1/screenings",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        created: dict[str, Any] = json.load(response)
    return created


def submit_by_api(live_server: LiveServer, name: str, **answers: Any) -> str:
    """A screening stored through the API; its reference."""
    return str(post_screening(live_server, name, **answers)["reference"])


@pytest.fixture(scope="module")
def signed_in_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """A practitioner's signed-in cookies, made once for the module."""
    created = live_server.flask(
        "create-practitioner", EMAIL, "--name", "Dr Quick", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/practitioner/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Screenings")
    state: dict[str, Any] = context.storage_state()  # type: ignore[assignment]
    context.close()
    return state


@pytest.fixture
def practitioner(new_context: Callable[..., Session], signed_in_state: dict[str, Any]) -> Page:
    """A signed-in practitioner at a desktop."""
    return new_context(viewport=DESKTOP, storage_state=signed_in_state).context.new_page()


def test_a_decision_from_the_queue_takes_three_actions_and_the_next_undecided_opens(
    practitioner: Page, live_server: LiveServer
) -> None:
    family = "Zorin" + uuid.uuid4().hex[:6]
    oldest, middle, newest = (submit_by_api(live_server, f"{n} {family}", keloids="unsure") for n in "ABC")
    page = practitioner
    page.goto(f"/practitioner/?status=review&reviewed=no&q={family}")
    actions = 0

    page.get_by_role("link", name=newest).click()
    actions += 1
    expect(page.get_by_role("heading", level=1)).to_contain_text(newest)
    # "Review" is never confirmed: the rules leave the decision, with its reason, to the practitioner.
    expect(page.get_by_role("button", name="Confirm the verdict: Review")).to_have_count(0)
    page.get_by_label("Reason for your decision").select_option("clarified_with_patient")
    actions += 1
    page.get_by_role("button", name="Eligible: cleared for treatment").click()
    actions += 1

    assert actions <= 3
    expect(page.get_by_text(f"Your decision on {newest} is recorded.")).to_be_visible()
    # The next undecided screening of the same view opened.
    expect(page.get_by_role("heading", level=1)).to_contain_text(middle)
    page.get_by_role("link", name="Back to the queue").click()
    rows = page.locator("tr.queue-row")
    expect(rows).to_have_count(2)
    expect(page.locator(f'tr[data-reference="{newest}"]')).to_have_count(0)
    assert {oldest, middle} == set(rows.evaluate_all("rows => rows.map(r => r.dataset.reference)"))


def test_shortcuts_lead_to_each_decision(practitioner: Page, live_server: LiveServer) -> None:
    family = "Yakovlev" + uuid.uuid4().hex[:6]
    older, newer = (submit_by_api(live_server, f"{n} {family}", epilepsy="unsure") for n in "AB")
    page = practitioner
    page.goto(f"/practitioner/?q={family}")
    page.get_by_role("link", name=newer).click()

    expect(page.get_by_text("Keyboard shortcuts:")).to_be_visible()
    expect(page.locator(".shortcuts")).to_contain_text("E eligible · D deferred · I not eligible")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(page.get_by_role("heading", level=1)).to_contain_text(older)
    # The heading shows before the page's script runs: a key pressed then would go unheard.
    page.wait_for_load_state("load")
    page.keyboard.press("p")
    expect(page.get_by_role("heading", level=1)).to_contain_text(newer)
    page.wait_for_load_state("load")
    # Typing in a field is typing, not a shortcut.
    page.get_by_label("Notes (optional)").press("n")
    expect(page.get_by_role("heading", level=1)).to_contain_text(newer)
    # D goes to what a deferral needs first: its date, then its reason, then its button.
    page.locator("h1").click()
    page.keyboard.press("d")
    expect(page.get_by_label("Deferred until")).to_be_focused()
    page.get_by_label("Deferred until").fill((dt.date.today() + dt.timedelta(days=30)).isoformat())
    expect(page.get_by_label("Reason for your decision")).to_be_focused()
    page.get_by_label("Reason for your decision").select_option("condition_must_settle")
    expect(page.get_by_role("button", name="Deferred", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Your decision on {newer} is recorded.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(older)


# --- 360 px -------------------------------------------------------------------------------

PATIENT_PAGES = [
    "/",
    "/screening",
    "ru:/screening",
    *(f"result:{status}" for status in ("eligible", "review", "deferred", "ineligible")),
    "/no-such-page",
]
RESULT_ANSWERS = {
    "eligible": {},
    "review": {"keloids": "unsure", "epilepsy": "unsure"},
    "deferred": {"pregnant": "yes", "recent_tan": "yes"},
    "ineligible": {"cancer": "active"},
}
PRACTITIONER_PAGES = [
    "/practitioner/login",
    "/practitioner/",
    "detail",
    "answers",
    "answer",
    "/practitioner/rules",
    "/practitioner/audit",
    "/api/v1/docs",
]


def scroll_width(page: Page) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


@pytest.fixture(scope="module")
def stored(live_server: LiveServer) -> dict[str, str]:
    """A screening the width checks open: a deferral with several reasons."""
    return {"deferred": submit_by_api(live_server, "Wide Page Patient", pregnant="yes", recent_tan="yes")}


@pytest.mark.parametrize("path", PATIENT_PAGES)
def test_no_patient_page_is_wider_than_a_phone(
    new_context: Callable[..., Session], live_server: LiveServer, path: str
) -> None:
    page = new_context(viewport=PHONE).context.new_page()
    if path.startswith("result:"):
        page.goto(post_screening(live_server, "Phone Patient", **RESULT_ANSWERS[path[7:]])["result_url"])
    elif path.startswith("ru:"):
        page.goto("/language/ru?next=" + path[3:])
    else:
        page.goto(path)
    assert scroll_width(page) <= PHONE["width"]
    if path == "/screening":
        # Every error at once: the server's page, as the one page without the script sends it.
        page = new_context(viewport=PHONE, java_script_enabled=False).context.new_page()
        page.goto(path)
        page.get_by_role("button", name=WORDS["en"]["submit"]).click()
        expect(page.locator("#error-summary")).to_be_visible()
        assert scroll_width(page) <= PHONE["width"]


@pytest.mark.parametrize("path", PRACTITIONER_PAGES)
def test_no_practitioner_page_is_wider_than_a_phone(
    new_context: Callable[..., Session], signed_in_state: dict[str, Any], stored: dict[str, str], path: str
) -> None:
    state = {"cookies": [], "origins": []} if path.endswith("login") else signed_in_state
    page = new_context(viewport=PHONE, storage_state=state).context.new_page()
    reference = stored["deferred"]
    paths = {
        "detail": f"/practitioner/screening/{reference}",
        "answers": f"/practitioner/screening/{reference}/answers",
        "answer": f"/practitioner/screening/{reference}/answers?question=isotretinoin",
    }
    page.goto(paths.get(path, path))
    if path == "detail":
        page.locator("details.all-answers > summary").click()  # the folded table, open
    assert scroll_width(page) <= PHONE["width"]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_chart_labels_fit_and_can_be_read(
    new_context: Callable[..., Session], signed_in_state: dict[str, Any], viewport: dict[str, int]
) -> None:
    page = new_context(viewport=viewport, storage_state=signed_in_state).context.new_page()
    page.goto("/practitioner/")
    svg = page.locator("figure.chart svg").first
    box = svg.bounding_box()
    assert box
    labels = svg.locator("text")
    assert labels.count() >= 5
    for index in range(labels.count()):
        label = labels.nth(index).bounding_box()
        assert label
        assert box["x"] - 0.5 <= label["x"] and label["x"] + label["width"] <= box["x"] + box["width"] + 0.5
        assert label["height"] >= 10  # px on the screen: readable at both widths


# --- The patient's form ------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_switching_language_keeps_every_answer_typed(new_context: Callable[..., Session], javascript: bool) -> None:
    page = new_context(java_script_enabled=javascript).context.new_page()
    page.goto("/screening")
    answers = {"date_of_birth": "1985-02-03", "pregnant": "no", "skin_type": "III"}
    if javascript:
        # In steps the details come after the questions: the patient answers every step before them.
        expect(page.locator("#step-status")).to_have_text(re.compile(r"^Step 1 of \d+: "))
        answers = {**CLEAR_PATIENT, **answers}
    else:
        expect(page.get_by_text("Section 1 of")).to_be_visible()
    answer_questions(page, answers)
    show_field(page, page.get_by_label(WORDS["en"]["name"])).fill("Ivan Ivanov")
    page.get_by_role("navigation", name="Language").get_by_role("button", name="Русский").click()

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    if javascript:  # back on the step the patient was on
        expect(page.locator("#step-status")).to_have_text(re.compile(r"^Шаг \d+ из \d+: Ваши данные$"))
    expect(page.get_by_label(WORDS["ru"]["name"])).to_have_value("Ivan Ivanov")
    expect(page.get_by_label(question_text("date_of_birth", "ru"))).to_have_value("1985-02-03")
    pregnant = show_field(page, page.locator("#q-pregnant"), "ru")
    expect(pregnant.get_by_role("radio", name="Нет", exact=True)).to_be_checked()
    expect(page.locator("#error-summary")).to_have_count(0)


def test_the_error_summary_follows_the_page_order(new_context: Callable[..., Session]) -> None:
    # The server's summary of the whole page, as the one page without the script sends it.
    page = new_context(java_script_enabled=False).context.new_page()
    page.goto("/screening")
    answer_questions(page, {k: v for k, v in CLEAR_PATIENT.items() if k not in ("cancer", "keloids")})
    page.get_by_role("button", name=WORDS["en"]["submit"]).click()
    summary = page.locator("#error-summary a")
    targets = summary.evaluate_all("links => links.map(a => a.getAttribute('href').slice(1))")
    positions = [
        page.locator(f"[id='{target}']").evaluate("el => el.getBoundingClientRect().top + scrollY")
        for target in targets
    ]
    assert targets[0] == "patient_name"
    assert positions == sorted(positions)
    assert "consent" in targets[-1]
