"""The baselines for bench/http_load.py, bench/peer.py and bench/lighthouse.py: the smallest Flask app,
served the same way.

``POST /store`` is the storing limit (issue 35): it parses the same JSON body as the API POST and
commits one row, durably, through the app's own connection layer (``storage.connect`` and
``write_transaction``: on SQLite WAL, ``synchronous=FULL``, the writer lock and the WAL synced
before the answer; on PostgreSQL a pooled-style connection kept per thread, one transaction).
The database is ``SCREENING_DATABASE``, as for the app.
"""

import json
import os
import threading

from flask import Flask, request

from screening import storage

app = Flask(__name__)

# The least a page needs for Lighthouse's accessibility, best-practices and SEO audits.
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Baseline</title>'
    '<meta name="description" content="The smallest page, measured beside the app\'s pages.">'
    '<link rel="icon" href="data:,"></head><body><main><h1>Baseline</h1><p>Nothing but Flask and gunicorn.</p>'
    "</main></body></html>"
)

_local = threading.local()


def _database() -> storage.Database:
    """This thread's connection (opened once per thread and process, as the app's are)."""
    if getattr(_local, "pid", None) != os.getpid():
        path = os.environ.get("SCREENING_DATABASE", "instance/baseline.sqlite")
        db = storage.connect(path, os.environ.get("SCREENING_SQLITE_SYNCHRONOUS", "FULL"))
        key = "BIGSERIAL" if storage.dialect_of(db) == "postgresql" else "INTEGER"
        with storage.write_transaction(db):
            db.execute(f"CREATE TABLE IF NOT EXISTS stored (id {key} PRIMARY KEY, body TEXT NOT NULL)")
        _local.db, _local.pid = db, os.getpid()
    return _local.db  # type: ignore[no-any-return]


@app.get("/ping")
def ping() -> str:
    """Nothing but Flask and gunicorn."""
    return "ok"


@app.get("/page")
def page() -> str:
    """A one-paragraph HTML page with no stylesheet or script."""
    return PAGE


@app.post("/store")
def store() -> tuple[str, int]:
    """Parse the JSON body and commit it as one durable row: the least a stored screening costs."""
    body = json.loads(request.get_data())
    db = _database()
    with storage.write_transaction(db):
        db.execute("INSERT INTO stored (body) VALUES (?)", [json.dumps(body["answers"])])
    return "stored", 201
