"""Migrations m030-m031: the queue finds a screening by phone digits and by e-mail."""

from __future__ import annotations

from sqlite_utils import Database

# The phone number's digits as the queue searches them: the characters
# ``core.people`` allows besides digits are dropped.
PHONE_DIGITS_SQL = (
    "replace(replace(replace(replace(replace(contact_phone, '+', ''), ' ', ''), '(', ''), ')', ''), '-', '')"
)


def m030_phone_search(db: Database) -> None:
    """The phone number's digits as a generated column with an index, so "+7 912" finds "+7 (912) 000-11-22"."""
    db.execute(
        f"ALTER TABLE screenings ADD COLUMN contact_phone_digits TEXT GENERATED ALWAYS AS ({PHONE_DIGITS_SQL}) VIRTUAL"
    )
    db.execute("CREATE INDEX idx_screenings_phone_digits ON screenings (contact_phone_digits)")


def m031_email_search(db: Database) -> None:
    """An index for finding a screening by its e-mail address in any case."""
    db.execute("CREATE INDEX idx_screenings_email_nocase ON screenings (contact_email COLLATE NOCASE)")
