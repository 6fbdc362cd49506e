"""flaskr-style fixtures: an app on a fresh database, its client and CLI runner,
a signed-in practitioner and a stored screening.

Plain helpers and shared data live in tests/helpers.py; test modules import
them from there, never from this file nor from one another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.routing import Rule

import screening
from bench.servers import PostgresServer
from screening import storage
from screening.core.loader import load_rulebook, load_rules
from screening.core.model import RuleBook, RuleSet
from screening.settings import default_settings
from tests.helpers import (
    ADMIN_EMAIL,
    RECEPTION_EMAIL,
    RULES_FILE,
    Inbox,
    WebhookReceiver,
    add_screening,
    build_app,
    empty_postgres,
    free_port,
    fresh_database,
    outbox_config,
    signed_in,
)


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The default rule set."""
    return load_rules(RULES_FILE)


@pytest.fixture(scope="session", autouse=True)
def parse_each_rule_file_once() -> Iterator[None]:
    """create_app parses its rule file (some 50 ms of YAML) every time; the tests build
    hundreds of apps on the same file. Parse each (path, content) once: the rule set is
    frozen, so every app may share it, and a changed or broken file is parsed afresh.
    """
    parsed: dict[tuple[str, bytes], RuleBook] = {}

    def load_once(path: str | Path) -> RuleBook:
        try:
            key = (str(path), Path(path).read_bytes())
        except OSError:
            return load_rulebook(path)  # raises the app's own RuleFileError
        if key not in parsed:
            parsed[key] = load_rulebook(path)
        return parsed[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(screening, "load_rulebook", load_once)
        yield


# Deselected tests are still collected, and collecting costs: Schemathesis builds its cases,
# the browser suite imports Playwright (~2 s a worker together). A module marked slow as a
# whole, and the browser folder, are not collected at all when ``-m`` leaves them out.
_WHOLE_MODULE_SLOW = "pytestmark = pytest.mark.slow"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting what the ``-m "not browser and not slow"`` selection would deselect anyway."""
    selection = config.option.markexpr or ""
    if "not browser" in selection and collection_path.name == "browser" and collection_path.is_dir():
        return True
    if "not slow" in selection and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        lines = collection_path.read_text(encoding="utf-8").splitlines()
        if any(line.startswith(_WHOLE_MODULE_SLOW) for line in lines):
            return True
    return None


class TemplateCodeCache(jinja2.BytecodeCache):
    """Compiled templates kept in memory for every app of this test process."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Give the bucket the code compiled for it before, if any (Jinja checks the source's checksum)."""
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep what the bucket compiled."""
        self.code[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def compile_each_template_once() -> Iterator[None]:
    """Each app has its own Jinja environment, which compiles every template it renders
    again (~35 ms a detail page, half of what a test costs). The apps of a test process
    share one bytecode cache instead: Jinja keys it by template and checks the source's
    checksum, so an edited template compiles afresh, and every app sets the same options.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Flask, "jinja_options", {"bytecode_cache": TemplateCodeCache()})
        yield


