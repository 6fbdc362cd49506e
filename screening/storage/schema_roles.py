"""m014: the role columns, renamed from the previous release's question ids.

The previous release named two screenings columns after the ids of the
questions playing the birth-date and treatment-goals roles; this release
names them after the roles, so any rule file can play them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlite_utils import Database
from sqlite_utils.db import quote_identifier

# The screenings column that keeps the answer of the question playing each
# role (see ``core.model.ROLES``), so the queue and exports need not parse answers.
ROLE_COLUMNS: Mapping[str, str] = {"birth_date": "birth_date", "treatment_goals": "goals"}

# Every screenings column as of m013: no legacy name may be one of these, so
# a rule file whose question shares a name with one cannot rename it away.
# Part of m014, so frozen like it.
_M013_COLUMNS = frozenset(
    [
        "id",
        "reference",
        "token_hash",
        "created_at",
        "source",
        "language",
        "patient_name",
        "contact_email",
        "contact_phone",
        "birth_date",
        "answers",
        "goals",
        "status",
        "reasons",
        "rescreen_after",
        "rules_version",
        "consent_version",
        "reviewed",
        "decided_status",
        "reviewed_at",
        "confirmed_at",
    ]
)


def rename_role_columns(db: Database, legacy_columns: Mapping[str, str]) -> None:
    """m014: rename the columns the previous release named after the role questions'
    ids (``legacy_columns`` maps each id to its column), keeping their data."""
    table = db.table("screenings")
    columns = set(table.columns_dict)
    for legacy, column in legacy_columns.items():
        if column not in ROLE_COLUMNS.values():
            raise ValueError(f"{column!r} is not a role column ({', '.join(ROLE_COLUMNS.values())})")
        # A database created by this release already has the column; its
        # question ids are then only answers' keys, not columns.
        if legacy in columns and column not in columns and legacy not in _M013_COLUMNS:
            db.execute(f"ALTER TABLE screenings RENAME COLUMN {quote_identifier(legacy)} TO {quote_identifier(column)}")
            columns = (columns - {legacy}) | {column}
    missing = [column for column in ROLE_COLUMNS.values() if column not in columns]
    if missing:
        # Raising leaves the migration pending, so a later start with the
        # right rule file can still rename: nothing is recorded half done.
        raise RuntimeError(
            f"the screenings table lacks {', '.join(missing)}: the previous release named these columns after the"
            " questions playing the roles, so the rule file must give those questions their roles (role: ...)"
        )


def legacy_role_columns(roles: Mapping[str, str]) -> dict[str, str]:
    """Map each role question's id (``RuleSet.roles``: role -> id) to its role's column, as ``migrate`` takes it."""
    return {roles[role]: column for role, column in ROLE_COLUMNS.items() if role in roles}
