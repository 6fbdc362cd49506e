"""The request's database connection, flaskr style."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from sqlite_utils import Database

from . import storage


def get_db() -> Database:
    """The database connection for this request, opened on first use."""
    if "db" not in g:
        g.db = storage.connect(current_app.config["DATABASE"])
    db: Database = g.db
    return db


def close_db(exc: BaseException | None = None) -> None:
    """Close the request's connection, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db(path: str) -> list[str]:
    """Create or migrate the database at ``path``; return the migrations applied."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # Several server workers start at once: one migrates, the others wait.
    with open(os.path.join(directory, ".migrate.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = storage.connect(path)
        try:
            return storage.migrate(db)
        finally:
            db.close()


def screening_day() -> dt.date:
    """Today in the clinic's time zone: the day ages and dates are counted on."""
    return dt.datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def init_app(app: Flask) -> None:
    """Migrate the database on start-up and close connections after requests."""
    init_db(app.config["DATABASE"])
    app.teardown_appcontext(close_db)
