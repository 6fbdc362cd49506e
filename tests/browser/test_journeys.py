"""Patients in a real browser: they find every field by its label or legend, as a person would."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from tests.browser.browser_patient import (
    CLEAR_PATIENT,
    WORDS,
    answer_questions,
    current_step,
    fill_details,
    go_to_step,
    option_label,
    question_text,
    show_field,
    step_count,
    step_of,
    submit,
)
from tests.browser.helpers import DESKTOP, PHONE, Session, axe_violations, screenshot

ISOTRETINOIN = "Have you ever taken isotretinoin tablets or capsules for acne?"
LAST_DOSE = "When did you take your last dose of isotretinoin?"
LAST_MONTH = (dt.date.today() - dt.timedelta(days=30)).isoformat()


def question(page: Page, question_id: str) -> Locator:
    """A question's wrapper (its fieldset or its label and field)."""
    return page.locator(f"#q-{question_id}")


def start(page: Page, language: str = "en") -> None:
    """From the landing page into the questionnaire, through the visible start button."""
    page.goto("/")
    # The start page offers the treatments (the default ticked) and a button into the questionnaire.
    page.get_by_role("button", name=WORDS[language]["start"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Questionnaire" if language == "en" else "Анкета")


def test_clear_patient_is_eligible(page: Page, axe: Axe) -> None:
    page.goto("/")
    assert axe_violations(axe, page) == []
    start(page)
    screenshot(page, "questionnaire")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "questionnaire")
    page.set_viewport_size(PHONE)
    assert axe_violations(axe, page) == []

    answer_questions(page, CLEAR_PATIENT)
    fill_details(page)
    submit(page)

    outcome = page.locator("[data-status]")
    expect(outcome).to_have_attribute("data-status", "eligible")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Good news: nothing in your answers stands in the way of the treatment, so you can book your first session."
    )
    expect(page).to_have_title("Your result: Laser facial rejuvenation")
    expect(page.locator("#reference-code")).to_have_text(re.compile(r"^[A-Z0-9]{8}$"))
    expect(page.get_by_role("heading", name="Your course")).to_be_visible()
    expect(page.get_by_text("A course usually has 4–6 sessions, about once a month.")).to_be_visible()
    expect(page.get_by_role("heading", name="How to prepare")).to_be_visible()
    expect(page.get_by_role("heading", name="After each session")).to_be_visible()
    expect(page.get_by_text("avoid swimming pools, saunas and solariums")).to_be_visible()
    expect(page.get_by_text("use a sunscreen every day")).to_be_visible()
    expect(page.get_by_text("Use a moisturising cream regularly.")).to_be_visible()
    assert axe_violations(axe, page) == []
    screenshot(page, "result-eligible")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "result-eligible")


def test_reference_code_can_be_copied_and_the_page_printed(new_context: Callable[..., Session]) -> None:
    session = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = session.context.new_page()
    page.goto("/screening")
    answer_questions(page, CLEAR_PATIENT)
    fill_details(page)
    submit(page)
    code = page.locator("#reference-code").inner_text()
    expect(page.locator("#reference-code")).to_have_css("font-size", "32px")  # large: 2rem

    page.get_by_role("button", name="Copy code").click()
    expect(page.get_by_role("status")).to_have_text("Code copied")
    assert page.evaluate("navigator.clipboard.readText()") == code

    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print this page")).to_be_hidden()
    expect(page.get_by_role("button", name="Copy code")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Language")).to_be_hidden()
    expect(page.locator("#reference-code")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("How to prepare")).to_be_visible()


def test_pregnant_patient_is_deferred_with_the_pregnancy_reason(page: Page, axe: Axe) -> None:
    start(page)
    answer_questions(page, {**CLEAR_PATIENT, "pregnant": "yes"})
    fill_details(page)
    submit(page)

    expect(page.locator("[data-status]")).to_have_attribute("data-status", "deferred")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Not just now")
    # When to come back: a condition here, since pregnancy has no date.
    expect(page.locator(".outcome")).to_contain_text(
        "Please fill in the questionnaire again once the reasons below no longer apply."
    )
    reasons = page.get_by_role("region", name="Why this result")
    expect(reasons).to_contain_text("During pregnancy we postpone laser treatments")
    expect(reasons).to_contain_text("after your baby is born and you have finished breastfeeding")
    assert axe_violations(axe, page) == []
    screenshot(page, "result-deferred")


def test_missing_answer_shows_the_error_summary_and_keeps_the_other_answers(page: Page, axe: Axe) -> None:
    start(page)
    # In steps: every step up to the one with the missing answer, then its "Next".
    step = step_of(page.locator("#q-pregnant"))
    answers = {k: v for k, v in CLEAR_PATIENT.items() if k != "pregnant"}
    answer_questions(
        page, {k: v for k, v in {**answers, "breastfeeding": "unsure"}.items() if step_of(question(page, k)) <= step}
    )
    page.get_by_role("button", name=WORDS["en"]["next"]).click()

    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Please check these answers")
    link = summary.get_by_role("link")
    expect(link).to_have_count(1)
    expect(link).to_have_text("Are you pregnant at the moment? – Please answer this question.")
    expect(page).to_have_title(re.compile(r"^Error: "))
    pregnant = page.get_by_role("group", name="Are you pregnant at the moment?")
    expect(pregnant).to_have_accessible_description(re.compile(r"Error: Please answer this question\.$"))
    assert axe_violations(axe, page) == []
    screenshot(page, "questionnaire-errors")

    link.click()
    expect(pregnant.get_by_role("radio", name="Yes", exact=True)).to_be_focused()

    # The patient stays on this step, and everything else is as the patient left it.
    assert current_step(page) == step
    breastfeeding = page.get_by_role("group", name=question_text("breastfeeding"))
    expect(breastfeeding.get_by_role("radio", name="I'm not sure")).to_be_checked()
    expect(show_field(page, page.get_by_label(question_text("date_of_birth")))).to_have_value("1990-05-31")
    expect(page.get_by_role("group", name=question_text("skin_type")).get_by_role("radio", checked=True)).to_have_count(
        1
    )
    expect(show_field(page, page.get_by_label("Wrinkles and fine lines"))).to_be_checked()

    show_field(page, page.locator("#q-pregnant"))
    pregnant.get_by_role("radio", name="No", exact=True).check()
    answer_questions(page, {k: v for k, v in answers.items() if step_of(question(page, k)) > step})
    fill_details(page, name="Ivan Ivanov")
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "review")  # "I'm not sure" is reviewed


