"""A patient at the questionnaire: finds every field by its visible label or legend.

With the script the questionnaire is one section per step: the helpers walk the steps with
Back and Next as the patient would (``go_to_step``), so a test fills the page the same way
with the script on or off.
"""

from __future__ import annotations

from collections.abc import Mapping

from playwright.sync_api import Locator, Page, expect

from screening import ROOT
from screening.core.loader import load_rules
from screening.core.model import RuleSet, pick_text

RULES = load_rules(ROOT / "rules.yaml")

# The page's own words, as a patient reads them, in each language.
WORDS = {
    "en": {
        "start": "Start the questionnaire",
        "name": "Your full name",
        "email": "Email",
        "phone": "Phone",
        "consent": "I agree that the clinic stores my answers",
        "signature": "Signature: type your first name and surname",
        "submit": "See my result",
        "errors": "Please check these answers",
        "next": "Next",
        "back": "Back",
    },
    "ru": {
        "start": "Заполнить анкету",
        "name": "Имя и фамилия",
        "email": "Электронная почта",
        "phone": "Телефон",
        "consent": "Я согласен(на), чтобы клиника хранила мои ответы",
        "signature": "Подпись: введите имя и фамилию",
        "submit": "Узнать результат",
        "errors": "Пожалуйста, проверьте эти ответы",
        "next": "Далее",
        "back": "Назад",
    },
}

CLEAR_PATIENT: dict[str, object] = {
    "date_of_birth": "1990-05-31",
    "skin_type": "III",
    "concerns": ["wrinkles", "pores"],
    "herpes_active": "no",
    "skin_inflammation": "no",
    "changing_mole": "no",
    "recent_tan": "no",
    "pregnant": "no",
    "breastfeeding": "no",
    "herpes_history": "no",
    "cancer": "none",
    "chronic_flare": "no",
    "autoimmune": "no",
    "epilepsy": "no",
    "keloids": "no",
    "implants": "no",
    "isotretinoin": "never",
    "photosensitizing_meds": "no",
    "anticoagulants": "no",
    "recent_injectables": "no",
    "recent_peel": "no",
    "other_conditions": ["none"],
    "lifelong_history": ["none"],
    "aspirin_or_supplements": "no",
    "topical_retinoids": "no",
}


def question_text(question_id: str, language: str = "en", ruleset: RuleSet = RULES) -> str:
    return pick_text(ruleset.question_by_id[question_id].text, language)


def option_label(question_id: str, value: str, language: str = "en", ruleset: RuleSet = RULES) -> str:
    question = ruleset.question_by_id[question_id]
    return next(pick_text(o.label, language) for o in question.options if o.value == value)


def in_steps(page: Page) -> bool:
    """Whether the questionnaire is shown in steps (the script ran)."""
    return page.locator("form.questionnaire[data-steps]").count() > 0


def current_step(page: Page) -> int:
    return int(page.locator("form.questionnaire").get_attribute("data-step") or 0)


def step_count(page: Page) -> int:
    return int(page.locator("form.questionnaire").get_attribute("data-steps") or 0)


def step_of(field: Locator) -> int:
    """The step (1-based) whose section holds this field."""
    return int(field.evaluate("e => e.closest('section[data-step]').dataset.step"))


def go_to_step(page: Page, step: int, language: str = "en") -> None:
    """Press Back or Next until the step is on screen; each Next must be accepted."""
    form = page.locator("form.questionnaire")
    while (now := current_step(page)) != step:
        forward = now < step
        page.get_by_role("button", name=WORDS[language]["next" if forward else "back"], exact=True).click()
        expect(form).to_have_attribute("data-step", str(now + 1 if forward else now - 1))


def show_field(page: Page, field: Locator, language: str = "en") -> Locator:
    """The field, its step on screen when the questionnaire is in steps."""
    if in_steps(page):
        go_to_step(page, step_of(field), language)
    return field


def answer_questions(page: Page, answers: Mapping[str, object], language: str = "en", ruleset: RuleSet = RULES) -> None:
    """Answer each question as shown: radios and checkboxes within their legend's group, dates by label.

    In steps, the questions are answered step by step in page order (a follow-up after its trigger).
    """
    order = list(answers)
    if in_steps(page):
        places = page.evaluate(
            """ids => { const all = [...document.querySelectorAll('form.questionnaire .question')];
                 return ids.map(id => { const e = document.getElementById('q-' + id);
                   return [+e.closest('section[data-step]').dataset.step, all.indexOf(e)]; }); }""",
            order,
        )
        order = [question_id for _place, question_id in sorted(zip(places, order, strict=True))]
    for question_id in order:
        value = answers[question_id]
        question = ruleset.question_by_id[question_id]
        text = question_text(question_id, language, ruleset)
        if in_steps(page):
            go_to_step(page, step_of(page.locator(f"#q-{question_id}")), language)
        if question.type == "date":
            page.get_by_label(text).fill(str(value))
            continue
        group = page.get_by_role("group", name=text)
        if question.type == "multi":
            for item in value:  # type: ignore[attr-defined]
                label = option_label(question_id, item, language, ruleset)
                group.get_by_role("checkbox", name=label, exact=True).check()
        else:
            group.get_by_role(
                "radio", name=option_label(question_id, str(value), language, ruleset), exact=True
            ).check()


def fill_details(page: Page, language: str = "en", name: str = "Anna Petrova", consent: bool = True) -> None:
    words = WORDS[language]
    show_field(page, page.get_by_label(words["name"]), language).fill(name)
    page.get_by_label(words["email"], exact=True).fill("anna@example.com")
    if consent:
        show_field(page, page.get_by_label(words["signature"]), language).fill(name)
        page.get_by_label(words["consent"]).check()


def submit(page: Page, language: str = "en") -> None:
    """Send the questionnaire: in steps, from its last step."""
    if in_steps(page):
        go_to_step(page, step_count(page), language)
    page.get_by_role("button", name=WORDS[language]["submit"]).click()
