"""The practitioners' workspace: sign-in, queue, detail and review, rules,
audit log and export."""

from __future__ import annotations

from .views import init_app

__all__ = ["init_app"]
