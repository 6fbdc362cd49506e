"""Migration m039: what a new screening's answers contradict in the same patient's
recent ones (``core.history``), and the index of the queue's "Needs a decision".

``findings`` holds the findings as JSON (NULL when there were none); ``flagged``
says a practitioner must decide the screening whatever its verdict. "Needs a
decision" is an undecided review or an undecided flagged screening: a partial
index holds exactly those in time order, so its page walks only them; the
flagged ones that are not reviews (few: a changed answer is rare) have one of
their own, so its count is the trigger-kept reviews plus a count of those.
"""

from __future__ import annotations

from sqlite_utils import Database

# The queue's "Needs a decision", spelled once: the partial index's WHERE and the
# queue's filter must be the same text for either database to use the index.
NEEDS_DECISION_SQL = "reviewed = 0 AND (status = 'review' OR flagged = 1)"
FLAGGED_UNDECIDED_SQL = "flagged = 1 AND reviewed = 0 AND status <> 'review'"

_INDEXES = (
    f"CREATE INDEX idx_screenings_needs_decision ON screenings (created_at, id) WHERE {NEEDS_DECISION_SQL}",
    f"CREATE INDEX idx_screenings_flagged_undecided ON screenings (status) WHERE {FLAGGED_UNDECIDED_SQL}",
)


def m039_answer_findings(db: Database) -> None:
    """Findings against the patient's earlier answers, the flag, and the "Needs a decision" indexes."""
    db.execute("ALTER TABLE screenings ADD COLUMN findings TEXT")
    db.execute("ALTER TABLE screenings ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0")
    for sql in _INDEXES:
        db.execute(sql)


M039_POSTGRESQL = "\n".join(
    [
        "ALTER TABLE screenings ADD COLUMN findings TEXT;",
        "ALTER TABLE screenings ADD COLUMN flagged BIGINT NOT NULL DEFAULT 0;",
        *(f"{sql};" for sql in _INDEXES),
    ]
)
