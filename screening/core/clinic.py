"""Load and validate ``clinic.yaml``: the clinic's name, contact details,
booking link, working days and time zone, edited by the clinic without code.

Like the rule file, loading returns a complete ``Clinic`` or raises
``ClinicFileError`` listing every problem as ``file:line: message``. The
file is read as YAML nodes, which carry their line, rather than as the rule
file's line-keeping mappings.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml

from .people import is_email
from .yaml_lines import compose_nodes

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What a booking URL may contain in braces: filled in for each patient.
BOOKING_PLACEHOLDERS = frozenset({"reference", "status"})
LOGO_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".svg", ".webp"})
_KEYS = (
    "name",
    "logo",
    "address",
    "phone",
    "email",
    "opening_hours",
    "booking_url",
    "privacy_url",
    "working_days",
    "reply_within_working_days",
    "staff_emails",
    "timezone",
)
_REQUIRED = ("name", "address", "phone", "email", "working_days")


class ClinicFileError(Exception):
    """The clinic file cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Clinic:
    """The clinic as patients and staff meet it."""

    path: str
    name: Mapping[str, str]
    address: Mapping[str, str]
    phone: str
    email: str
    working_days: tuple[str, ...]
    reply_within_working_days: int = 2
    opening_hours: Mapping[str, str] | None = None
    booking_url: str | None = None
    privacy_url: str | None = None
    logo: str | None = None  # an absolute path to the image file
    staff_emails: tuple[str, ...] = ()
    # The IANA name of the clinic's zone: every time a person reads is in it, and the
    # clinic's calendar day is "today" for the rules. Storage stays UTC.
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        """The clinic's time zone (ZoneInfo keeps one instance per name)."""
        return ZoneInfo(self.timezone)

    def booking_link(self, reference: str, status: str) -> str | None:
        """The booking URL with this patient's reference and status filled in, or None."""
        if not self.booking_url:
            return None
        return self.booking_url.format(reference=reference, status=status)


