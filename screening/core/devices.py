"""Load and validate ``devices.yaml``: the clinic's devices (handpieces or filters, wavelengths,
spot sizes, cooling) and its protocol, the ranges it allows per procedure and skin type
(``core.session_check`` checks a session's settings against them).

Like the rule file, loading returns a complete ``Protocol`` or raises ``DevicesFileError``
listing every problem as ``file:line: message``, cross-checked against the rule file's
procedures and skin types when they are given. The ranges are the clinic's, not advice of ours:
a setting outside them is not refused, it needs the practitioner's reason.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checker import Checker
from .model import RuleBook, RuleFileError, RuleSet
from .yaml_lines import LineDict, read_yaml

HANDPIECE_KINDS = ("handpiece", "filter")
_TOP_KEYS = ("devices", "protocols")
_DEVICE_KEYS = ("id", "name", "cooling", "handpieces")
_HANDPIECE_KEYS = ("id", "name", "kind", "wavelengths_nm", "spot_sizes_mm")
_RANGE_KEYS = (
    "procedure",
    "skin_types",
    "devices",
    "handpieces",
    "wavelengths_nm",
    "max_fluence_j_cm2",
    "pulse_ms",
    "patch_caps_first_session",
)


class DevicesFileError(Exception):
    """The devices file cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Handpiece:
    """A handpiece or filter of a device: what it emits and the spots it offers."""

    id: str
    name: str
    kind: str  # one of HANDPIECE_KINDS
    wavelengths_nm: tuple[int, ...]
    spot_sizes_mm: tuple[float, ...]


@dataclass(frozen=True)
class Device:
    """A device of the clinic."""

    id: str
    name: str
    cooling: tuple[str, ...]
    handpieces: tuple[Handpiece, ...]

    def handpiece(self, handpiece_id: str) -> Handpiece | None:
        """The device's handpiece or filter with that id, or None."""
        return next((h for h in self.handpieces if h.id == handpiece_id), None)


@dataclass(frozen=True)
class ProtocolRange:
    """What the clinic allows for one procedure and skin type (empty sets: anything the device offers)."""

    procedure: str
    skin_type: str
    line: int
    max_fluence_j_cm2: float
    devices: frozenset[str] = frozenset()
    handpieces: frozenset[str] = frozenset()
    wavelengths_nm: frozenset[int] = frozenset()
    pulse_ms: tuple[float, float] | None = None
    patch_caps_first_session: bool = False


@dataclass(frozen=True)
class Protocol:
    """The devices file: the devices and the ranges by (procedure, skin type)."""

    path: str
    devices: tuple[Device, ...]
    ranges: Mapping[tuple[str, str], ProtocolRange]

    def device(self, device_id: str) -> Device | None:
        """The device with that id, or None."""
        return next((d for d in self.devices if d.id == device_id), None)

    def range_for(self, procedure: str, skin_type: str | None) -> ProtocolRange | None:
        """The range for ``procedure`` and ``skin_type``; None when the protocol has none (or no skin type)."""
        return self.ranges.get((procedure, skin_type)) if skin_type else None


