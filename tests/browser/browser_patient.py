"""A patient at the questionnaire: finds every field by its visible label or legend."""

from __future__ import annotations

from collections.abc import Mapping

from playwright.sync_api import Page

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
    "aspirin_or_supplements": "no",
    "topical_retinoids": "no",
}


def question_text(question_id: str, language: str = "en", ruleset: RuleSet = RULES) -> str:
    return pick_text(ruleset.question_by_id[question_id].text, language)


def option_label(question_id: str, value: str, language: str = "en", ruleset: RuleSet = RULES) -> str:
    question = ruleset.question_by_id[question_id]
    return next(pick_text(o.label, language) for o in question.options if o.value == value)


def answer_questions(page: Page, answers: Mapping[str, object], language: str = "en") -> None:
    """Answer each question as shown: radios and checkboxes within their legend's group, dates by label."""
    for question_id, value in answers.items():
        question = RULES.question_by_id[question_id]
        text = question_text(question_id, language)
        if question.type == "date":
            page.get_by_label(text).fill(str(value))
            continue
        group = page.get_by_role("group", name=text)
        if question.type == "multi":
            for item in value:  # type: ignore[attr-defined]
                group.get_by_role("checkbox", name=option_label(question_id, item, language), exact=True).check()
        else:
            group.get_by_role("radio", name=option_label(question_id, str(value), language), exact=True).check()


def fill_details(page: Page, language: str = "en", name: str = "Anna Petrova", consent: bool = True) -> None:
    words = WORDS[language]
    page.get_by_label(words["name"]).fill(name)
    page.get_by_label(words["email"], exact=True).fill("anna@example.com")
    if consent:
        page.get_by_label(words["signature"]).fill(name)
        page.get_by_label(words["consent"]).check()


def submit(page: Page, language: str = "en") -> None:
    page.get_by_role("button", name=WORDS[language]["submit"]).click()
