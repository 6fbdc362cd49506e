"""Migrations m020-m023: the signed consent texts, signatures and the integrity digest."""

from __future__ import annotations

from sqlite_utils import Database

# A typed signature's columns: the name typed, when, from which address and browser.
_SIGNATURE_COLUMNS = ("signature_name", "signed_at", "signature_address", "signature_user_agent")


def m020_consent_texts(db: Database) -> None:
    """Every consent and privacy text a patient signed, by its SHA-256: a
    screening names the text by hash, so an edited file never changes what
    an earlier patient agreed to."""
    db.table("consent_texts").create(
        {"sha256": str, "kind": str, "language": str, "version": str, "body": str, "stored_at": str},
        pk="sha256",
        not_null={"kind", "language", "version", "body", "stored_at"},
    )


def m021_consent_signature(db: Database) -> None:
    """The texts a screening's patient signed and their typed signature."""
    table = db.table("screenings")
    for column in ("consent_sha256", "privacy_sha256", *_SIGNATURE_COLUMNS):
        table.add_column(column, str)


def m022_reconfirmation_signatures(db: Database) -> None:
    """A re-confirmation is signed by the patient (typed) and the practitioner
    (their account; the name it had then, since accounts can be renamed)."""
    table = db.table("reconfirmations")
    for column in (*(f"patient_{name}" for name in _SIGNATURE_COLUMNS), "practitioner_signature_name"):
        table.add_column(column, str)


def m023_integrity(db: Database) -> None:
    """A SHA-256 over a screening's answers, verdict, consent and signatures."""
    db.table("screenings").add_column("integrity_sha256", str)


# The phone number's digits as the queue searches them: the characters
# ``core.people`` allows besides digits are dropped.
PHONE_DIGITS_SQL = (
    "replace(replace(replace(replace(replace(contact_phone, '+', ''), ' ', ''), '(', ''), ')', ''), '-', '')"
)
