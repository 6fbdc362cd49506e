"""Waiting periods named in the rule file's texts by placeholder, rendered at load time.

``{period}`` in a rule's texts is that rule's waiting period (``rescreen:``);
``{period:rule_id}`` in any text is the named rule's. A form after ``|`` picks the case a
Russian sentence needs: ``{period}`` the accusative ("через 1 неделю", "за 8 недель"),
``{period|nom}`` the nominative ("1 неделя"), ``{period|gen}`` the genitive ("в течение
1 недели", "менее 6 месяцев"); English has one form ("1 week", "8 weeks"). ``{{`` and ``}}``
are literal braces. The loader renders every text once, so the rest of the app reads plain
texts; each text is also kept as written (``TextSource``) for ``lint``'s stale-number check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .checker import Checker
from .model import RESCREEN_UNITS, TextSource
from .yaml_lines import LineDict, LineList

# ``{{``, ``}}``, a placeholder (a name, an optional ``:rule_id`` and an optional ``|form``),
# or a lone brace (a mistake: refused).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PLACEHOLDER = re.compile(r"^period(?::([a-z][a-z0-9_]*))?(?:\|([a-z]+))?$")
FORMS = ("acc", "nom", "gen")
_USAGE = "use {period} (a rule's own), {period:rule_id}, with |nom or |gen for another case"

# English: (singular, plural).
_EN = {"days": ("day", "days"), "weeks": ("week", "weeks"), "months": ("month", "months")}
# Russian: nominative, accusative and genitive singular, genitive plural.
_RU = {
    "days": ("день", "день", "дня", "дней"),
    "weeks": ("неделя", "неделю", "недели", "недель"),
    "months": ("месяц", "месяц", "месяца", "месяцев"),
}
LANGUAGES = ("en", "ru")
# Keys whose values are not texts a reader sees (conditions, sources, the examples).
_NOT_TEXTS = ("when", "show_if", "rescreen", "recheck", "code", "source", "id")


class PlaceholderError(ValueError):
    """A placeholder that cannot be rendered; the message says why."""


@dataclass(frozen=True)
class Period:
    """A waiting period as a text names it: an amount of days, weeks or months."""

    unit: str
    amount: int


def _russian_category(amount: int) -> str:
    """The Russian plural category of a count: "one" (1, 21), "few" (2-4, 22-24) or "many"."""
    if amount % 10 == 1 and amount % 100 != 11:
        return "one"
    if 2 <= amount % 10 <= 4 and not 12 <= amount % 100 <= 14:
        return "few"
    return "many"


def period_words(period: Period, language: str, form: str = "acc") -> str:
    """``period`` in words in ``language`` ("8 weeks", "8 недель"), in the case ``form``."""
    if form not in FORMS:
        raise PlaceholderError(f"unknown form '|{form}' ({_USAGE})")
    amount = period.amount
    if language == "en":
        singular, plural = _EN[period.unit]
        return f"{amount} {singular if amount == 1 else plural}"
    if language == "ru":
        nominative, accusative, genitive, genitive_plural = _RU[period.unit]
        category = _russian_category(amount)
        if form == "gen":
            word = genitive if category == "one" else genitive_plural
        elif category == "one":
            word = nominative if form == "nom" else accusative
        else:
            word = genitive if category == "few" else genitive_plural
        return f"{amount} {word}"
    raise PlaceholderError(
        f"no words for waiting periods in '{language}' (placeholders work in {', '.join(LANGUAGES)})"
    )


def render_text(text: str, language: str, own_rule: str | None, periods: dict[str, Period | None]) -> str:
    """``text`` with each placeholder replaced; ``periods`` maps each rule id to its waiting
    period (None: the rule has none). Raise ``PlaceholderError``."""

    def replace(match: re.Match[str]) -> str:
        if len(match.group(0)) == 1:
            raise PlaceholderError(
                f"a lone '{match.group(0)}': write {{{{ or }}}} for a brace, {{period}} for a period"
            )
        if match.group(1) is None:
            return match.group(0)[0]
        found = _PLACEHOLDER.match(match.group(1).strip())
        if found is None:
            raise PlaceholderError(f"unknown placeholder '{match.group(0)}' ({_USAGE})")
        rule_id, form = found.group(1) or own_rule, found.group(2) or "acc"
        if rule_id is None:
            raise PlaceholderError(
                f"'{match.group(0)}' is outside a rule's texts: name the rule, e.g. {{period:rule_id}}"
            )
        if rule_id not in periods:
            raise PlaceholderError(f"'{match.group(0)}' names an unknown rule '{rule_id}'")
        period = periods[rule_id]
        if period is None:
            raise PlaceholderError(f"'{match.group(0)}': rule '{rule_id}' has no waiting period (rescreen:)")
        return period_words(period, language, form)

    return _TOKEN.sub(replace, text)


def stated_text(text: str) -> str:
    """``text`` without its placeholders: what it states in plain numbers."""
    return _TOKEN.sub(lambda m: " " if m.group(1) is not None else m.group(0)[0], text)


def named_rules(text: str, own_rule: str | None) -> frozenset[str]:
    """The rules whose waiting period ``text`` names by placeholder."""
    names = set()
    for match in _TOKEN.finditer(text):
        found = _PLACEHOLDER.match((match.group(1) or "").strip())
        if match.group(1) is not None and found is not None and (found.group(1) or own_rule):
            names.add(found.group(1) or own_rule)
    return frozenset(name for name in names if name)


def _raw_periods(data: LineDict) -> dict[str, Period | None]:
    """Rule id -> its waiting period as written; ``build_rules`` reports a malformed one, so
    such a rule renders as 0 days here rather than being reported twice."""
    periods: dict[str, Period | None] = {}
    rules = data.get("rules")
    for item in rules if isinstance(rules, LineList) else []:
        if not isinstance(item, LineDict) or not isinstance(item.get("id"), str):
            continue
        rescreen = item.get("rescreen")
        if rescreen is None:
            periods[item["id"]] = None
            continue
        units = [unit for unit in RESCREEN_UNITS if isinstance(rescreen, LineDict) and unit in rescreen]
        amount = rescreen.get(units[0]) if len(units) == 1 else None
        valid = isinstance(amount, int) and not isinstance(amount, bool) and amount > 0
        periods[item["id"]] = Period(units[0], amount) if valid and isinstance(amount, int) else Period("days", 0)
    return periods


# Keys whose value is a text: a string (one language) or {language: string}, or a list of them.
_TEXT_KEYS = ("text", "help", "label", "title", "patient", "practitioner", "name", "description", "course")
_TEXT_LISTS = ("preparation", "aftercare")


def _strings(
    value: Any, parent: Any, key: Any, line: int, languages: tuple[str, ...]
) -> Iterator[tuple[Any, Any, int, str]]:
    """(parent, key, line, language) of the text ``value`` (= ``parent[key]``) in each language."""
    if isinstance(value, str):
        yield parent, key, line, languages[0]
    elif isinstance(value, LineDict):
        for language in languages:
            if isinstance(value.get(language), str):
                yield value, language, value.key_lines.get(language, line), language


def _texts(node: Any, line: int, languages: tuple[str, ...]) -> Iterator[tuple[Any, Any, int, str]]:
    """(parent, key, line, language) of every text under ``node``."""
    if isinstance(node, LineDict):
        for key, value in node.items():
            at = node.key_lines.get(key, line)
            if key in _TEXT_KEYS:
                yield from _strings(value, node, key, at, languages)
            elif key in _TEXT_LISTS and isinstance(value, LineList):
                for index, entry in enumerate(value):
                    yield from _strings(entry, value, index, value.item_lines[index], languages)
            elif key not in _NOT_TEXTS:
                yield from _texts(value, at, languages)
    elif isinstance(node, LineList):
        for index, value in enumerate(node):
            yield from _texts(value, node.item_lines[index], languages)


def _owned(data: LineDict) -> Iterator[tuple[Any, int, tuple[str, str]]]:
    """Each part of the file that holds texts, with its line and owner (kind, id)."""
    for kind, key in (("rule", "rules"), ("question", "questions")):
        entries = data.get(key)
        if not isinstance(entries, LineList):
            continue
        for index, item in enumerate(entries):
            owner_id = item.get("id") if isinstance(item, LineDict) else None
            yield item, entries.item_lines[index], (kind, owner_id if isinstance(owner_id, str) else "")
    for key in ("procedure", "option_sets", "sections", "recheck_review"):
        if key in data:
            yield data[key], data.key_lines.get(key, data.line), ("", "")


def render_placeholders(data: LineDict, check: Checker, periods_from: LineDict | None = None) -> tuple[TextSource, ...]:
    """Render every text's placeholders in place in ``data`` (problems with the text's line);
    return each text as written, with its owner, for ``lint``. ``{period:rule_id}`` names a
    rule listed under ``periods_from["rules"]`` (``data``'s own rules when None): the shared
    questionnaire names the default procedure's rules, a procedure its own."""
    periods = _raw_periods(data if periods_from is None else periods_from)
    sources = []
    for part, part_line, (kind, owner_id) in _owned(data):
        for parent, key, line, language in _texts(part, part_line, check.languages):
            text = parent[key]
            own_rule = owner_id if kind == "rule" and owner_id else None
            sources.append(
                TextSource(
                    line=line,
                    language=language,
                    owner_kind=kind,
                    owner_id=owner_id,
                    stated=stated_text(text),
                    named=named_rules(text, own_rule),
                )
            )
            if "{" not in text and "}" not in text:
                continue
            try:
                parent[key] = render_text(text, language, own_rule, periods)
            except PlaceholderError as error:
                check.problem(line, f"{f'{kind} {owner_id!r}' if kind else 'a text'}: {error}")
    return tuple(sources)
