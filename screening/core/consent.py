"""The consent and privacy texts the patient signs, and the typed signature.

The texts are files the clinic edits beside the rule file, one per kind and
language (``consent/consent.en.md``, ``consent/privacy.ru.md``), each opening
with its own version line::

    version: 2026.12.1

    # Title

    A paragraph; paragraphs are separated by blank lines.

A text's identity is its version plus the SHA-256 of its body, so a changed
word gives a new identity even when nobody changed the version line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("consent", "privacy")
VERSION_LINE = re.compile(r"^version:\s*(\S.{0,63})$")
# Long enough for any browser's User-Agent; what is stored is cut to this.
USER_AGENT_MAX = 512


class ConsentFileError(Exception):
    """The consent texts cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ConsentText:
    """One text in one language, as the patient reads it."""

    kind: str  # one of KINDS
    language: str
    version: str
    body: str  # the file after its version line, line endings normalised
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", text_digest(self.body))

    @property
    def title(self) -> str:
        """The text's heading (its first ``# `` line), or empty."""
        for line in self.body.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return ""

    @property
    def paragraphs(self) -> list[str]:
        """The body's paragraphs, headings left out, lines of one paragraph joined."""
        return body_paragraphs(self.body)

    @property
    def identity(self) -> str:
        """Version and a short hash, as printed: ``2026.12.1 · SHA-256 1a2b3c4d5e6f``."""
        return text_identity(self.version, self.sha256)


@dataclass(frozen=True)
class ConsentSet:
    """Every text of every kind in every language of the rule file."""

    texts: Mapping[tuple[str, str], ConsentText]

    def text(self, kind: str, language: str) -> ConsentText:
        """The text of this kind in this language."""
        return self.texts[(kind, language)]


@dataclass(frozen=True)
class Signature:
    """A typed-name signature and where it came from."""

    typed_name: str
    signed_at: str  # UTC ISO timestamp
    client_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class SignedConsent:
    """What a patient signed: the consent text, the privacy notice it links, and the signature."""

    consent: ConsentText
    privacy: ConsentText
    signature: Signature | None


def text_digest(body: str) -> str:
    """The SHA-256 of a text body (UTF-8), in hex."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def text_identity(version: str | None, sha256: str | None) -> str:
    """A text's version and short hash as people read them."""
    if not sha256:
        return version or ""
    return f"{version} · SHA-256 {sha256[:12]}"


def body_paragraphs(body: str) -> list[str]:
    """The paragraphs of a text body, headings left out."""
    blocks = re.split(r"\n\s*\n", body.strip())
    paragraphs = []
    for block in blocks:
        lines = [line.strip() for line in block.splitlines() if not line.startswith("# ")]
        text = " ".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
    return paragraphs


def parse_text(kind: str, language: str, content: str, name: str) -> ConsentText:
    """A text from its file's content; ``ConsentFileError`` if its version line is missing."""
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    first, _, rest = content.partition("\n")
    match = VERSION_LINE.match(first.strip())
    if match is None:
        raise ConsentFileError([f"{name}:1: the first line must be 'version: ...'"])
    body = rest.strip("\n") + "\n"
    if not body_paragraphs(body):
        raise ConsentFileError([f"{name}: the text is empty"])
    return ConsentText(kind=kind, language=language, version=match.group(1).strip(), body=body)


def load_consent(folder: str | Path, languages: Iterable[str]) -> ConsentSet:
    """Every text from ``folder`` (``<kind>.<language>.md``), or ``ConsentFileError`` naming every problem."""
    folder = Path(folder)
    texts: dict[tuple[str, str], ConsentText] = {}
    problems: list[str] = []
    for kind in KINDS:
        for language in languages:
            path = folder / f"{kind}.{language}.md"
            try:
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                problems.append(f"{path}: cannot be read ({error.__class__.__name__})")
                continue
            try:
                texts[(kind, language)] = parse_text(kind, language, content, str(path))
            except ConsentFileError as error:
                problems.extend(error.problems)
    if problems:
        raise ConsentFileError(problems)
    return ConsentSet(texts)


def normalise_name(name: str) -> str:
    """A name as signatures are compared: case and every space ignored."""
    return "".join(name.split()).casefold()


def signature_matches(typed_name: str, patient_name: str) -> bool:
    """Whether a typed signature is the patient's name, ignoring case and spacing."""
    typed = normalise_name(typed_name)
    return bool(typed) and typed == normalise_name(patient_name)