def test_follow_up_appears_only_when_it_applies(page: Page) -> None:
    start(page)
    # In steps: the steps before the question's own answered, then its step on screen.
    step = step_of(page.locator("#q-isotretinoin"))
    answer_questions(page, {k: v for k, v in CLEAR_PATIENT.items() if step_of(question(page, k)) < step})
    go_to_step(page, step)
    isotretinoin = page.get_by_role("group", name=ISOTRETINOIN)
    expect(isotretinoin).to_be_visible()
    last_dose = page.get_by_label(LAST_DOSE)
    expect(last_dose).to_be_hidden()
    isotretinoin.get_by_role("radio", name="I took it in the past").check()
    expect(last_dose).to_be_visible()
    isotretinoin.get_by_role("radio", name="No, never").check()
    expect(last_dose).to_be_hidden()
    isotretinoin.get_by_role("radio", name="I took it in the past").check()
    expect(last_dose).to_be_visible()
    # With the script the question appears in place, so the "answer only if" note is not needed.
    note = question(page, "isotretinoin_stopped_on").get_by_text("Follow-up question")
    expect(note).to_have_count(1)  # still in the page, only hidden
    expect(note).to_be_hidden()

    last_dose.fill(LAST_MONTH)
    answer_questions(
        page,
        {k: v for k, v in CLEAR_PATIENT.items() if step_of(question(page, k)) >= step} | {"isotretinoin": "stopped"},
    )
    fill_details(page)
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "deferred")
    expect(page.get_by_text("You stopped isotretinoin less than 6 months ago")).to_be_visible()
    expect(page.locator(".outcome")).to_contain_text("You can fill in the questionnaire again from")


def test_without_javascript_the_follow_up_is_labelled_and_ignored_when_it_does_not_apply(
    new_context: Callable[..., Session],
) -> None:
    session = new_context(java_script_enabled=False)
    page = session.context.new_page()
    start(page)
    last_dose = page.get_by_label(LAST_DOSE)
    expect(last_dose).to_be_visible()
    note = (
        f"Follow-up question: answer it only if you answered “{option_label('isotretinoin', 'stopped')}”"
        f" to “{ISOTRETINOIN}”"
    )
    expect(page.get_by_text(note)).to_be_visible()
    expect(last_dose).to_have_accessible_description(re.compile("^" + re.escape(note)))

    # A date that would defer the patient, had they taken isotretinoin: it must not count.
    answer_questions(page, {**CLEAR_PATIENT, "isotretinoin": "never"})
    last_dose.fill(LAST_MONTH)
    fill_details(page)
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "eligible")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Good news")
    # The script's buttons stay out of the way without the script; the code is still there to copy by hand.
    expect(page.get_by_role("button", name="Copy code")).to_be_hidden()
    expect(page.get_by_role("button", name="Print this page")).to_be_hidden()
    expect(page.locator("#reference-code")).to_be_visible()


def test_without_javascript_the_follow_up_counts_when_it_applies(new_context: Callable[..., Session]) -> None:
    page = new_context(java_script_enabled=False).context.new_page()
    page.goto("/screening")
    answer_questions(page, {**CLEAR_PATIENT, "isotretinoin": "stopped", "isotretinoin_stopped_on": LAST_MONTH})
    fill_details(page)
    submit(page)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "deferred")


