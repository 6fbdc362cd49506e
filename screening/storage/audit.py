"""The append-only audit log: who did what, never patient answers or names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from .connection import Database, Where, utc_now
from .records import AuditRecord


def record_audit(
    db: Database,
    action: str,
    *,
    actor: str | None = None,
    practitioner_id: int | None = None,
    target: str | None = None,
    client_address: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one row to the audit log (no patient answers or names in it)."""
    db.execute(
        "INSERT INTO audit_log (at, practitioner_id, actor, action, target, client_address, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            utc_now(),
            practitioner_id,
            actor,
            action,
            target,
            client_address,
            json.dumps(dict(details), ensure_ascii=False) if details else None,
        ],
    )


@dataclass(frozen=True)
class AuditFilter:
    """What the audit listing is narrowed to."""

    action: str | None = None
    practitioner_id: int | None = None
    targets: tuple[str, ...] = ()  # any of these targets
    since: str | None = None  # at >= since (UTC timestamp)
    until: str | None = None  # at < until


_AUDIT_SELECT = (
    "SELECT audit_log.*, practitioners.name AS practitioner_name, practitioners.email AS practitioner_email"
    " FROM audit_log LEFT JOIN practitioners ON practitioners.id = audit_log.practitioner_id"
)


def list_audit(
    db: Database, filters: AuditFilter = AuditFilter(), *, before: tuple[str, int] | None = None, limit: int = 100
) -> list[AuditRecord]:
    """One page of the audit log, newest first (keyset on (at, id)), with the
    practitioner's name."""
    where = (
        Where()
        .when(filters.action, "audit_log.action = ?")
        .when(filters.practitioner_id, "audit_log.practitioner_id = ?")
        .when(filters.since, "audit_log.at >= ?")
        .when(filters.until, "audit_log.at < ?")
    )
    if filters.targets:
        where.add(f"audit_log.target IN ({', '.join('?' for _ in filters.targets)})", *filters.targets)
    if before is not None:
        where.add("(audit_log.at, audit_log.id) < (?, ?)", *before)
    sql = f"{_AUDIT_SELECT}{where.sql()} ORDER BY audit_log.at DESC, audit_log.id DESC LIMIT ?"
    params = [*where.params, limit]
    records = []
    for row in db.query(sql, params):
        row["details"] = json.loads(row["details"]) if row["details"] else {}
        records.append(cast(AuditRecord, row))
    return records
