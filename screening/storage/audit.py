"""The append-only audit log: who did what, never patient answers or names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlite_utils import Database

from .connection import utc_now
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


def list_audit(
    db: Database, filters: AuditFilter = AuditFilter(), *, before: tuple[str, int] | None = None, limit: int = 100
) -> list[AuditRecord]:
    """One page of the audit log, newest first (keyset on (at, id)), with the
    practitioner's name."""
    where: list[str] = []
    params: list[Any] = []
    if filters.action:
        where.append("audit_log.action = ?")
        params.append(filters.action)
    if filters.practitioner_id is not None:
        where.append("audit_log.practitioner_id = ?")
        params.append(filters.practitioner_id)
    if filters.targets:
        where.append(f"audit_log.target IN ({', '.join('?' for _ in filters.targets)})")
        params.extend(filters.targets)
    if filters.since:
        where.append("audit_log.at >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("audit_log.at < ?")
        params.append(filters.until)
    if before is not None:
        where.append("(audit_log.at, audit_log.id) < (?, ?)")
        params.extend(before)
    sql = (
        "SELECT audit_log.*, practitioners.name AS practitioner_name, practitioners.email AS practitioner_email"
        " FROM audit_log LEFT JOIN practitioners ON practitioners.id = audit_log.practitioner_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY audit_log.at DESC, audit_log.id DESC LIMIT ?"
    params.append(limit)
    records = []
    for row in db.query(sql, params):
        row["details"] = json.loads(row["details"]) if row["details"] else {}
        records.append(cast(AuditRecord, row))
    return records
