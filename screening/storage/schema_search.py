"""Migrations m030-m031 and m035: the queue finds a screening by phone digits, by e-mail and by name at scale."""

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


def m035_search_at_scale(db: Database) -> None:
    """The name index follows the name only: sqlite-utils' trigger rewrote a
    screening's full-text entry on every update of any column (the integrity
    digest and the patient link, twice in each new screening's transaction)."""
    db.execute("DROP TRIGGER IF EXISTS screenings_au")
    db.execute(
        "CREATE TRIGGER screenings_au AFTER UPDATE OF patient_name ON screenings"
        " WHEN old.patient_name IS NOT new.patient_name BEGIN"
        " INSERT INTO screenings_fts (screenings_fts, rowid, patient_name)"
        " VALUES ('delete', old.rowid, old.patient_name);"
        " INSERT INTO screenings_fts (rowid, patient_name) VALUES (new.rowid, new.patient_name);"
        " END"
    )