@pytest.fixture(scope="session", autouse=True)
def build_each_url_rule_once() -> Iterator[None]:
    """Werkzeug writes, parses and compiles two URL-builder functions for each of the app's
    ~55 routes on every new app (~45 ms, a third of a test's cost). The function depends
    only on the rule's text, its parts and its defaults, and takes the rule as its first
    argument, so the apps of a test process share one per rule.
    """
    original = Rule._compile_builder
    built: dict[tuple[object, ...], Callable[..., tuple[str, str]]] = {}

    def compile_once(rule: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
        if key not in built:
            built[key] = original(rule, append_unknown)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", compile_once)
        yield


# --- The database: SQLite, and PostgreSQL for the modules that run on both -------

# These modules' tests run once on each backend (the ``backend`` parameter).
BOTH_BACKENDS = frozenset(
    {
        "test_storage",
        "test_api",
        "test_practitioner",
        "test_lifecycle",
        "test_queue_views",
        "test_security_links",
        "test_patient_link",
        "test_history",
        "test_kiosk",
        "test_session_checks",
        "test_safety_report",
        "test_rule_changes",
        "test_patch_test",
        "test_procedures_web",
        "test_session_record",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of ``BOTH_BACKENDS`` that use a database on SQLite and on PostgreSQL."""
    if "backend" in metafunc.fixturenames and metafunc.module.__name__.rpartition(".")[2] in BOTH_BACKENDS:
        metafunc.parametrize(
            "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
        )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite``, or ``postgresql`` where the module runs on both backends.

    ``SCREENING_TEST_BACKEND=postgresql`` runs every other test on PostgreSQL too
    (``make test-postgresql``): the whole suite, not only the modules of ``BOTH_BACKENDS``.
    """
    if request.node.get_closest_marker("sqlite_only"):
        return "sqlite"
    return str(getattr(request, "param", os.environ.get("SCREENING_TEST_BACKEND", "sqlite")))


# Under xdist, the controller starts one cluster while the workers collect, and each
# worker attaches to it with a database of its own: one initdb and one server instead of
# one per worker, and no worker waits ~2 s for its own on its first PostgreSQL test.
SHARED_POSTGRES = "SCREENING_TEST_SHARED_POSTGRES"
_SHARED = pytest.StashKey[tuple[PostgresServer, threading.Thread]]()


def pytest_configure(config: pytest.Config) -> None:
    """On the controller of an xdist run, start the PostgreSQL cluster its workers share."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    server = PostgresServer()
    config.stash[_SHARED] = (server, server.start_in_background())
    os.environ[SHARED_POSTGRES] = f"{server.port}:{server.folder}"  # the workers inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the shared cluster when the run ends."""
    if _SHARED in config.stash:
        server, starting = config.stash[_SHARED]
        starting.join()
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster: the run's shared one, or one for this process, stopped at the end."""
    shared = os.environ.get(SHARED_POSTGRES)
    if shared:
        port, folder = shared.split(":", 1)
        yield PostgresServer.attach(int(port), folder)
        return
    server = PostgresServer().start()
    yield server
    server.stop()


class SharedPool:
    """An app's handle on the pool its test process shares: closing it (the app went) keeps the pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def getconn(self) -> Any:
        """A connection from the shared pool."""
        return self.pool.getconn()

    def putconn(self, conn: Any) -> None:
        """Give the connection back (the pool rolls back what a test left open)."""
        self.pool.putconn(conn)

    def close(self) -> None:
        """The app is done with the pool; the next test's app takes it on."""


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer, worker_id: str) -> Iterator[str]:
    """One migrated database for this test process; each test starts it empty (``database``).

    Each app would open a pool of its own: new server processes, whose first queries
    also fill their catalog caches (~7 ms a connection, several a test). The apps on
    this database share one pool instead, closed at the end; other databases (a copy's
    target, a refused connection) keep a pool of their own.
    """
    url = postgres_server.create_database(f"screening_test_{worker_id}")
    db = storage.connect(url)
    storage.migrate(db)
    db.close()
    original = storage.open_pool
    shared: list[Any] = []

    def open_pool(database: str, size: int) -> Any:
        if database != url:
            return original(database, size)
        if not shared:
            shared.append(original(database, size))
        return SharedPool(shared[0])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "open_pool", open_pool)
        yield url
    for pool in shared:
        pool.close()


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The DATABASE setting of this test: a new SQLite file, or the PostgreSQL database emptied."""
    if backend == "sqlite":
        return fresh_database(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path, database: str) -> Iterator[Flask]:
    """The app on an empty database (in a temporary folder, or PostgreSQL's emptied).

    Passwords get a cheap hash, unless the test is marked ``real_password_hash``.
    """
    overrides: dict[str, object] = {"DATABASE": database}
    if request.node.get_closest_marker("real_password_hash"):
        overrides["PASSWORD_HASH_METHOD"] = default_settings(str(tmp_path))["PASSWORD_HASH_METHOD"]
    yield build_app(tmp_path, **overrides)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def doctor(app: Flask) -> FlaskClient:
    """A client signed in as a practitioner (helpers.EMAIL, helpers.PASSWORD)."""
    return signed_in(app)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    """A client signed in as an administrator (helpers.ADMIN_EMAIL)."""
    return signed_in(app, ADMIN_EMAIL, "Grace Admin", role="admin")


@pytest.fixture
def reception(app: Flask) -> FlaskClient:
    """A client signed in as reception staff (helpers.RECEPTION_EMAIL)."""
    return signed_in(app, RECEPTION_EMAIL, "Rita Reception", role="reception")


@pytest.fixture
def stored_screening(app: Flask) -> dict[str, Any]:
    """A stored screening of a clear patient (Anna Petrova, screened today), as stored."""
    return add_screening(app)


# --- Outgoing mail and webhooks: a real SMTP server and a real HTTP receiver ------


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free port for the whole session, collecting what arrives."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: Inbox) -> Inbox:
    """The session's SMTP server, emptied for this test."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture(scope="session")
def webhook_server() -> Iterator[WebhookReceiver]:
    """A real HTTP server receiving webhooks for the whole session (tests may stop and restart it)."""
    receiver = WebhookReceiver(free_port())
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhooks(webhook_server: WebhookReceiver) -> Iterator[WebhookReceiver]:
    """The session's webhook receiver, emptied and running for this test."""
    webhook_server.clear()
    webhook_server.start()
    yield webhook_server
    webhook_server.start()  # a test that stopped it leaves it running for the next


@pytest.fixture
def mail_app(tmp_path: Path, mailbox: Inbox) -> Flask:
    """The app sending e-mail to ``mailbox`` (no webhooks), retrying at once."""
    return build_app(tmp_path, **outbox_config(mailbox))


@pytest.fixture
def hook_app(tmp_path: Path, mailbox: Inbox, webhooks: WebhookReceiver) -> Flask:
    """The app sending webhooks to ``webhooks`` and e-mail to ``mailbox``, retrying at once."""
    return build_app(tmp_path, **outbox_config(mailbox, webhooks))
