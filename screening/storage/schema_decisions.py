"""Migration m037: decisions that decide, on SQLite and PostgreSQL alike.

A decision names the date a deferral lasts until (``reviews.defer_until``,
and the current decision's in ``screenings.decided_defer_until``). "review"
is no longer a decision: every screening whose current decision is "review"
goes back to "Needs a decision". Its reviews rows stay as they were (the
history is append-only), and the audit log gets one row per screening reopened.
"""

# ruff: noqa: S608 - every statement here is built from this module's constants

from __future__ import annotations

from sqlite_utils import Database

from .connection import utc_now

# Screenings whose current decision is "review".
_DECIDED_REVIEW = "reviewed = 1 AND decided_status = 'review'"
# One audit row per reopened screening: no practitioner, the migration as the actor, the
# verdict and the decision set aside in the details ({at} is the migration's timestamp).
_AUDIT_REOPENED = (
    "INSERT INTO audit_log (at, practitioner_id, actor, action, target, client_address, details)"
    " SELECT {at}, NULL, 'migration m037', 'review.reopen', 'screening:' || reference, NULL,"
    ' \'{{"verdict": "\' || status || \'", "status": "review", "reviewed_at": "\' || reviewed_at || \'"}}\''
    f" FROM screenings WHERE {_DECIDED_REVIEW}"
)
_REOPEN = f"UPDATE screenings SET reviewed = 0, decided_status = NULL, reviewed_at = NULL WHERE {_DECIDED_REVIEW}"


def m037_decisions_decide(db: Database) -> None:
    """The deferral date of a decision; decisions recorded as "review" reopened, and audited."""
    db.table("reviews").add_column("defer_until", str)
    db.table("screenings").add_column("decided_defer_until", str)
    db.execute(_AUDIT_REOPENED.format(at="?"), [utc_now()])
    # m011's trigger moves each one to (status, not reviewed) in the queue's counts;
    # the chart's buckets (m036) count by status, which stays.
    db.execute(_REOPEN)


# The same for PostgreSQL, in one statement list; the timestamp as utc_now() writes it.
_PG_NOW = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
M037_POSTGRESQL = f"""
ALTER TABLE reviews ADD COLUMN defer_until TEXT;
ALTER TABLE screenings ADD COLUMN decided_defer_until TEXT;
{_AUDIT_REOPENED.format(at=_PG_NOW)};
{_REOPEN};
"""
