"""Kiosk mode in chromium on a 360 px tablet: two patients in a row, Back included, and the idle clear.

Each test's server is its own (started here): the kiosk's idle time is a setting
(``KIOSK_IDLE_SECONDS``), short for the idle tests, and an administrator signs in
with a password alone to register the tablet.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.browser_patient import CLEAR_PATIENT, answer_questions, fill_details, in_steps, submit
from tests.browser.conftest import start_live_server
from tests.browser.helpers import PHONE, LiveServer

ADMIN, PASSWORD = "grace@example.com", "kiosk-admin-passphrase-2026"
TABLET = "Front desk tablet"
HAND_BACK = "Please hand the tablet back to reception."
IDLE_SECONDS = 3  # the idle tests' setting (the shipped one is 120)


def start_server(folder: Path, idle_seconds: int) -> tuple[LiveServer, subprocess.Popen[bytes]]:
    """The app under gunicorn with the kiosk's idle time, and an administrator without 2FA."""
    live, server = start_live_server(folder, ADMINS_REQUIRE_2FA="false", KIOSK_IDLE_SECONDS=str(idle_seconds))
    created = live.flask(
        "create-practitioner", ADMIN, "--name", "Grace Admin", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    return live, server


@pytest.fixture(scope="module")
def kiosk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[int], LiveServer]]:
    """Servers by idle time, started on first use and stopped when the module ends."""
    running: dict[int, tuple[LiveServer, subprocess.Popen[bytes]]] = {}

    def server_for(idle_seconds: int) -> LiveServer:
        if idle_seconds not in running:
            running[idle_seconds] = start_server(tmp_path_factory.mktemp(f"kiosk{idle_seconds}"), idle_seconds)
        return running[idle_seconds][0]

    yield server_for
    for _live, process in running.values():
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def kiosk_tablet(browser: Browser, server: LiveServer, opened: list[BrowserContext], **options: object) -> Page:
    """A 360 px tablet on which an administrator registered this browser as a kiosk: its start page."""
    context = browser.new_context(viewport=PHONE, locale="en-GB", base_url=server.url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    opened.append(context)
    page = context.new_page()
    page.goto("/practitioner/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/practitioner/devices")
    page.get_by_label("Device name").fill(TABLET)
    page.get_by_role("button", name="Register this browser").click()
    expect(page).to_have_url(server.url + "/")
    expect(page.locator("body[data-kiosk]")).to_have_count(1)
    return page


# Every answer the page holds: typed text and dates, ticked boxes and chosen options.
SHOWN_ANSWERS = """() => [...document.querySelectorAll('input, textarea, select')]
  .filter(e => e.name && e.name !== 'csrf_token' && e.type !== 'hidden')
  .filter(e => (e.type === 'radio' || e.type === 'checkbox') ? e.checked : e.value !== '')
  .map(e => e.name + '=' + e.value)"""


def fresh_start(page: Page) -> list[str]:
    """What the fresh start page ``page`` shows chosen: the default treatment ticked, and nothing else."""
    ticked = page.evaluate(SHOWN_ANSWERS)
    assert len(ticked) == 1 and ticked[0].startswith("procedure="), ticked
    return ticked


def assert_nothing_of(page: Page, name: str, verdict: str, start: list[str]) -> None:
    """Neither the patient's answers nor their verdict are on the page, nor kept in the browser:
    the start page shows only what a fresh one does (``start``), any other page no answer at all."""
    page.wait_for_load_state()
    expect(page.locator("body")).not_to_contain_text(verdict)
    expect(page.locator("body")).not_to_contain_text(name)
    on_start = urlsplit(page.url).path == "/"
    assert page.evaluate(SHOWN_ANSWERS) == (start if on_start else [])
    assert page.evaluate("() => Object.keys(sessionStorage)") == []


def answer_as(page: Page, name: str, **changes: object) -> None:
    """From the kiosk's start page: the questionnaire, empty for this patient, answered and sent."""
    page.get_by_role("button", name="Start the questionnaire").click()
    expect(page.locator("form.questionnaire")).to_be_visible()
    assert page.evaluate(SHOWN_ANSWERS) == []
    answer_questions(page, {**CLEAR_PATIENT, **changes})
    fill_details(page, name=name)
    submit(page)


def test_two_patients_in_a_row_see_nothing_of_each_other(
    browser: Browser, kiosk_server: Callable[[int], LiveServer], contexts: list[BrowserContext]
) -> None:
    """Patient one's verdict, nothing to copy, Done; Back shows nothing of them; patient two likewise."""
    server = kiosk_server(120)
    page = kiosk_tablet(browser, server, contexts)
    start = fresh_start(page)

    answer_as(page, "Anna Petrova")
    expect(page).to_have_url(server.url + "/kiosk/result")
    body = page.locator("body")
    expect(body).to_contain_text("Good news")
    expect(body).to_contain_text(HAND_BACK)
    assert page.locator("a[href*='/result/'], a[download], .reference-code, .print-button").count() == 0
    page.get_by_role("button", name="Done").click()
    expect(page).to_have_url(server.url + "/")
    page.go_back()
    assert_nothing_of(page, "Anna Petrova", "Good news", start)
    page.go_back()
    assert_nothing_of(page, "Anna Petrova", "Good news", start)

    page.goto("/")
    answer_as(page, "Boris Ivanov", pregnant="yes")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "deferred")
    expect(page.locator("body")).not_to_contain_text("Anna Petrova")
    page.get_by_role("button", name="Done").click()
    expect(page).to_have_url(server.url + "/")
    page.go_back()
    assert_nothing_of(page, "Boris Ivanov", "Not just now", start)
    # The result page itself refuses once Done was pressed.
    page.goto("/kiosk/result")
    expect(page.get_by_role("heading", level=1)).to_have_text("This result is no longer shown")


