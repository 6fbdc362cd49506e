"""Rule files changed in the app (m041): proposed by one account, approved or rejected by
another, the approved one served by every server, earlier ones kept to restore.

The file is stored whole, as text; nothing here reads its structure (the loader does).
At most one version is ``approved`` at a time: approving one supersedes the one before.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import cast

from .connection import Database, insert_row, query_one, utc_now, write_transaction
from .records import ApprovedRules, RuleVersionRecord

RULES_PROPOSED, RULES_APPROVED, RULES_REJECTED = "proposed", "approved", "rejected"
RULES_WITHDRAWN, RULES_SUPERSEDED = "withdrawn", "superseded"
RULE_VERSION_STATES = (RULES_PROPOSED, RULES_APPROVED, RULES_REJECTED, RULES_WITHDRAWN, RULES_SUPERSEDED)


class RuleVersionDecided(Exception):
    """The version is no longer a proposal: someone decided or withdrew it meanwhile."""


def text_sha256(text: str) -> str:
    """The SHA-256 of a rule file's text as UTF-8: the rule set's digest when it is loaded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def propose_rule_version(
    db: Database,
    text: str,
    version: str,
    practitioner_id: int | None,
    note: str | None = None,
    restores_id: int | None = None,
) -> int:
    """Store a proposed rule file; returns its id."""
    return insert_row(
        db,
        "INSERT INTO rule_versions (text, sha256, version, state, note, proposed_by, proposed_at, restores_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [text, text_sha256(text), version, RULES_PROPOSED, note or None, practitioner_id, utc_now(), restores_id],
    )


def get_rule_version(db: Database, version_id: int) -> RuleVersionRecord | None:
    """The version with this id, text included, or None."""
    return cast(RuleVersionRecord | None, query_one(db, "SELECT * FROM rule_versions WHERE id = ?", [version_id]))


def latest_approved_rules(db: Database) -> ApprovedRules | None:
    """The approved version's id and digests (one indexed read, no text), or None."""
    row = query_one(db, "SELECT id, sha256, disk_sha256 FROM rule_versions WHERE state = ?", [RULES_APPROVED])
    return cast(ApprovedRules | None, row)


def list_rule_versions(db: Database) -> list[RuleVersionRecord]:
    """Every version without its text, newest first, with the names of who proposed and decided it."""
    rows = db.query(
        "SELECT rule_versions.id, sha256, version, state, note, proposed_by, proposed_at, decided_by, decided_at,"
        " comment, disk_sha256, replaces_id, restores_id, '' AS text,"
        " proposer.name AS proposed_by_name, decider.name AS decided_by_name FROM rule_versions"
        " LEFT JOIN practitioners AS proposer ON proposer.id = rule_versions.proposed_by"
        " LEFT JOIN practitioners AS decider ON decider.id = rule_versions.decided_by"
        " ORDER BY rule_versions.id DESC"
    )
    return [cast(RuleVersionRecord, row) for row in rows]


def _decide(db: Database, version_id: int, state: str, practitioner_id: int | None, comment: str | None) -> None:
    cursor = db.execute(
        "UPDATE rule_versions SET state = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ? AND state = ?",
        [state, practitioner_id, utc_now(), comment or None, version_id, RULES_PROPOSED],
    )
    if cursor.rowcount != 1:
        raise RuleVersionDecided(version_id)


def approve_rule_version(
    db: Database, version_id: int, practitioner_id: int | None, comment: str | None, disk_sha256: str | None
) -> int | None:
    """Approve a proposal, superseding the approved version; returns the superseded id (None: none was).

    One transaction: two approvals at once on two servers cannot both win (the second finds
    no proposal, or the unique index refuses a second approved row), raising ``RuleVersionDecided``.
    """
    try:
        with write_transaction(db):
            before = latest_approved_rules(db)
            replaced = before["id"] if before is not None else None
            if replaced is not None:
                db.execute("UPDATE rule_versions SET state = ? WHERE id = ?", [RULES_SUPERSEDED, replaced])
            _decide(db, version_id, RULES_APPROVED, practitioner_id, comment)
            db.execute(
                "UPDATE rule_versions SET disk_sha256 = ?, replaces_id = ? WHERE id = ?",
                [disk_sha256, replaced, version_id],
            )
    except sqlite3.IntegrityError as error:  # another server's approval committed first
        raise RuleVersionDecided(version_id) from error
    return replaced


def reject_rule_version(db: Database, version_id: int, practitioner_id: int | None, comment: str | None) -> None:
    """Reject a proposal; raise ``RuleVersionDecided`` if it is no longer one."""
    _decide(db, version_id, RULES_REJECTED, practitioner_id, comment)


def withdraw_rule_version(db: Database, version_id: int, practitioner_id: int | None) -> None:
    """Withdraw a proposal; raise ``RuleVersionDecided`` if it is no longer one."""
    _decide(db, version_id, RULES_WITHDRAWN, practitioner_id, None)
