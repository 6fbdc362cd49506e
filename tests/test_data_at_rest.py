"""Patient data at rest: private files, erase without a trace, and storage
faults (a read-only database, a full disk) that lose nothing and give no 500."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
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
            # Fill the free pages too, so the next screening needs a page the "disk" lacks.
            db.execute("CREATE TABLE IF NOT EXISTS disk_filler (blob BLOB)")
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


def test_the_write_check_at_start_up_finds_a_read_only_database(tmp_path: Path) -> None:
    """init_db runs this check on every start (web.db.init_db) and stops the app with its message."""
    app = build_app(tmp_path)
    db = storage.connect(app.config["DATABASE"])
    assert storage.check_writable(db) is None
    db.execute("PRAGMA query_only = ON")
    with pytest.raises(storage.StorageUnavailable, match="readonly database"):
        storage.check_writable(db)
    db.close()