def test_russian_patient_gets_everything_in_russian(new_context: Callable[..., Session], axe: Axe) -> None:
    page = new_context(locale="ru-RU").context.new_page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Подходит ли вам процедура?")
    expect(page.get_by_role("checkbox", name="Лазерное омоложение лица")).to_be_checked()  # the default, by name
    start(page, "ru")
    expect(page.locator("#step-status")).to_have_text(re.compile(r"^Шаг 1 из \d+: О вас$"))
    assert axe_violations(axe, page) == []

    # Each step checks its own answers; nothing is answered yet.
    answers = {**CLEAR_PATIENT, "herpes_active": "yes"}
    pregnancy = step_of(page.locator("#q-pregnant"))
    answer_questions(page, {k: v for k, v in answers.items() if step_of(question(page, k)) < pregnancy}, "ru")
    go_to_step(page, pregnancy, "ru")
    expect(page.get_by_role("group", name="Вы сейчас беременны?")).to_be_visible()
    page.get_by_role("button", name=WORDS["ru"]["next"]).click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Пожалуйста, проверьте эти ответы")
    expect(summary).to_contain_text("Вы сейчас беременны? – Пожалуйста, ответьте на этот вопрос.")
    assert axe_violations(axe, page) == []

    answer_questions(page, {k: v for k, v in answers.items() if step_of(question(page, k)) >= pregnancy}, "ru")
    fill_details(page, "ru", name="Анна Петрова", consent=False)
    go_to_step(page, step_count(page), "ru")
    page.get_by_role("button", name=WORDS["ru"]["submit"]).click()  # not signed yet
    expect(summary).to_contain_text("Нам нужно ваше согласие на хранение ответов.")
    assert axe_violations(axe, page) == []
    page.get_by_label(WORDS["ru"]["signature"]).fill("Анна Петрова")
    page.get_by_label(WORDS["ru"]["consent"]).check()
    submit(page, "ru")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "deferred")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Не сейчас: с процедурой лучше немного подождать, и мы будем рады видеть вас позже."
    )
    expect(page.locator(".outcome")).to_contain_text(
        re.compile(r"Начиная с \d{1,2} [а-я]+ \d{4}\sг\. вы можете снова заполнить анкету\.")
    )
    expect(page.get_by_role("region", name="Почему такой результат")).to_contain_text(
        "Перед лазерной процедурой герпес должен полностью зажить."
    )
    expect(page.locator(".reference-line")).to_have_text(re.compile(r"^Ваш код обращения [A-Z0-9]{8}$"))
    assert axe_violations(axe, page) == []
    screenshot(page, "result-deferred-ru")


def test_language_switch_is_visible_and_remembered(page: Page) -> None:
    page.goto("/screening")
    switch = page.get_by_role("navigation", name="Language")
    # On the questionnaire the switch is a button: it sends the answers typed so far along.
    switch.get_by_role("button", name="Русский").click()
    expect(page).to_have_url(re.compile(r"/screening\??$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Анкета: Лазерное омоложение лица")
    page.goto("/")  # the browser still asks for English; the choice wins
    expect(page.get_by_role("button", name="Заполнить анкету")).to_be_visible()
    page.get_by_role("navigation", name="Язык").get_by_role("link", name="English").click()
    expect(page.get_by_role("button", name="Start the questionnaire")).to_be_visible()


def test_keyboard_alone_is_enough(page: Page) -> None:
    """Tab, arrows, space and typing only: the patient never touches a mouse; Enter on "Next" at each step."""
    page.goto("/screening")
    count = step_count(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    page.keyboard.press("Enter")

    typed = {"patient_name": "Olga Smirnova", "email": "olga@example.com", "signature": "Olga Smirnova"}
    done: set[str] = set()
    steps = 0
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return {tag: e.tagName, type: e.type || '', name: e.name || '', value: e.value || '',"
            " checked: !!e.checked, id: e.id, text: e.textContent.trim()}; }"
        )
        name, kind = focused["name"], focused["type"]
        if focused["id"] == "submit":
            page.keyboard.press("Enter")
            break
        if focused["tag"] == "BUTTON" and focused["text"] == WORDS["en"]["next"]:
            page.keyboard.press("Enter")  # the next step, its heading focused
            steps += 1
            continue
        if name in typed:
            page.keyboard.type(typed[name])
        elif name == "date_of_birth":
            type_date(page, "1990", "05", "31")
        elif kind == "radio" and name not in done:
            wanted = str(CLEAR_PATIENT[name])
            if focused["value"] == wanted:
                page.keyboard.press("Space")
            for _step in range(10):
                if page.evaluate("document.activeElement.value") == wanted:
                    break
                page.keyboard.press("ArrowDown")
            done.add(name)
        elif kind == "checkbox" and (name == "consent" or focused["value"] in CLEAR_PATIENT.get(name, [])):  # type: ignore[operator]
            page.keyboard.press("Space")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "eligible")
    assert done == {k for k, v in CLEAR_PATIENT.items() if isinstance(v, str) and k != "date_of_birth"}
    assert steps == count - 1  # every step but the last left by its "Next"


def type_date(page: Page, year: str, month: str, day: str) -> None:
    """Type a date into the focused date field; headless chromium shows it as mm/dd/yyyy."""
    page.keyboard.type(month + day + year)
    assert page.evaluate("document.activeElement.value") == f"{year}-{month}-{day}", "date parts in another order?"
