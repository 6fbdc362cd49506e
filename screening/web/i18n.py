"""Languages: the patient's choice, else their browser's, else the first one.

Page strings come from Flask-Babel catalogs; the rule file carries the
translations of its own texts, picked with the ``t`` template filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import cast

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.support import NullTranslations
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, Domain, get_locale

from ..core.model import pick_text
from .ruleset import get_ruleset

LANGUAGE_COOKIE = "lang"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
# How a language writes dates when the browser names no region (31 May 2026).
DEFAULT_DATE_LOCALES = {"en": "en_GB"}


def available_languages() -> tuple[str, ...]:
    """The languages the loaded rule file has texts in."""
    return get_ruleset().languages


def select_language() -> str:
    """The language for this request: remembered choice, else Accept-Language."""
    languages = available_languages()
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


# One parsed Locale per language code, shared by every request: Flask-Babel parses the
# selector's code anew each request (a few dozen µs), but a Locale it is handed is used as is.
_LOCALES: dict[str, Locale] = {}


def select_locale() -> Locale:
    """The locale of this request's language (``select_language``), parsed once per code."""
    code = select_language()
    locale = _LOCALES.get(code)
    if locale is None:
        locale = _LOCALES.setdefault(code, Locale.parse(code))
    return locale


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


class PageDomain(Domain):
    """Flask-Babel's message domain, finding the catalog once per request and locale.

    Flask-Babel looks the catalog up again for every string (about 10 us: the
    context, the locale, its name as a key), and a queue page has ~500 strings.
    The catalog found is kept with the locale object it was found for, so
    ``force_locale`` (a new locale object) still gets its own.
    """

    def get_translations(self) -> NullTranslations:
        """The catalog of the locale in force."""
        locale = get_locale()
        if locale is None:
            return cast(NullTranslations, super().get_translations())
        kept: tuple[Locale, NullTranslations] | None = g.get("_page_catalog")
        if kept is not None and kept[0] is locale:
            return kept[1]
        catalog = cast(NullTranslations, super().get_translations())
        g._page_catalog = (locale, catalog)
        return catalog


def init_app(app: Flask) -> None:
    """Set up Flask-Babel and the template helpers."""
    babel = Babel(app, locale_selector=select_locale)
    domain = PageDomain(domain=app.extensions["babel"].default_domain)
    babel.domain_instance = domain
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.add_template_filter(translate_text, "t")
    app.add_template_global(format_iso_date)

    @app.context_processor
    def inject_languages() -> dict[str, object]:
        return {
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in available_languages()],
            "current_language": current_language(),
        }
