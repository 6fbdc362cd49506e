"""The production kit: the systemd unit and the nginx site (checked by systemd and nginx
themselves), `restore` of an SQLite backup, the version, /healthz and /metrics."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.middleware.proxy_fix import ProxyFix

from bench.servers import PostgresServer
from screening import storage
from screening.settings import ROOT
from screening.web.db import get_db
from screening.web.security import ConfigError
from tests.helpers import add_screening, audit_rows, build_app, empty_postgres, execute, page_text, query

UNIT = ROOT / "deploy" / "screening.service"
NGINX = ROOT / "deploy" / "nginx.conf"
INSTALLED_AT = "/opt/screening"  # where the unit and its comments put the code


# --- The systemd unit ----------------------------------------------------------------


def unit_options() -> tuple[configparser.RawConfigParser, list[str]]:
    """The unit parsed as systemd's INI dialect, and its Environment= lines (a key systemd lets repeat)."""
    text = UNIT.read_text(encoding="utf-8")
    parser = configparser.RawConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parser.read_string(text)
    return parser, re.findall(r"^Environment=(.+)$", text, flags=re.MULTILINE)


def test_the_unit_runs_gunicorn_as_its_own_user_hardened() -> None:
    unit, environment = unit_options()
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    assert service["User"] == "screening" != "root" and service["Group"] == "screening"
    assert service["WorkingDirectory"] == INSTALLED_AT
    assert service["ExecStart"] == f"{INSTALLED_AT}/.venv/bin/gunicorn --config {INSTALLED_AT}/gunicorn.conf.py app:app"
    assert (ROOT / "gunicorn.conf.py").is_file() and (ROOT / "app.py").is_file()
    assert service["EnvironmentFile"].startswith("/etc/") and "SCREENING_SECRET_KEY" in UNIT.read_text()
    expected = {
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        # Only the instance folder (the database, its locks, the rate-limit counts) is writable.
        "ReadWritePaths": f"{INSTALLED_AT}/instance",
        "PrivateTmp": "true",
        "UMask": "0077",
        "ProtectHome": "true",
        "RestartPreventExitStatus": "2",  # the app's refusal of a bad configuration
    }
    assert {key: service.get(key) for key in expected} == expected
    env = dict(line.split("=", 1) for line in environment)
    # One proxy in front (deploy/nginx.conf), and the metrics folder is the one systemd empties at each start.
    assert env["SCREENING_PROXY_COUNT"] == "1"
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/run/" + service["RuntimeDirectory"]
    assert "SCREENING_SECRET_KEY" not in env  # secrets only in the EnvironmentFile
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """systemd-analyze verify (from the systemd package), the code's folder put where this checkout is."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # no systemd on this machine: the parse above is the check
        unit_options()
        return
    copy = tmp_path / "screening.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED_AT, str(ROOT)), encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "screening.service" not in result.stderr, result.stderr


# --- The nginx site --------------------------------------------------------------------


def nginx_binary() -> str:
    """nginx, which `make test` installs (Makefile nginx-deps)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    assert found, "nginx is not installed: run `make test` (or `make nginx-deps`)"
    return found


OPENSSL_REQ = ("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for screening.example.com, made with openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [*OPENSSL_REQ, "-subj", "/CN=screening.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    """`nginx -t` on the site inside a minimal main file, its certificate paths replaced by a throwaway pair."""
    cert, key = self_signed_certificate(tmp_path)
    site = NGINX.read_text(encoding="utf-8")
    assert "/etc/letsencrypt/live/screening.example.com/fullchain.pem" in site
    site = site.replace("/etc/letsencrypt/live/screening.example.com/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/screening.example.com/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    temp = " ".join(
        f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; {temp} include {tmp_path}/site.conf; }}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def nginx_directives(name: str) -> list[str]:
    """The arguments of every ``name`` directive of the site file."""
    return re.findall(rf"^\s*{name}\s+([^;]+);", NGINX.read_text(encoding="utf-8"), flags=re.MULTILINE)


# ProxyFix's arguments and the header each reads.
FORWARDED = {
    "x_for": "X-Forwarded-For",
    "x_proto": "X-Forwarded-Proto",
    "x_host": "X-Forwarded-Host",
    "x_port": "X-Forwarded-Port",
    "x_prefix": "X-Forwarded-Prefix",
}


