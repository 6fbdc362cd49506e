"""The problem collector of the loader: one run reports every mistake in
the rule file, each with its file and line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeGuard

from .model import ID_PATTERN
from .yaml_lines import LineDict, LineList


class Checker:
    """Collects problems while building the rule set, so that one run
    reports every mistake in the file instead of only the first."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[str] = []
        self.languages: tuple[str, ...] = ("en",)

    def problem(self, line: int, message: str) -> None:
        """Record a problem at ``line`` of the file."""
        self.problems.append(f"{self.path}:{line}: {message}")

    def line_of(self, parent: Any, key: str | int) -> int:
        """The line of ``parent[key]``, or of ``parent`` itself."""
        if isinstance(parent, LineDict) and isinstance(key, str):
            return parent.key_lines.get(key, parent.line)
        if isinstance(parent, LineList) and isinstance(key, int):
            return parent.item_lines[key]
        return getattr(parent, "line", 1)

    def mapping(self, value: Any, line: int, what: str) -> LineDict | None:
        """``value`` if it is a mapping; else a problem and None."""
        if isinstance(value, LineDict):
            return value
        self.problem(line, f"{what} must be a mapping of keys to values")
        return None

    def sequence(self, value: Any, line: int, what: str) -> LineList | None:
        """``value`` if it is a list; else a problem and None."""
        if isinstance(value, LineList):
            return value
        self.problem(line, f"{what} must be a list")
        return None

    def text(self, parent: LineDict, key: str, what: str, required: bool = True) -> dict[str, str] | None:
        """A translatable text: a string (one language) or {lang: string}."""
        line = self.line_of(parent, key)
        value = parent.get(key)
        if value is None or value == "":
            if required:
                self.problem(line, f"{what} is missing its '{key}' text")
            return None
        return self.text_value(value, line, f"{what} '{key}'")

    def text_value(self, value: Any, line: int, what: str) -> dict[str, str] | None:
        """A translatable text's value in every language, or None with a problem."""
        if isinstance(value, str):
            if len(self.languages) > 1:
                self.problem(
                    line,
                    f"{what} must give a translation for each language "
                    f"({', '.join(self.languages)}), e.g. {{{self.languages[0]}: ..., {self.languages[1]}: ...}}",
                )
            return {lang: value.strip() for lang in self.languages}
        if isinstance(value, LineDict):
            result: dict[str, str] = {}
            for lang in self.languages:
                text = value.get(lang)
                if not isinstance(text, str) or not text.strip():
                    self.problem(value.key_lines.get(lang, line), f"{what} has no '{lang}' translation")
                else:
                    result[lang] = text.strip()
            for lang in value:
                if lang not in self.languages:
                    self.problem(
                        value.key_lines[lang],
                        f"{what} has a text in '{lang}', which is not in languages ({', '.join(self.languages)})",
                    )
            return result
        self.problem(line, f"{what} must be a text or a mapping of language to text")
        return None

    def identifier(self, item: LineDict, what: str) -> str | None:
        """The item's ``id`` if it is well formed, else None with a problem."""
        value = item.get("id")
        if value is None:
            self.problem(item.line, f"{what} has no 'id'")
            return None
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.problem(
                self.line_of(item, "id"),
                f"{what} id {value!r} must start with a lower-case letter and use only a-z, 0-9 and _",
            )
            return None
        return value

    def unknown_keys(self, item: LineDict, allowed: tuple[str, ...], what: str) -> None:
        """A problem for each key of ``item`` outside ``allowed``."""
        for key in item:
            if key not in allowed:
                self.problem(
                    item.key_lines[key],
                    f"{what} has an unknown key '{key}' (allowed: {', '.join(allowed)})",
                )

    def entries(self, data: LineDict, key: str, kind: str) -> Iterator[LineDict]:
        """The mappings listed under ``data[key]`` (each "a ``kind``"); anything else is a problem."""
        entries = self.sequence(data.get(key), self.line_of(data, key), key)
        for index, entry in enumerate(entries or []):
            item = self.mapping(entry, self.line_of(entries, index), f"a {kind}")
            if item is not None:
                yield item

    def head(self, item: LineDict, kind: str, allowed: tuple[str, ...]) -> tuple[str | None, str]:
        """An entry's id (None if wrong) and its name in messages ("rule 'x'"),
        its unknown keys reported."""
        item_id = self.identifier(item, f"a {kind}")
        what = f"{kind} '{item_id}'"
        self.unknown_keys(item, allowed, what)
        return item_id, what

    def is_new(self, item_id: str | None, item: LineDict, seen: set[str], kind: str) -> TypeGuard[str]:
        """True for a valid id not seen before (now seen); a repeated id is a problem."""
        if item_id is None:
            return False
        if item_id in seen:
            self.problem(self.line_of(item, "id"), f"duplicate {kind} id '{item_id}'")
            return False
        seen.add(item_id)
        return True