def is_web_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host (what links and webhooks accept)."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class _Check:
    """Collects every problem with its line, as the rule loader does."""

    def __init__(self, path: str, languages: tuple[str, ...]):
        self.path, self.languages = path, languages
        self.problems: list[str] = []

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(f"{self.path}:{node.start_mark.line + 1}: {message}")

    def scalar(self, node: yaml.Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and str(node.value).strip():
            return str(node.value).strip()
        self.problem(node, f"'{what}' must be a text")
        return None

    def text(self, node: yaml.Node, what: str) -> dict[str, str] | None:
        """A translatable text: one string (one language) or {language: string}."""
        if isinstance(node, yaml.ScalarNode):
            if len(self.languages) > 1:
                self.problem(node, f"'{what}' must give a text for each language ({', '.join(self.languages)})")
                return None
            value = self.scalar(node, what)
            return None if value is None else {self.languages[0]: value}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"'{what}' must be a text or a mapping of language to text")
            return None
        texts = {str(k.value): v for k, v in node.value}
        result: dict[str, str] = {}
        for language in self.languages:
            value = texts.get(language)
            if value is None:
                self.problem(node, f"'{what}' has no '{language}' text")
            elif (text := self.scalar(value, f"{what}.{language}")) is not None:
                result[language] = text
        return result if len(result) == len(self.languages) else None

    def url(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is not None and not is_web_url(value):
            self.problem(node, f"'{what}' must be an http:// or https:// address, not {value!r}")
            return None
        return value

    def email(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is not None and not is_email(value):
            self.problem(node, f"'{what}' must be an e-mail address like reception@example.com, not {value!r}")
            return None
        return value

    def items(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.problem(node, f"'{what}' must be a list")
        return []


def load_clinic(path: str | Path, languages: tuple[str, ...]) -> Clinic:
    """Read and validate the clinic file, with texts in ``languages``; raise ``ClinicFileError``."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ClinicFileError([f"{path}: cannot read the clinic file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ClinicFileError([f"{path}: the file is not valid UTF-8 (byte {exc.start})"]) from exc
    try:
        root = compose_nodes(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ClinicFileError([f"{path}:{mark.line + 1 if mark else 1}: YAML syntax error: {exc.problem}"]) from exc
    if not isinstance(root, yaml.MappingNode):
        raise ClinicFileError([f"{path}:1: the clinic file must be a mapping with {', '.join(_REQUIRED)}"])
    return _build(root, _Check(str(path), languages), path.parent)


def _build(root: yaml.MappingNode, check: _Check, folder: Path) -> Clinic:
    nodes: dict[str, yaml.Node] = {}
    for key_node, value_node in root.value:
        key = str(key_node.value)
        if key in nodes:
            check.problem(key_node, f"duplicate key '{key}'")
        elif key not in _KEYS:
            check.problem(key_node, f"unknown key '{key}' (allowed: {', '.join(_KEYS)})")
        nodes[key] = value_node
    for key in _REQUIRED:
        if key not in nodes:
            check.problems.append(f"{check.path}:1: the clinic file has no '{key}'")

    def text(key: str) -> dict[str, str] | None:
        return check.text(nodes[key], key) if key in nodes else None

    name, address, hours = text("name"), text("address"), text("opening_hours")
    phone = check.scalar(nodes["phone"], "phone") if "phone" in nodes else None
    email = check.email(nodes["email"], "email") if "email" in nodes else None
    booking = check.url(nodes["booking_url"], "booking_url") if "booking_url" in nodes else None
    privacy = check.url(nodes["privacy_url"], "privacy_url") if "privacy_url" in nodes else None
    if booking:
        _check_placeholders(check, nodes["booking_url"], booking)
    days = _working_days(check, nodes["working_days"]) if "working_days" in nodes else ()
    staff = tuple(
        e
        for n in (check.items(nodes["staff_emails"], "staff_emails") if "staff_emails" in nodes else [])
        if (e := check.email(n, "staff_emails")) is not None
    )
    reply_days = 2
    if "reply_within_working_days" in nodes:
        raw = check.scalar(nodes["reply_within_working_days"], "reply_within_working_days") or ""
        if not raw.isdigit() or not 1 <= int(raw) <= 30:
            check.problem(nodes["reply_within_working_days"], "'reply_within_working_days' must be 1 to 30 (days)")
        else:
            reply_days = int(raw)
    logo = _logo(check, nodes["logo"], folder) if "logo" in nodes else None
    zone = _timezone(check, nodes["timezone"]) if "timezone" in nodes else "UTC"
    if check.problems or name is None or address is None or phone is None or email is None:
        raise ClinicFileError(check.problems)
    return Clinic(
        path=check.path,
        name=name,
        address=address,
        phone=phone,
        email=email,
        working_days=days,
        reply_within_working_days=reply_days,
        opening_hours=hours,
        booking_url=booking,
        privacy_url=privacy,
        logo=logo,
        staff_emails=staff,
        timezone=zone or "UTC",
    )


def _check_placeholders(check: _Check, node: yaml.Node, url: str) -> None:
    try:
        names = {name for _text, name, _spec, _conv in string.Formatter().parse(url) if name is not None}
    except ValueError:
        check.problem(node, "'booking_url' has an unmatched '{' or '}'")
        return
    unknown = sorted(names - BOOKING_PLACEHOLDERS)
    if unknown:
        check.problem(node, f"'booking_url' may contain {{reference}} and {{status}} only, not {{{unknown[0]}}}")


def _working_days(check: _Check, node: yaml.Node) -> tuple[str, ...]:
    days: list[str] = []
    for item in check.items(node, "working_days"):
        day = (check.scalar(item, "working_days") or "").lower()
        if day not in WEEKDAYS:
            check.problem(item, f"'working_days' lists {day!r}: use {', '.join(WEEKDAYS)}")
        elif day not in days:
            days.append(day)
    if not days and isinstance(node, yaml.SequenceNode) and not node.value:
        check.problem(node, "'working_days' must name at least one day")
    return tuple(d for d in WEEKDAYS if d in days)


def _logo(check: _Check, node: yaml.Node, folder: Path) -> str | None:
    value = check.scalar(node, "logo")
    if value is None:
        return None
    logo = (folder / value).resolve()
    if logo.suffix.lower() not in LOGO_SUFFIXES:
        check.problem(node, f"'logo' must be an image file ({', '.join(sorted(LOGO_SUFFIXES))}), not {value!r}")
    elif not logo.is_file():
        check.problem(node, f"'logo' names a file that does not exist: {value!r}")
    else:
        return str(logo)
    return None


def _timezone(check: _Check, node: yaml.Node) -> str | None:
    value = check.scalar(node, "timezone")
    if value is None:
        return None
    try:
        if value == "localtime":  # the server's own zone, whatever it is: not the clinic's
            raise ZoneInfoNotFoundError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # A wrong capital is the likely slip (europe/london): name the zone meant.
        near = [name for name in available_timezones() if name.lower() == value.lower()]
        hint = f" (did you mean {near[0]}?)" if near else ""
        check.problem(node, f"'timezone' must be a time zone name such as Europe/London, not {value!r}{hint}")
        return None
    return value
