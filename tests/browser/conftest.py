"""A live server and one chromium for the whole browser suite.

The app runs once per session under gunicorn in its own process on 127.0.0.1
(a random free port, a temporary database, plain-HTTP cookies); Debian's
chromium is launched once and each test gets a fresh context (its own cookies,
locale, JavaScript setting). Every request a page makes is recorded, so tests
can prove the app never calls another host.

Every test collected here is marked ``browser`` (``pytest -m "not browser"``
leaves them out). Plain helpers are in helpers.py and browser_patient.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from screening import ROOT
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, PHONE, LiveServer, RequestLog, Session
from tests.helpers import CHEAP_PASSWORD_HASH

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``browser`` (the hook sees the whole session's items)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def start_live_server(folder: Path, **settings: str) -> tuple[LiveServer, subprocess.Popen[bytes]]:
    """The app as deployed (gunicorn, CSRF on) in its own process on a free port of 127.0.0.1,
    with a temporary database in ``folder`` and any extra ``SCREENING_*`` ``settings``."""
    env = {
        **os.environ,
        "SCREENING_SECRET_KEY": "browser-tests-secret-key-long-enough",
        "SCREENING_DATABASE": str(folder / "screening.sqlite"),
        "SCREENING_SESSION_COOKIE_SECURE": "false",
        # Several patients submit from one address within a minute.
        "SCREENING_RATELIMIT_ENABLED": "false",
        # Accounts made with `flask create-practitioner` sign in without scrypt's cost.
        "SCREENING_PASSWORD_HASH_METHOD": CHEAP_PASSWORD_HASH,
        **{f"SCREENING_{name}": value for name, value in settings.items()},
    }
    # Bound here and handed over, so no other process can take the port in between.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env["SCREENING_PUBLIC_URL"] = url  # links under the server's own address, as a deployment sets it
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}"),
                *("--workers", "1", "--threads", "4", "app:app"),
            ],
            cwd=ROOT,
            env=env,
            pass_fds=[listener.fileno()],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    listener.close()
    try:
        wait_until_serving(url, server, folder / "server.log")
    except RuntimeError:
        server.terminate()
        raise
    return LiveServer(url=url, env=env), server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared live server of the browser suite."""
    live, server = start_live_server(tmp_path_factory.mktemp("live"))
    try:
        yield live
    finally:
        server.terminate()
        server.wait(timeout=15)


def wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app did not start:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/static/style.css", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the app did not answer within 30 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless, launched once for the whole suite."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Session]]:
    """Open browser contexts (a phone, in English, unless told otherwise); each logs every request.

    When the test ends, every request any of its pages made must have gone to the app itself.
    """
    opened: list[Session] = []

    def open_context(**options: Any) -> Session:
        options.setdefault("viewport", PHONE)
        options.setdefault("locale", "en-GB")
        options.setdefault("base_url", live_server.url)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        log = RequestLog()
        context.on("request", lambda request: log.urls.append(request.url))
        opened.append(Session(context=context, requests=log))
        return opened[-1]

    yield open_context
    for session in opened:
        session.context.close()
    for session in opened:
        assert session.requests.urls, "the test made no request at all"
        assert session.requests.foreign(live_server.host) == []


@pytest.fixture
def session(new_context: Callable[..., Session]) -> Session:
    """An English-speaking patient on a phone, with JavaScript."""
    return new_context()


@pytest.fixture
def page(session: Session) -> Page:
    """A page in that context."""
    return session.context.new_page()


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()
