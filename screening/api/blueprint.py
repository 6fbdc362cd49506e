"""The ``api`` blueprint, in a module of its own so that each route module can
add its views to it without importing the others."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
