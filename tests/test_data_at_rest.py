"""Patient data at rest: private files, erase without a trace, and storage
faults (a read-only database, a full disk) that lose nothing and give no 500."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from screening import ROOT, storage
from screening.web.db import get_db
from tests.helpers import (
    CLEAR_ANSWERS,
    END_OTHER_CONNECTIONS,
    PATIENT_FORM,
    add_screening,
    body,
    build_app,
    execute,
    override_to_eligible,
    page_text,
    query,
)

NAME, EMAIL = "Zyxwvut Quorrelby", "quorrelby.patient@example.org"
COMMENT = "Mentioned a Xanthelasmoid scar"


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_wal_and_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    app = build_app(tmp_path, DATABASE=str(folder / "screening.sqlite"))
    add_screening(app)
    assert mode(folder) == 0o700
    for suffix in ("", "-wal", "-shm"):
        assert mode(str(folder / "screening.sqlite") + suffix) == 0o600, suffix


def test_an_existing_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    os.chmod(app.config["DATABASE"], 0o644)
    os.chmod(tmp_path, 0o755)
    build_app(tmp_path)
    assert mode(app.config["DATABASE"]) == 0o600 and mode(tmp_path) == 0o700


def test_a_database_in_a_shared_folder_leaves_the_folder_open_and_its_files_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # as /tmp is: every program's, not the app's to close
    app = build_app(tmp_path, DATABASE=str(shared / "screening.sqlite"))
    add_screening(app)
    assert mode(shared) == 0o1777
    for suffix in ("", "-wal", "-shm"):
        assert mode(str(shared / "screening.sqlite") + suffix) == 0o600, suffix


def test_the_migration_lock_is_private(tmp_path: Path) -> None:
    build_app(tmp_path)
    assert mode(tmp_path / ".migrate.lock") == 0o600


def test_a_migration_lock_left_readable_by_an_older_release_is_made_private(tmp_path: Path) -> None:
    (tmp_path / ".migrate.lock").touch()
    os.chmod(tmp_path / ".migrate.lock", 0o644)
    build_app(tmp_path)
    assert mode(tmp_path / ".migrate.lock") == 0o600


def unwritable_folder(tmp_path: Path, how: str) -> Path:
    """A folder for the database that start-up cannot write in, made as ``how`` says."""
    folder = tmp_path / "instance"
    if how == "a file where the folder should be":
        folder.write_text("not a folder")
    elif how == "a folder where the lock file should be":
        (folder / ".migrate.lock").mkdir(parents=True)
    else:
        folder.mkdir(mode=0o500)
    return folder


# Tests run as root here, and root writes through a folder's mode bits: a chmod 0500
# folder stops only other users, so it is tested only when the tests run as one. The
# other two refuse every user, root included, at the same two steps (the folder, the lock).
UNWRITABLE = ["a file where the folder should be", "a folder where the lock file should be"]
if os.geteuid() != 0:
    UNWRITABLE.append("a read-only folder (chmod 0500)")


@pytest.mark.parametrize("how", UNWRITABLE)
def test_an_unwritable_database_folder_is_a_storage_fault_not_an_os_error(tmp_path: Path, how: str) -> None:
    folder = unwritable_folder(tmp_path, how)
    with pytest.raises(storage.StorageUnavailable, match=f"cannot write in the database's folder {folder}: "):
        build_app(tmp_path, DATABASE=str(folder / "screening.sqlite"))


def test_an_unwritable_database_folder_stops_the_app_with_one_line(tmp_path: Path) -> None:
    """app.py, as gunicorn imports it: exit 2 and one line, no OSError traceback."""
    folder = unwritable_folder(tmp_path, "a folder where the lock file should be")
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("SCREENING_")},
        "SCREENING_DATABASE": str(folder / "screening.sqlite"),
        "SCREENING_SECRET_KEY": "a-long-enough-secret-key-for-this-test",
        "SCREENING_PUBLIC_URL": "https://clinic.example/",
    }
    done = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"The app will not start: cannot write in the database's folder {folder}: ")
    assert "Is a directory" in line


def test_a_backup_is_private(app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "backup.sqlite"
    assert app.test_cli_runner().invoke(args=["backup", str(target)]).exit_code == 0
    assert mode(target) == 0o600


@pytest.mark.sqlite_only
def test_erase_leaves_no_trace_in_the_database_files(app: Flask, doctor: FlaskClient) -> None:
    for other in range(3):
        add_screening(app, f"Other Patient {other}")
    screening = add_screening(app, NAME, keloids="unsure")
    from tests.helpers import execute

    execute(app, "UPDATE screenings SET contact_email = ? WHERE id = ?", [EMAIL, screening["id"]])
    reference = screening["reference"]
    assert override_to_eligible(doctor, reference, "physician_clearance", COMMENT).status_code == 303
    assert doctor.get("/practitioner/", query_string={"q": "Quorrelby"}).status_code == 200
    result = app.test_cli_runner().invoke(args=["erase", reference])
    assert result.exit_code == 0, result.output
    files = [app.config["DATABASE"] + suffix for suffix in ("", "-wal")]
    data = b"".join(Path(f).read_bytes() for f in files if os.path.exists(f)).lower()
    for secret in (NAME, EMAIL, COMMENT, "quorrelby", "zyxwvut", "xanthelasmoid"):
        assert secret.lower().encode("utf-8") not in data, secret
    assert b"other patient 2" in data  # the others are still there: the search above was not vacuous
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 3}]


def database_bytes(app: Flask) -> bytes:
    """The database file and its write-ahead log, as bytes (lower case)."""
    files = [Path(app.config["DATABASE"] + suffix) for suffix in ("", "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists()).lower()


@pytest.mark.sqlite_only
def test_an_erase_held_up_by_a_reader_is_finished_by_running_it_again(app: Flask) -> None:
    """A reader's open transaction keeps the old pages in the WAL: the first erase says so
    (exit 1), and running it again once the reader is gone wipes the name and e-mail."""
    runner = app.test_cli_runner()
    for other in range(3):
        add_screening(app, f"Other Patient {other}")
    reference = add_screening(app, NAME, email=EMAIL)["reference"]
    reader = sqlite3.connect(app.config["DATABASE"])
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM screenings").fetchone() == (4,)  # holds this snapshot
        first = runner.invoke(args=["erase", reference])
        assert first.exit_code == 1, first.output
        assert f"run `flask erase {reference}` again shortly to finish" in first.stderr
        assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 3}]  # the rows are gone ...
        held = database_bytes(app)
        assert NAME.lower().encode() in held and EMAIL.encode() in held  # ... their old pages are not
        still = runner.invoke(args=["erase", reference])
        assert still.exit_code == 1 and "again shortly" in still.stderr  # the reader is still there
    finally:
        reader.close()
    assert EMAIL.encode() in database_bytes(app)  # the reader gone, nothing wiped them by itself
    done = runner.invoke(args=["erase", reference])
    assert done.exit_code == 0, done.output
    assert "no copy of it is left in the database files" in done.stdout
    data = database_bytes(app)
    for secret in (NAME, EMAIL, "quorrelby", "zyxwvut"):
        assert secret.lower().encode() not in data, secret
    assert b"other patient 2" in data  # the others are still there: the search above was not vacuous
    erasures = query(app, "SELECT details FROM audit_log WHERE action = 'screening.erase' ORDER BY id")
    assert ['"wal_cleared": 0' in row["details"] for row in erasures] == [True, True, False]


# --- Storage faults --------------------------------------------------------------------

# Every yes/no question answered "yes": many reasons, a row larger than a page, so
# storing it needs new pages whatever free space the existing ones have.
MANY_REASONS = {**CLEAR_ANSWERS, **{q: "yes" for q, value in CLEAR_ANSWERS.items() if value == "no"}}


def refuse_writes(app: Flask, how: str) -> None:
    """Make the app's own connection refuse writes as a read-only file or a full disk would
    (on PostgreSQL: the database read-only, as a standby is after a failover)."""
    if storage.is_postgres_url(app.config["DATABASE"]):
        assert how == "read-only"
        execute(
            app, f'ALTER DATABASE "{app.config["DATABASE"].rpartition("/")[2]}" SET default_transaction_read_only = on'
        )
        # Connections open now keep the old default; a failover ends them too, and the
        # app's pool replaces them with new ones, which are read-only.
        execute(app, END_OTHER_CONNECTIONS)
        return
    with app.app_context():
        db = get_db()
        if how == "read-only":
            db.execute("PRAGMA query_only = ON")
        else:
            db.execute("CREATE TABLE IF NOT EXISTS disk_filler (blob BLOB)")
            # An update in place needs no new page here, while on a full disk it needs room in
            # the WAL: the touch of a signed-in session is made to need a page, as it would.
            # (Created before the fill: a schema change on a full "disk" has no room either.)
            db.execute(
                "CREATE TRIGGER disk_full_touch AFTER UPDATE ON sessions"
                " BEGIN INSERT INTO disk_filler VALUES (randomblob(4096)); END"
            )
            # Fill the free pages too, so the next screening needs a page the "disk" lacks.
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
            while True:
                try:
                    db.execute("INSERT INTO disk_filler VALUES (randomblob(512))")
                except sqlite3.OperationalError:
                    break
            db.conn.commit()  # the filler stays: the request's rollback must not free its pages


@pytest.mark.parametrize("how", ["read-only", pytest.param("disk full", marks=pytest.mark.sqlite_only)])
def test_a_questionnaire_that_cannot_be_saved_comes_back_with_every_answer(
    app: Flask, client: FlaskClient, how: str
) -> None:
    for number in range(30):  # a full disk bites when a new page is needed
        add_screening(app, f"Patient {number}")
    refuse_writes(app, how)
    answers = {**MANY_REASONS, "keloids": "unsure"}
    response = client.post(
        "/screening",
        data={
            **answers,
            **PATIENT_FORM,
            "patient_name": "Vera Orlova",
            "email": "vera@example.com",
            "signature": "Vera Orlova",
        },
    )
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "We could not save your answers just now, so nothing was stored" in page_text(response)
    html = response.get_data(as_text=True)
    assert 'value="Vera Orlova"' in html and 'value="vera@example.com"' in html
    assert 'value="1990-05-31"' in html
    assert '<input checked id="keloids-2" name="keloids" type="radio" value="unsure">' in html


@pytest.mark.parametrize("how", ["read-only", pytest.param("disk full", marks=pytest.mark.sqlite_only)])
def test_the_api_answers_503_with_retry_after(app: Flask, client: FlaskClient, how: str) -> None:
    for number in range(30):
        add_screening(app, f"Patient {number}")
    refuse_writes(app, how)
    response = client.post("/api/v1/screenings", json=body(MANY_REASONS))
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "nothing was saved" in response.get_json()["message"]


def test_sign_in_on_a_read_only_database_is_a_clear_page(app: Flask, client: FlaskClient) -> None:
    from tests.helpers import create_account, sign_in

    create_account(app)
    refuse_writes(app, "read-only")
    response = sign_in(client)
    assert response.status_code == 503
    assert "Nothing could be saved" in page_text(response)


def staff_pages(app: Flask, screening: dict[str, Any]) -> list[str]:
    """Every page under /practitioner/ a browser GETs, its arguments filled from ``screening``."""
    values = {
        "reference": screening["reference"],
        "sha256": "0" * 64,
        "token": "a-link",
        "delivery_id": "00000000-0000-0000-0000-000000000000",
        "version_id": 1,
    }
    with app.test_request_context():
        return sorted(
            url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/practitioner/") and "GET" in (rule.methods or set())
        )


@pytest.mark.parametrize("how", ["read-only", pytest.param("disk full", marks=pytest.mark.sqlite_only)])
def test_every_page_of_a_signed_in_staff_member_answers_503(app: Flask, doctor: FlaskClient, how: str) -> None:
    """Loading the signed-in account writes (the session's last use): the 503 page must not write again."""
    screening = add_screening(app)
    pages = staff_pages(app, screening)
    assert len(pages) > 15 and f"/practitioner/screening/{screening['reference']}" in pages
    refuse_writes(app, how)
    for page in pages:
        response = doctor.get(page, follow_redirects=True)  # a redirect (login/code) ends on a page too
        assert response.status_code == 503, (page, response.status_code)
        assert response.headers["Retry-After"] == "60" and "Nothing could be saved" in page_text(response), page
        assert "Anna Petrova" not in page_text(response), page


def test_the_write_check_at_start_up_finds_a_read_only_database(tmp_path: Path) -> None:
    """init_db runs this check on every start (web.db.init_db) and stops the app with its message."""
    app = build_app(tmp_path)
    db = storage.connect(app.config["DATABASE"])
    assert storage.check_writable(db) is None
    db.execute("PRAGMA query_only = ON")
    with pytest.raises(storage.StorageUnavailable, match="readonly database"):
        storage.check_writable(db)
    db.close()
