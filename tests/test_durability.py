"""Small-size runs of bench/durability.py: a real gunicorn, concurrent clients, kill -9."""

from __future__ import annotations

import uuid

import pytest

from bench.durability import NOT_KILLED, concurrency_check, crash_check
from bench.servers import PostgresServer

# Each starts gunicorn and drives it with concurrent clients: seconds, not milliseconds.
pytestmark = pytest.mark.slow


def test_concurrent_posts_are_all_stored_once() -> None:
    report = concurrency_check(clients=6, requests=5)
    assert report.sent == 30
    assert report.server_errors == 0
    assert report.acknowledged == report.sent == report.rows
    assert report.lost == 0 and report.duplicates == 0
    assert report.integrity == "ok"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_kill_9_mid_load_loses_nothing_acknowledged(backend: str, request: pytest.FixtureRequest) -> None:
    database = None
    if backend == "postgresql":  # the app killed, PostgreSQL (fsync on in production) left running
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database = server.create_database("crash_" + uuid.uuid4().hex[:12])
    report = crash_check(clients=4, kill_after=1.0, database=database)
    assert report.acknowledged > 0
    # The kill really cut requests off: each client posts without pause, so it lands in a request
    # (a POST or the form's GET) or refuses the next one, whatever the machine's speed.
    assert sum(report.other.values()) > 0, report
    assert report.lost == 0
    assert report.server_errors == 0
    assert report.integrity == ("ok" if backend == "sqlite" else NOT_KILLED)
    assert report.rows >= report.acknowledged
    assert report.duplicates == 0