def load_protocol(
    path: str | Path, procedures: Collection[str] | None = None, skin_types: Collection[str] | None = None
) -> Protocol:
    """Read and validate the devices file; with the rule file's procedure ids and skin-type values,
    each entry is checked against them too. Raise ``DevicesFileError``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DevicesFileError([f"{path}: cannot read the devices file: {exc.strerror or exc}"]) from exc
    return parse_protocol(raw, str(path), procedures, skin_types)


def load_protocol_for(path: str | Path, rules: RuleSet | RuleBook) -> Protocol:
    """``load_protocol`` checked against the rule file: its skin-type question's option values and,
    given the whole rule book, its procedure ids (one procedure's rule set cannot tell the others)."""
    default = rules.get() if isinstance(rules, RuleBook) else rules
    procedures = tuple(rules.procedures) if isinstance(rules, RuleBook) else None
    question_id = default.role_question("skin_type")
    question = default.question_by_id.get(question_id) if question_id else None
    skin_types = tuple(o.value for o in question.options) if question is not None else None
    return load_protocol(path, procedures, skin_types)


def parse_protocol(
    raw: bytes, path: str, procedures: Collection[str] | None = None, skin_types: Collection[str] | None = None
) -> Protocol:
    """``load_protocol`` on the file's bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DevicesFileError([f"{path}: the file is not valid UTF-8 (byte {exc.start})"]) from exc
    try:
        data, duplicates = read_yaml(text, path)
    except RuleFileError as error:
        raise DevicesFileError(error.problems) from error
    check = Checker(path)
    for line, key in duplicates:
        check.problem(line, f"duplicate key '{key}'")
    if not isinstance(data, LineDict):
        raise DevicesFileError(
            [*check.problems, f"{path}:1: the devices file must be a mapping with devices, protocols"]
        )
    check.unknown_keys(data, _TOP_KEYS, "the devices file")
    for key in _TOP_KEYS:
        if key not in data:
            check.problem(1, f"the devices file has no '{key}'")
    devices = _devices(data, check) if "devices" in data else ()
    ranges = _ranges(data, check, devices, procedures, skin_types) if "protocols" in data else {}
    if check.problems:
        raise DevicesFileError(check.problems)
    return Protocol(path=path, devices=devices, ranges=ranges)


def _number(check: Checker, value: Any, line: int, what: str, *, whole: bool = False) -> float | None:
    """A positive number (a whole one when ``whole``), or None with a problem."""
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if not ok or isinstance(value, bool) or value <= 0:
        kind = "a whole number above 0" if whole else "a number above 0"
        check.problem(line, f"{what} must be {kind}, not {value!r}")
        return None
    return float(value)


def _numbers(check: Checker, parent: LineDict, key: str, what: str, *, whole: bool = False) -> tuple[float, ...]:
    items = check.sequence(parent.get(key), check.line_of(parent, key), f"{what} '{key}'")
    if items is not None and not items:
        check.problem(check.line_of(parent, key), f"{what} '{key}' must list at least one value")
    found = [
        _number(check, v, check.line_of(items, i), f"{what} '{key}'", whole=whole) for i, v in enumerate(items or [])
    ]
    return tuple(n for n in found if n is not None)


def _name(check: Checker, item: LineDict, what: str) -> str:
    value = item.get("name")
    if not isinstance(value, str) or not value.strip():
        check.problem(check.line_of(item, "name"), f"{what} needs a 'name' (a text)")
        return ""
    return value.strip()


def _words(check: Checker, parent: LineDict, key: str, what: str) -> tuple[str, ...]:
    """A list of identifiers (``cooling``, ``devices``...): each a lower-case word."""
    items = check.sequence(parent.get(key), check.line_of(parent, key), f"{what} '{key}'")
    words: list[str] = []
    for index, value in enumerate(items or []):
        if isinstance(value, str) and value and value.replace("_", "").isalnum() and value == value.lower():
            words.append(value)
        else:
            check.problem(
                check.line_of(items, index), f"{what} '{key}' lists {value!r}: use lower-case words (a-z, 0-9, _)"
            )
    return tuple(words)


def _devices(data: LineDict, check: Checker) -> tuple[Device, ...]:
    devices: list[Device] = []
    seen: set[str] = set()
    for item in check.entries(data, "devices", "device"):
        device_id, what = check.head(item, "device", _DEVICE_KEYS)
        name = _name(check, item, what)
        cooling = _words(check, item, "cooling", what) if "cooling" in item else ("none",)
        handpieces: list[Handpiece] = []
        pieces_seen: set[str] = set()
        if "handpieces" not in item:
            check.problem(item.line, f"{what} has no 'handpieces' (list its handpieces or filters)")
        for piece in check.entries(item, "handpieces", "handpiece") if "handpieces" in item else ():
            piece_id, piece_what = check.head(piece, f"{what}: handpiece", _HANDPIECE_KEYS)
            kind = piece.get("kind", "handpiece")
            if kind not in HANDPIECE_KINDS:
                check.problem(
                    check.line_of(piece, "kind"), f"{piece_what} 'kind' must be handpiece or filter, not {kind!r}"
                )
            for key in ("wavelengths_nm", "spot_sizes_mm"):
                if key not in piece:
                    check.problem(piece.line, f"{piece_what} has no '{key}'")
            wavelengths = (
                _numbers(check, piece, "wavelengths_nm", piece_what, whole=True) if "wavelengths_nm" in piece else ()
            )
            spots = _numbers(check, piece, "spot_sizes_mm", piece_what) if "spot_sizes_mm" in piece else ()
            if check.is_new(piece_id, piece, pieces_seen, f"{what}: handpiece"):
                handpieces.append(
                    Handpiece(
                        piece_id, _name(check, piece, piece_what), str(kind), tuple(int(w) for w in wavelengths), spots
                    )
                )
        if check.is_new(device_id, item, seen, "device"):
            devices.append(Device(device_id, name, cooling, tuple(handpieces)))
    return tuple(devices)


def _ranges(
    data: LineDict,
    check: Checker,
    devices: tuple[Device, ...],
    procedures: Collection[str] | None,
    skin_types: Collection[str] | None,
) -> dict[tuple[str, str], ProtocolRange]:
    ranges: dict[tuple[str, str], ProtocolRange] = {}
    by_id = {d.id: d for d in devices}
    for item in check.entries(data, "protocols", "protocol entry"):
        what = "a protocol entry"
        check.unknown_keys(item, _RANGE_KEYS, what)
        procedure = item.get("procedure")
        if not isinstance(procedure, str) or not procedure:
            check.problem(check.line_of(item, "procedure"), f"{what} needs a 'procedure' (its id in the rule file)")
            continue
        what = f"the protocol entry for '{procedure}'"
        if procedures is not None and procedure not in procedures:
            check.problem(
                check.line_of(item, "procedure"),
                f"{what}: the rule file has no procedure '{procedure}' (it has: {', '.join(procedures)})",
            )
        allowed_devices = frozenset(_words(check, item, "devices", what)) if "devices" in item else frozenset()
        for device_id in sorted(allowed_devices):
            if device_id not in by_id:
                check.problem(check.line_of(item, "devices"), f"{what} names an unknown device '{device_id}'")
        pieces = frozenset(_words(check, item, "handpieces", what)) if "handpieces" in item else frozenset()
        offered = {h.id for d in devices if not allowed_devices or d.id in allowed_devices for h in d.handpieces}
        for piece in sorted(pieces - offered):
            check.problem(
                check.line_of(item, "handpieces"), f"{what} names a handpiece or filter '{piece}' no allowed device has"
            )
        wavelengths = _numbers(check, item, "wavelengths_nm", what, whole=True) if "wavelengths_nm" in item else ()
        fluence = None
        if "max_fluence_j_cm2" not in item:
            check.problem(item.line, f"{what} has no 'max_fluence_j_cm2'")
        else:
            fluence = _number(
                check,
                item["max_fluence_j_cm2"],
                check.line_of(item, "max_fluence_j_cm2"),
                f"{what} 'max_fluence_j_cm2'",
            )
        pulse = _pulse(check, item, what) if "pulse_ms" in item else None
        caps = item.get("patch_caps_first_session", False)
        if not isinstance(caps, bool):
            check.problem(
                check.line_of(item, "patch_caps_first_session"),
                f"{what} 'patch_caps_first_session' must be true or false",
            )
        types = check.sequence(item.get("skin_types"), check.line_of(item, "skin_types"), f"{what} 'skin_types'")
        if "skin_types" not in item:
            continue
        for index, value in enumerate(types or []):
            line = check.line_of(types, index)
            skin_type = str(value)
            if skin_types is not None and skin_type not in skin_types:
                check.problem(
                    line,
                    f"{what}: the skin-type question has no option '{skin_type}' (it has: {', '.join(skin_types)})",
                )
            elif (procedure, skin_type) in ranges:
                earlier = ranges[(procedure, skin_type)].line
                check.problem(line, f"{what}: skin type {skin_type} already has a range (line {earlier})")
            elif fluence is not None:
                ranges[(procedure, skin_type)] = ProtocolRange(
                    procedure=procedure,
                    skin_type=skin_type,
                    line=line,
                    max_fluence_j_cm2=fluence,
                    devices=allowed_devices,
                    handpieces=pieces,
                    wavelengths_nm=frozenset(int(w) for w in wavelengths),
                    pulse_ms=pulse,
                    patch_caps_first_session=caps is True,
                )
    return ranges


def _pulse(check: Checker, item: LineDict, what: str) -> tuple[float, float] | None:
    line = check.line_of(item, "pulse_ms")
    value = check.mapping(item["pulse_ms"], line, f"{what} 'pulse_ms'")
    if value is None:
        return None
    if set(value) != {"min", "max"}:
        check.problem(line, f"{what} 'pulse_ms' must be {{min: ..., max: ...}} (milliseconds)")
        return None
    low = _number(check, value["min"], check.line_of(value, "min"), f"{what} 'pulse_ms' min")
    high = _number(check, value["max"], check.line_of(value, "max"), f"{what} 'pulse_ms' max")
    if low is None or high is None:
        return None
    if low > high:
        check.problem(line, f"{what} 'pulse_ms' min ({low:g}) is above its max ({high:g})")
        return None
    return (low, high)
