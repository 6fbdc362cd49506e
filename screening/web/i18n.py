"""Languages: the patient's choice, else their browser's, else the first one.

Page strings come from Flask-Babel catalogs; the rule file carries the
translations of its own texts, picked with the ``t`` template filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale

from ..core.model import pick_text

LANGUAGE_COOKIE = "lang"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
# How a language writes dates when the browser names no region (31 May 2026).
DEFAULT_DATE_LOCALES = {"en": "en_GB"}


def available_languages() -> tuple[str, ...]:
    """The languages the loaded rule file has texts in."""
    languages: tuple[str, ...] = current_app.extensions["ruleset"].languages
    return languages


def select_language() -> str:
    """The language for this request: remembered choice, else Accept-Language."""
    languages = available_languages()
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def current_language() -> str:
    """The two-letter code of the language in use."""
    return str(get_locale() or "en")


def translate_text(text: Mapping[str, str] | None) -> str:
    """A rule-file text in the current language."""
    return pick_text(text, current_language())


def date_locale() -> str:
    """The patient's locale for dates: their browser's region of the page language (en_US, en_GB)."""
    language = current_language()
    if has_request_context():
        for tag, _quality in request.accept_languages:
            code = tag.replace("-", "_")
            if code.split("_")[0].lower() != language or "_" not in code:
                continue
            try:
                return str(Locale.parse(code))
            except (ValueError, UnknownLocaleError):
                continue
    return DEFAULT_DATE_LOCALES.get(language, language)


def format_iso_date(value: str | None) -> str:
    """An ISO date as the patient's locale writes it (31 May 2026 / May 31, 2026 / 31 мая 2026 г.)."""
    return format_date(dt.date.fromisoformat(value), "long", locale=date_locale()) if value else ""


def init_app(app: Flask) -> None:
    """Set up Flask-Babel and the template helpers."""
    Babel(app, locale_selector=select_language)
    app.add_template_filter(translate_text, "t")
    app.add_template_global(format_iso_date)

    @app.context_processor
    def inject_languages() -> dict[str, object]:
        return {
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in available_languages()],
            "current_language": current_language(),
        }
