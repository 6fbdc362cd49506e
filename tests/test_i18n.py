"""Two languages: Russian pages from Accept-Language or the switch, and complete catalogs."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext

from screening import ROOT
from screening.core.model import RuleSet
from tests.helpers import CLEAR_ANSWERS

CATALOG_DIR = ROOT / "screening" / "translations"
LANGUAGES_WITH_CATALOGS = ("ru",)
PATIENT = {
    "patient_name": "Анна Петрова",
    "email": "anna@example.com",
    "phone": "",
    "consent": "y",
    "signature": "Анна Петрова",
}
RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
RU_MONTHS = "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"


def text_of(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def page_text(client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> str:
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200
    return text_of(response.get_data(as_text=True))


def submit(client: FlaskClient, headers: dict[str, str], **changes: object) -> str:
    """Send the questionnaire and return the text of the page it leads to."""
    data = {k: v for k, v in {**CLEAR_ANSWERS, **PATIENT, **changes}.items() if v is not None}
    response = client.post("/screening", data=data, headers=headers)
    if response.status_code == 303:
        return page_text(client, response.headers["Location"], headers)
    return text_of(response.get_data(as_text=True))


# --- Pages in Russian -----------------------------------------------------------


def test_landing_page_follows_accept_language(client: FlaskClient) -> None:
    html = client.get("/", headers=RU).get_data(as_text=True)
    assert '<html lang="ru">' in html
    text = text_of(html)
    assert "Лазерное омоложение лица" in text
    assert "Подходит ли вам процедура?" in text
    assert "Заполнить анкету" in text
    assert "Перейти к содержанию" in text
    assert "Start the questionnaire" not in text


def test_unsupported_language_falls_back_to_english(client: FlaskClient) -> None:
    html = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Start the questionnaire" in text_of(html)


def test_questionnaire_in_russian(client: FlaskClient) -> None:
    text = page_text(client, "/screening", RU)
    assert "Анкета: Лазерное омоложение лица" in text
    for words in (
        "Ваши данные",
        "Имя и фамилия",
        "Как клинике с вами связаться?",
        "Электронная почта",
        "Вы сейчас беременны?",  # a question from the rule file
        "Нет, никогда",  # an option label
        "Не уверен(а)",
        "Изотретиноин выпускается под торговыми названиями",  # a help text
        "Дополнительный вопрос: ответьте на него, только если на вопрос «Принимали ли вы",
        "«Принимал(а) раньше»",
        "Я согласен(на), чтобы клиника хранила мои ответы",
        "Узнать результат",
    ):
        assert words in text
    for english in ("Your details", "Are you pregnant", "See my result", "Follow-up question"):
        assert english not in text


def test_error_messages_in_russian(client: FlaskClient) -> None:
    text = submit(client, RU, pregnant=None, patient_name="", consent=None, email="anna@", date_of_birth="2999-01-01")
    assert "Пожалуйста, проверьте эти ответы" in text
    assert "Вы сейчас беременны? – Пожалуйста, ответьте на этот вопрос." in text
    assert "Пожалуйста, укажите ваше имя." in text
    assert "Нам нужно ваше согласие на хранение ответов." in text
    assert "Пожалуйста, укажите адрес электронной почты в виде name@example.com." in text
    assert "Эта дата не может быть в будущем." in text
    assert "Ошибка:" in text  # the hidden prefix screen readers hear before each message
    assert "Please" not in text


def test_missing_contact_error_in_russian(client: FlaskClient) -> None:
    text = submit(client, RU, email="", phone="")
    assert "Пожалуйста, укажите адрес электронной почты или номер телефона." in text


def test_eligible_result_in_russian(client: FlaskClient) -> None:
    text = submit(client, RU)
    assert "Результат вашей анкеты" in text
    assert "Хорошие новости: по вашим ответам ничто не мешает процедуре" in text
    assert "Ваш код обращения" in text
    assert "Ваш курс процедур" in text
    assert "4–6 сеансов" in text  # the course, from the rule file
    assert "Как подготовиться" in text
    assert "После каждого сеанса" in text
    assert "не посещайте бассейн, сауну и солярий" in text  # aftercare
    assert "Good news" not in text


def test_deferred_result_in_russian_gives_the_date_in_russian(client: FlaskClient) -> None:
    text = submit(client, RU, herpes_active="yes")
    assert "Не сейчас: с процедурой лучше немного подождать" in text
    assert re.search(rf"Начиная с \d{{1,2}} ({RU_MONTHS}) \d{{4}} г\. вы можете снова заполнить анкету\.", text)
    assert re.search(rf"Начиная с \d{{1,2}} ({RU_MONTHS}) \d{{4}} г\. эта причина не помешает", text)
    assert ".." not in text
    assert "Перед лазерной процедурой герпес должен полностью зажить." in text  # the reason
    assert "Почему такой результат" in text


@pytest.mark.parametrize(
    ("accept_language", "date_pattern"),
    [
        ("en-GB,en;q=0.9", r"\d{1,2} [A-Z][a-z]+ \d{4}"),  # 8 December 2026
        ("en-US,en;q=0.9", r"[A-Z][a-z]+ \d{1,2}, \d{4}"),  # December 8, 2026
        ("en", r"\d{1,2} [A-Z][a-z]+ \d{4}"),
    ],
)
def test_deferred_result_in_english_gives_the_date_as_the_patient_writes_it(
    client: FlaskClient, accept_language: str, date_pattern: str
) -> None:
    text = submit(client, {"Accept-Language": accept_language}, herpes_active="yes")
    assert re.search(rf"You can fill in the questionnaire again from {date_pattern}\.", text)


@pytest.mark.parametrize(
    "accept_language", ["en-", "en-x-private", "en-Latn-US", "en-419", "en-*", "ru-UA", "EN-gb", "xx"]
)
def test_odd_accept_language_headers_still_give_a_readable_date(client: FlaskClient, accept_language: str) -> None:
    text = submit(client, {"Accept-Language": accept_language}, herpes_active="yes")
    english = r"questionnaire again from (\d{1,2} [A-Z][a-z]+|[A-Z][a-z]+ \d{1,2},) \d{4}\."
    russian = rf"Начиная с \d{{1,2}} ({RU_MONTHS}) \d{{4}} г\. вы можете"
    assert re.search(f"{english}|{russian}", text)


def test_review_and_ineligible_results_in_russian(client: FlaskClient) -> None:
    review = submit(client, RU, keloids="yes")
    assert "специалисту нужно посмотреть некоторые ваши ответы" in review
    assert "в течение 2 рабочих дней" in review  # clinic.yaml's reply_within_working_days
    ineligible = submit(client, RU, cancer="active")
    assert "По вашим ответам мы не можем провести эту процедуру" in ineligible


def test_error_page_in_russian(client: FlaskClient) -> None:
    response = client.get("/result/not-a-token", headers=RU)
    assert response.status_code == 404
    text = text_of(response.get_data(as_text=True))
    assert "Страница не найдена" in text
    assert "Вернуться на главную страницу" in text


# --- The language switch ------------------------------------------------------------


def test_the_switch_is_visible_on_every_page_in_its_own_language(client: FlaskClient) -> None:
    # On the questionnaire the switch is a button that sends the answers (test_patient_form.py).
    html = client.get("/", headers=EN).get_data(as_text=True)
    assert '<nav class="language-switch" aria-label="Language">' in html
    assert re.search(r'<a href="/language/ru\?next=/[^"]*" lang="ru" hreflang="ru">Русский</a>', html)
    assert '<span aria-current="true" lang="en">English</span>' in html


def test_a_forced_language_translates_then_gives_the_page_its_own_back(app: Flask) -> None:
    """The catalog is found once per request: a forced language (an e-mail or a PDF in the
    patient's language) must still get its own, and the page its own afterwards."""
    template = "{{ _('Sign in') }}"
    with app.test_request_context("/", headers=RU):
        before = (gettext("Sign in"), render_template_string(template))
        with force_locale("en"):
            forced = (gettext("Sign in"), render_template_string(template))
        after = (gettext("Sign in"), render_template_string(template))
    assert forced == ("Sign in", "Sign in")
    assert before == after
    assert before[0] == before[1] != "Sign in"


def test_switch_cookie_wins_over_accept_language(client: FlaskClient) -> None:
    response = client.get("/language/ru?next=/screening", headers=EN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/screening"
    cookie = response.headers["Set-Cookie"]
    assert "lang=ru" in cookie and "Max-Age=31536000" in cookie and "HttpOnly" in cookie
    assert "Ваши данные" in page_text(client, "/screening", EN)
    assert "Заполнить анкету" in page_text(client, "/", EN)

    client.get("/language/en?next=/", headers=RU)
    assert "Start the questionnaire" in page_text(client, "/", RU)


def test_unknown_language_is_refused(client: FlaskClient) -> None:
    assert client.get("/language/xx?next=/").status_code == 404
    assert "lang=" not in client.get("/language/xx?next=/").headers.get("Set-Cookie", "")


# --- Catalogs -----------------------------------------------------------------------


def catalog(language: str) -> Catalog:
    with open(CATALOG_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def page_strings() -> set[str]:
    """Every string the code and templates mark for translation (as `pybabel extract` finds them)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[sd]", text))


@pytest.mark.parametrize("language", LANGUAGES_WITH_CATALOGS)
def test_every_page_string_has_a_translation(language: str) -> None:
    messages = {m.id: m for m in catalog(language) if m.id}
    strings = page_strings()
    assert len(strings) > 50  # the extraction really found the templates
    assert sorted(strings - messages.keys()) == [], "new page strings: run pybabel extract/update"
    untranslated = [m.id for m in messages.values() if not m.string]
    assert untranslated == []
    fuzzy = [m.id for m in messages.values() if m.fuzzy]
    assert fuzzy == [], "fuzzy translations are guesses: check them and remove the flag"
    assert not catalog(language).fuzzy


@pytest.mark.parametrize("language", LANGUAGES_WITH_CATALOGS)
def test_translations_keep_their_placeholders(language: str) -> None:
    for message in catalog(language):
        if message.id and message.string:
            assert placeholders(message.string) == placeholders(str(message.id)), message.id


@pytest.mark.parametrize("language", LANGUAGES_WITH_CATALOGS)
def test_compiled_catalog_matches_the_po_file(language: str) -> None:
    compiled = Path(CATALOG_DIR / language / "LC_MESSAGES" / "messages.mo")
    assert compiled.exists(), "run `make translations`"
    with open(compiled, "rb") as mo:
        built = {m.id: m.string for m in read_mo(mo) if m.id}
    source = {m.id: m.string for m in catalog(language) if m.id}
    assert built == source, "the .mo file is out of date: run `make translations`"


def test_rule_file_texts_exist_in_both_languages(ruleset: RuleSet) -> None:
    texts = [ruleset.procedure.name, ruleset.procedure.description, ruleset.procedure.course]
    texts += [*ruleset.procedure.preparation, *ruleset.procedure.aftercare]
    texts += [s.title for s in ruleset.sections]
    for question in ruleset.questions:
        texts += [question.text, *([question.help] if question.help else []), *(o.label for o in question.options)]
    texts += [rule.patient for rule in ruleset.rules]
    assert set(ruleset.languages) == {"en", "ru"}
    for text in texts:
        assert text.get("en", "").strip() and text.get("ru", "").strip(), text