def test_nginx_sends_exactly_the_proxy_headers_the_app_trusts(tmp_path: Path) -> None:
    app = build_app(tmp_path, PROXY_COUNT=1)
    fix = app.wsgi_app
    assert isinstance(fix, ProxyFix)
    sent = dict(value.split(None, 1) for value in nginx_directives("proxy_set_header"))
    for argument, header in FORWARDED.items():
        if getattr(fix, argument):
            # Overwritten with nginx's own view: a client cannot choose its address or scheme.
            assert sent[header] in {"$remote_addr", "$scheme", "$host"}, header
        else:
            assert sent[header] == '""', header  # dropped, so the app never sees one a client made up
    assert nginx_directives("return")[0] == "301 https://screening.example.com$request_uri"
    assert "443 ssl http2" in nginx_directives("listen")
    assert nginx_directives("client_max_body_size")[0] == "64k"
    assert [nginx_directives(name) for name in ("client_header_timeout", "client_body_timeout")] == [["10s"], ["10s"]]
    # As the app sees a request nginx passed on: the client's address and HTTPS.
    client = app.test_client()
    seen = client.get(
        "/healthz",
        headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "localhost"},
    )
    assert seen.status_code == 200
    # ... and /metrics refuses that client (nginx refuses the path too: `location = /metrics`).
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404
    assert client.get("/metrics").status_code == 200  # 127.0.0.1, gunicorn scraped directly
    assert "= /metrics" in NGINX.read_text()


# --- restore ------------------------------------------------------------------------------


def backup_of(runner: FlaskCliRunner, path: Path) -> Path:
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    return path


def restore(runner: FlaskCliRunner, path: Path, *options: str) -> Any:
    return runner.invoke(args=["restore", str(path), *options])


def leftovers(app: Flask) -> list[str]:
    """Temporary copies a restore left in the database's folder."""
    return sorted(p.name for p in Path(app.config["DATABASE"]).parent.glob(".restore-*"))


def test_backup_erase_restore_brings_the_screening_back(
    app: Flask, runner: FlaskCliRunner, doctor: FlaskClient, tmp_path: Path
) -> None:
    screening = add_screening(app)
    reference = screening["reference"]
    page = f"/practitioner/screening/{reference}"
    assert "Anna Petrova" in page_text(doctor.get(page))
    backup = backup_of(runner, tmp_path / "backup.sqlite")
    erased = runner.invoke(args=["erase", reference])
    assert erased.exit_code == 0, erased.output
    assert query(app, "SELECT 1 FROM screenings WHERE reference = ?", [reference]) == []
    assert doctor.get(page).status_code == 404

    # The erase left another screening's worth of live data: without --force nothing is replaced.
    add_screening(app, "Boris Ivanov")
    refused = restore(runner, backup)
    assert refused.exit_code == 2
    assert "holds 1 screening(s)" in refused.stderr and "--force" in refused.stderr
    assert [row["reference"] for row in query(app, "SELECT reference FROM screenings")] != [reference]

    result = restore(runner, backup, "--force")
    assert result.exit_code == 0, result.output
    assert f"Restored {app.config['DATABASE']} from {backup}: 1 screening(s)." in result.stdout
    rows = query(app, "SELECT reference, patient_name FROM screenings")
    assert [(row["reference"], row["patient_name"]) for row in rows] == [(reference, "Anna Petrova")]
    assert "Anna Petrova" in page_text(doctor.get(page))  # the session came back with the backup too
    database = Path(app.config["DATABASE"])
    assert database.stat().st_mode & 0o777 == 0o600
    assert leftovers(app) == []
    assert [json.loads(row["details"]) for row in audit_rows(app, "data.restore")] == [
        {"forced": 1, "migrated": 0, "screenings": 1}
    ]


