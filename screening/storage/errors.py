"""The storage layer's own errors, shared by both backends."""

from __future__ import annotations


class StorageUnavailable(Exception):
    """The database cannot take writes now (read-only, or the disk is full): nothing was saved."""


class PostgresUnavailable(StorageUnavailable):
    """PostgreSQL cannot be used: no driver installed, the server unreachable, or the sign-in refused."""


class SchemaTooNew(StorageUnavailable):
    """The database was migrated by a newer release than this code: running on it could lose data."""
