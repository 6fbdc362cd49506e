"""Both backends: the same schema, moving a clinic between them, and clear errors at start-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlite_utils import Database

from bench.cuts import Counter, counting_postgres
from bench.servers import PostgresServer, free_port
from screening import storage
from screening.settings import ROOT
from screening.storage.copy import DERIVED_TABLES, copied_columns, list_tables
from screening.storage.schema_postgresql import POSTGRES_MIGRATIONS
from tests.helpers import add_screening, body, build_app, decide, empty_postgres, query, sign_in, signed_in

pytestmark = pytest.mark.postgresql


def new_postgres_database(server: PostgresServer) -> str:
    """A new, empty PostgreSQL database of its own (the copy's target must be empty)."""
    return server.create_database("copy_" + uuid.uuid4().hex[:12])


def queue_of(app: Flask) -> list[str]:
    """The references on the queue page, newest first, seen by the practitioner account of the
    source database (copied with its password hash, so signing in proves the accounts came across)."""
    client = app.test_client()
    assert sign_in(client).status_code == 303
    page = client.get("/practitioner/").get_data(as_text=True)
    return re.findall(r'data-reference="([A-Z0-9]+)"', page)


def test_both_backends_end_with_the_same_tables_and_columns(postgres_url: str, tmp_path: Path) -> None:
    sqlite = storage.connect(str(tmp_path / "schema.sqlite"))
    storage.migrate(sqlite)
    postgres = storage.connect(postgres_url)
    try:
        assert list_tables(sqlite) == list_tables(postgres)
        for table in list_tables(sqlite):
            if table not in DERIVED_TABLES:
                assert set(copied_columns(sqlite, table)) == set(copied_columns(postgres, table)), table
    finally:
        sqlite.close()
        postgres.close()


@pytest.mark.sqlite_only  # the app's database is the copy's source
def test_copy_database_to_postgresql_and_back_keeps_the_queue(
    app: Flask, runner: FlaskCliRunner, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    screenings = [
        add_screening(app, name, **changes)
        for name, changes in [
            ("Anna Petrova", {}),
            ("Boris Ivanov", {"pregnant": "yes"}),
            ("Clara Smith", {"keloids": "unsure"}),
        ]
    ]
    doctor = signed_in(app)
    decision = {"status": "eligible", "reason_code": "clarified_with_patient"}
    assert decide(doctor, screenings[2]["reference"], **decision).status_code == 303
    before = queue_of(app)
    target = new_postgres_database(postgres_server)

    result = runner.invoke(args=["copy-database", app.config["DATABASE"], target])
    assert result.exit_code == 0, result.output
    assert "every table's row count matches" in result.stdout
    assert "screenings: 3 copied" in result.stderr
    assert "postgres@" not in result.stdout  # the URL is printed without its user and password part
    on_postgres = build_app(tmp_path / "pg", DATABASE=target)
    assert queue_of(on_postgres) == before
    assert query(on_postgres, "SELECT decision FROM reviews") == [{"decision": "override"}]
    # New rows after the copy get new ids: the sequences moved past the copied ones.
    assert add_screening(on_postgres, "Dmitri New")["id"] > max(s["id"] for s in screenings)

    back = tmp_path / "back.sqlite"
    result = runner.invoke(args=["copy-database", target, str(back)])
    assert result.exit_code == 0, result.output
    on_sqlite = build_app(tmp_path / "back", DATABASE=str(back))
    assert queue_of(on_sqlite)[1:] == before
    assert storage.list_screenings(storage.connect(str(back)), storage.ScreeningFilter(search="dmitri"))


@pytest.mark.sqlite_only
def test_copy_database_refuses_a_target_that_holds_data(app: Flask, runner: FlaskCliRunner, postgres_url: str) -> None:
    empty_postgres(postgres_url)
    add_screening(app)
    assert runner.invoke(args=["copy-database", app.config["DATABASE"], postgres_url]).exit_code == 0
    again = runner.invoke(args=["copy-database", app.config["DATABASE"], postgres_url])
    assert again.exit_code == 2
    assert "the target is not empty (patients, screenings, patient_keys hold rows)" in again.stderr


def test_copy_database_names_a_missing_source(runner: FlaskCliRunner, tmp_path: Path, postgres_url: str) -> None:
    result = runner.invoke(args=["copy-database", str(tmp_path / "nothing.sqlite"), postgres_url])
    assert result.exit_code == 2
    assert "there is no database file" in result.stderr


@pytest.mark.parametrize("returning", [False, True], ids=["new patient", "returning patient"])
def test_an_api_post_on_postgresql_takes_three_round_trips(
    postgres_server: PostgresServer, tmp_path: Path, returning: bool
) -> None:
    """Issue 35: the patient's look-up (with the consent texts' and a new patient's INSERT), the
    screening's INSERT (with the earlier screenings the history check reads) and the COMMIT; the
    pool's check of its connection costs none. The returning patient's changed answer is still flagged."""
    # The rule-file check (a query at most once a CONFIG_CHECK_SECONDS) kept out of the count.
    app = build_app(tmp_path, DATABASE=new_postgres_database(postgres_server), CONFIG_CHECK_SECONDS=3600)
    client = app.test_client()
    first = body({**body()["answers"], "pregnant": "yes"})  # deferred
    assert client.post("/api/v1/screenings", json=first).status_code == 201
    email = "anna@example.com" if returning else "ben@example.com"
    second = body(patient={"name": "Anna Example", "email": email})  # "no" now: a change for staff to see
    counter = Counter()
    with counting_postgres(counter):
        reply = client.post("/api/v1/screenings", json=second)
    assert reply.status_code == 201, reply.get_data(as_text=True)
    assert counter.statements == 3
    rows = query(app, "SELECT patient_id, flagged FROM screenings ORDER BY id")
    assert (rows[0]["patient_id"] == rows[1]["patient_id"]) is returning
    assert rows[1]["flagged"] == (1 if returning else 0)


def test_servers_starting_at_once_migrate_once(postgres_server: PostgresServer) -> None:
    url = new_postgres_database(postgres_server)

    def start(_server: int) -> list[str]:
        db = storage.connect(url)
        try:
            return storage.migrate(db)
        finally:
            db.close()

    with ThreadPoolExecutor(3) as servers:  # three servers starting at the same moment
        applied = list(servers.map(start, range(3)))
    assert sorted(applied, key=len) == [[], [], [name for name, _sql in POSTGRES_MIGRATIONS]]


def test_migrations_after_m034_have_the_same_names_on_both_backends() -> None:
    from screening.storage.schema import migration_set

    sqlite_names = [m.name for m in migration_set().pending(Database(memory=True))]
    later = sqlite_names[sqlite_names.index("m034_course_sessions") + 1 :]
    assert [name for name, _sql in POSTGRES_MIGRATIONS[1:]] == later


def start_app(database: str, *, without_psycopg: bool = False) -> subprocess.CompletedProcess[str]:
    """Import app.py in a new process with ``database`` set, as gunicorn would."""
    env = {**os.environ, "SCREENING_DATABASE": database, "SCREENING_SECRET_KEY": "x" * 32}
    # A None entry in sys.modules makes ``import psycopg`` fail as if it were not installed.
    code = ("import sys; sys.modules['psycopg'] = None; " if without_psycopg else "") + "import app"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def future_schema(database: str) -> str:
    """Mark ``database`` (migrated) as migrated by a newer release, as a newer app would leave it."""
    db = storage.connect(database)
    try:
        storage.migrate(db)
        bookkeeping = "_migrations" if storage.dialect_of(db) == "postgresql" else "_sqlite_migrations"
        with storage.write_transaction(db):
            db.execute(
                f"INSERT INTO {bookkeeping} (migration_set, name, applied_at) VALUES ('screening', 'm999_future', ?)",
                [storage.utc_now()],
            )
    finally:
        db.close()
    return database


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("unreachable", "cannot connect to PostgreSQL at 127.0.0.1:"),
        ("unknown user", 'role "nobody" does not exist'),
        ("no driver", "SCREENING_DATABASE is a postgresql:// URL but psycopg is not installed"),
        ("newer postgresql schema", "schema is newer than this code (migrations m999_future are unknown here)"),
        ("newer sqlite schema", "schema is newer than this code (migrations m999_future are unknown here)"),
        ("read-only (a standby)", "cannot execute CREATE TABLE in a read-only transaction"),
    ],
)
def test_bad_database_settings_stop_the_app_with_one_line(
    setting: str, message: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    if setting == "newer postgresql schema":
        database = future_schema(new_postgres_database(postgres_server))
    elif setting == "newer sqlite schema":
        database = future_schema(str(tmp_path / "newer.sqlite"))
    elif setting == "read-only (a standby)":
        database = new_postgres_database(postgres_server)
        admin = storage.connect(postgres_server.url())
        admin.execute(f'ALTER DATABASE "{database.rpartition("/")[2]}" SET default_transaction_read_only = on')
        admin.close()
    else:
        database = {
            "unreachable": f"postgresql://postgres@127.0.0.1:{free_port()}/screening",
            "unknown user": postgres_server.url().replace("postgres@", "nobody@"),
            "no driver": postgres_server.url(),
        }[setting]
    started = start_app(database, without_psycopg=setting == "no driver")
    assert started.returncode == 2, started.stderr
    (line,) = started.stderr.strip().splitlines()
    assert line.startswith("The app will not start: ")
    assert message in line
    assert "Traceback" not in started.stderr


def test_an_unreachable_redis_falls_back_to_limits_per_process(tmp_path: Path) -> None:
    redis = f"redis://127.0.0.1:{free_port()}"  # nothing listens there
    app = build_app(tmp_path, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=redis, LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [sign_in(client, password="wrong password").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # refused sign-ins, then the limit: never a 500