def test_an_idle_kiosk_clears_itself(
    browser: Browser, kiosk_server: Callable[[int], LiveServer], contexts: list[BrowserContext]
) -> None:
    """A questionnaire left half-filled and a result left open both go back to a fresh start page."""
    server = kiosk_server(IDLE_SECONDS)
    page = kiosk_tablet(browser, server, contexts)
    start = fresh_start(page)
    page.get_by_role("button", name="Start the questionnaire").click()
    answer_questions(page, {"date_of_birth": "1961-02-03", "skin_type": "II"})
    expect(page).to_have_url(server.url + "/", timeout=(IDLE_SECONDS + 5) * 1000)
    page.go_back()
    assert_nothing_of(page, "1961-02-03", "Good news", start)

    page.goto("/")
    answer_as(page, "Dora Klein")
    expect(page.locator("body")).to_contain_text(HAND_BACK)
    expect(page).to_have_url(server.url + "/", timeout=(IDLE_SECONDS + 5) * 1000)
    page.go_back()
    assert_nothing_of(page, "Dora Klein", "Good news", start)
    page.goto("/kiosk/result")
    expect(page.get_by_role("heading", level=1)).to_have_text("This result is no longer shown")


def test_without_script_the_result_page_refreshes_to_the_start(
    browser: Browser, kiosk_server: Callable[[int], LiveServer], contexts: list[BrowserContext]
) -> None:
    """With script off the questionnaire is one page; the result goes back to the start after the idle time."""
    server = kiosk_server(IDLE_SECONDS)
    page = kiosk_tablet(browser, server, contexts, java_script_enabled=False)
    page.get_by_role("button", name="Start the questionnaire").click()
    assert not in_steps(page)
    answer_questions(page, CLEAR_PATIENT)
    fill_details(page, name="Emil Berg")
    submit(page)
    expect(page.locator("body")).to_contain_text(HAND_BACK)
    expect(page).to_have_url(server.url + "/", timeout=(IDLE_SECONDS + 5) * 1000)
    page.goto("/kiosk/result")
    expect(page.get_by_role("heading", level=1)).to_have_text("This result is no longer shown")