def test_restore_into_a_database_without_screenings_needs_no_force(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    screening = add_screening(app)
    backup = backup_of(runner, tmp_path / "backup.sqlite")
    fresh = build_app(tmp_path / "new")
    result = fresh.test_cli_runner().invoke(args=["restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert [row["reference"] for row in query(fresh, "SELECT reference FROM screenings")] == [screening["reference"]]


def corrupt_page(path: Path) -> None:
    """Overwrite the middle of the file's last page (the screenings' rows and indexes): the header stays readable."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    start = len(data) - page_size
    data[start : start + page_size] = b"\xa5" * page_size
    path.write_bytes(bytes(data))


def without_migrations(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE _sqlite_migrations")
    conn.commit()
    conn.close()


def from_the_future(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('screening', 'm999_future', 'now')"
    )
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda p: p.write_bytes(b"not a database at all" * 100), "not a readable SQLite database"),
        (corrupt_page, "database disk image is malformed"),
        (without_migrations, "no migrations table"),
        (from_the_future, "migrated by a newer release (m999_future)"),
        (lambda p: p.unlink(), "there is no backup file"),
    ],
    ids=["not sqlite", "damaged page", "another app's database", "newer release", "missing"],
)
def test_a_bad_backup_is_refused_before_anything_is_replaced(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, spoil: Any, message: str
) -> None:
    screening = add_screening(app)
    backup = backup_of(runner, tmp_path / "backup.sqlite")
    spoil(backup)
    before = Path(app.config["DATABASE"]).stat().st_ino
    result = restore(runner, backup, "--force")
    assert result.exit_code == 2
    assert "not restored: " in result.stderr and message in result.stderr, result.stderr
    assert Path(app.config["DATABASE"]).stat().st_ino == before
    assert [row["reference"] for row in query(app, "SELECT reference FROM screenings")] == [screening["reference"]]
    assert leftovers(app) == []


@pytest.mark.postgresql
def test_restore_on_postgresql_points_to_pg_restore(postgres_url: str, tmp_path: Path) -> None:
    empty_postgres(postgres_url)
    app = build_app(tmp_path, DATABASE=postgres_url)
    result = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "dump"), "--force"])
    assert result.exit_code == 2
    assert "the database is PostgreSQL" in result.stderr and "pg_restore" in result.stderr


# --- The version ----------------------------------------------------------------------------


def test_the_version_is_the_release_and_the_rules(app: Flask, runner: FlaskCliRunner, doctor: FlaskClient) -> None:
    release = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert version("screening") == release, "the installed package is stale: pip install -e . (make does)"
    rules = app.extensions["ruleset"].full_version
    result = runner.invoke(args=["version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"screening {release}\nrules {rules}\n"
    assert f"Release {release}, rules {rules}" in page_text(doctor.get("/practitioner/"))
    api = app.test_client().get("/api/v1/questionnaire")
    assert api.headers["Screening-Version"] == f"{release}; rules={rules}"
    # The changelog has this release, newest first.
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (\d+\.\d+\.\d+)", changelog, flags=re.MULTILINE)[0] == release


# --- /healthz ----------------------------------------------------------------------------------


def queue_outbox(app: Flask) -> None:
    """Two e-mails and a webhook waiting; one e-mail given up."""
    with app.app_context():
        db = get_db()
        for channel in ("mail", "mail", "webhook"):
            storage.enqueue_message(db, channel, "test", "someone@example.com", "body")
        claimed = storage.claim_messages(db, "test-sender", limit=1)
        storage.mark_failed(db, claimed[0]["id"], "test-sender", "refused", retry_after=0, max_attempts=1)


def test_healthz_says_ok_with_the_outbox_backlog(app: Flask, client: FlaskClient) -> None:
    queue_outbox(app)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": "ok",
        "migrations": {"pending": []},
        "outbox": {"undelivered": 2, "failed": 1},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_while_migrations_are_behind(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        last = storage.known_migrations(get_db())[-1]
    execute(app, "DELETE FROM _sqlite_migrations WHERE name = ?", [last])
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert response.get_json()["migrations"] == {"pending": [last]}


@pytest.mark.slow  # a PostgreSQL cluster of its own: initdb and a start
def test_healthz_on_postgresql_is_503_when_the_server_stops(tmp_path: Path) -> None:
    """A PostgreSQL of the test's own: migrations behind, then the server stopped."""
    server = PostgresServer().start()
    try:
        app = build_app(tmp_path, DATABASE=server.create_database("health"))
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        db = storage.connect(app.config["DATABASE"])
        last = storage.known_migrations(db)[-1]
        db.execute("DELETE FROM _migrations WHERE name = ?", [last])
        db.close()
        behind = client.get("/healthz")
        assert behind.status_code == 503 and behind.get_json()["migrations"] == {"pending": [last]}
    finally:
        server.stop()
    stopped = client.get("/healthz")
    assert stopped.status_code == 503
    assert stopped.get_json() == {"status": "unavailable", "database": "unreachable"}


# --- /metrics ---------------------------------------------------------------------------------


def scrape(client: FlaskClient, **environ: str) -> dict[str, Any]:
    """The families of one scrape, by name, as Prometheus's own parser reads them."""
    response = client.get("/metrics", environ_base=environ)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}


def samples(family: Any, name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if name is None or s.name == name}


def test_metrics_count_requests_screenings_and_the_outbox(app: Flask, client: FlaskClient) -> None:
    add_screening(app)
    add_screening(app, "Boris Ivanov", pregnant="yes")
    queue_outbox(app)
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    families = scrape(client)

    requests = samples(families["screening_http_requests"], "screening_http_requests_total")
    assert requests[(("endpoint", "patient.index"), ("method", "GET"), ("status", "200"))] == 3
    assert requests[(("endpoint", "none"), ("method", "GET"), ("status", "404"))] == 1
    latency = families["screening_http_request_duration_seconds"]
    assert latency.type == "histogram"
    counts = samples(latency, "screening_http_request_duration_seconds_count")
    assert counts[(("endpoint", "patient.index"),)] == 3
    buckets = samples(latency, "screening_http_request_duration_seconds_bucket")
    assert buckets[(("endpoint", "patient.index"), ("le", "+Inf"))] == 3

    stored = samples(families["screening_screenings"])
    by_status = {
        row["status"]: row["n"] for row in query(app, "SELECT status, count(*) AS n FROM screenings GROUP BY status")
    }
    assert {dict(k)["status"]: v for k, v in stored.items()} == by_status
    assert sum(stored.values()) == 2 and all(dict(k)["reviewed"] == "no" for k in stored)
    assert samples(families["screening_outbox_backlog"]) == {(("channel", "mail"),): 1, (("channel", "webhook"),): 1}
    assert samples(families["screening_outbox_failed"]) == {(("channel", "mail"),): 1, (("channel", "webhook"),): 0}
    assert samples(families["screening_database_up"]) == {(): 1}
    [(labels, value)] = samples(families["screening_build_info"]).items()
    assert dict(labels) == {"version": version("screening"), "rules": app.extensions["ruleset"].full_version}
    assert value == 1


@pytest.mark.parametrize(
    ("allow", "address", "status"),
    [
        (None, "127.0.0.1", 200),
        (None, "::1", 200),
        (None, "192.0.2.10", 404),
        (None, "10.0.0.5", 404),
        ("10.0.0.0/8, 192.0.2.1", "10.20.30.40", 200),
        ("10.0.0.0/8, 192.0.2.1", "192.0.2.1", 200),
        ("10.0.0.0/8, 192.0.2.1", "127.0.0.1", 404),
        (["2001:db8::/32"], "2001:db8::5", 200),
        ([], "127.0.0.1", 404),
    ],
)
def test_metrics_answer_only_the_configured_addresses(tmp_path: Path, allow: Any, address: str, status: int) -> None:
    app = build_app(tmp_path) if allow is None else build_app(tmp_path, METRICS_ALLOW=allow)
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status
    if status == 404:
        assert "screening_" not in response.get_data(as_text=True)


def test_a_bad_metrics_address_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="METRICS_ALLOW: 'localhost' is not an IP address"):
        build_app(tmp_path, METRICS_ALLOW="127.0.0.1 localhost")


SERVE_AND_SCRAPE = """
import sys
from pathlib import Path
from tests.helpers import build_app
app = build_app(Path(sys.argv[1]), DATABASE=sys.argv[2])
client = app.test_client()
for _ in range(int(sys.argv[3])):
    assert client.get("/").status_code == 200
print(client.get("/metrics").get_data(as_text=True))
"""


@pytest.mark.slow  # two Python processes each starting the app
def test_workers_report_together_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two processes (as two gunicorn workers) with PROMETHEUS_MULTIPROC_DIR: a scrape of either sums both."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    database = str(tmp_path / "screening.sqlite")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}

    def worker(requests: int) -> str:
        command = [sys.executable, "-c", SERVE_AND_SCRAPE, str(tmp_path), database, str(requests)]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout

    worker(2)
    text = worker(3)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = samples(families["screening_http_requests"], "screening_http_requests_total")
    assert requests[(("endpoint", "patient.index"), ("method", "GET"), ("status", "200"))] == 5
    assert len(list(metrics_dir.glob("*.db"))) >= 2
