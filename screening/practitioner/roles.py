"""The role table moved to ``web.roles`` (the API reads it too); its names stay
importable from here. Edit the table there."""

from ..web.roles import (
    ACCESS,
    ADMIN,
    ADMINS,
    CLINICAL,
    PRACTITIONER,
    PUBLIC_ENDPOINTS,
    RECEPTION,
    ROLE_LABELS,
    ROLES,
    SCOPE_ACCESS,
    STAFF,
    may_open,
    may_use_scope,
)

__all__ = [
    "ACCESS",
    "ADMIN",
    "ADMINS",
    "CLINICAL",
    "PRACTITIONER",
    "PUBLIC_ENDPOINTS",
    "RECEPTION",
    "ROLES",
    "ROLE_LABELS",
    "SCOPE_ACCESS",
    "STAFF",
    "may_open",
    "may_use_scope",
]
