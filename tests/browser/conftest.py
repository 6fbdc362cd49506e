"""A live server and one chromium for the whole browser suite.

The app runs once per session in a thread on 127.0.0.1 (a random free port,
a temporary database, plain-HTTP cookies); Debian's chromium is launched once
and each test gets a fresh context (its own cookies, locale, JavaScript
setting). Every request a page makes is recorded, so tests can prove the app
never calls another host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from screening import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class LiveServer:
    """The running app, where to reach it, and the settings it was started with."""

    url: str
    env: dict[str, str]

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def flask(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run one of the app's CLI commands against the server's database."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app as deployed (gunicorn, CSRF on) in its own process, on a free port of 127.0.0.1."""
    folder = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "SCREENING_SECRET_KEY": "browser-tests-secret-key-long-enough",
        "SCREENING_DATABASE": str(folder / "screening.sqlite"),
        "SCREENING_SESSION_COOKIE_SECURE": "false",
        # Several patients submit from one address within a minute.
        "SCREENING_RATELIMIT_ENABLED": "false",
    }
    # Bound here and handed over, so no other process can take the port in between.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"fd://{listener.fileno()}",
                "--workers",
                "1",
                "--threads",
                "4",
                "app:app",
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
            yield LiveServer(url=url, env=env)
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


@dataclass
class RequestLog:
    """Every URL the pages of a context asked for."""

    urls: list[str] = field(default_factory=list)

    def foreign(self, host: str) -> list[str]:
        """Requests that went anywhere but the app itself."""
        return [u for u in self.urls if not u.startswith("data:") and urlsplit(u).netloc != host]


@dataclass
class Session:
    """A context the tests drive, with its request log."""

    context: BrowserContext
    requests: RequestLog


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


def axe_violations(axe: Axe, page: Page) -> list[str]:
    """axe-core's violations on the page as it is now, one line per failing node."""
    results = axe.run(page)
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')}"
        for v in results.response["violations"]
        for node in v["nodes"]
    ]


def screenshot(page: Page, name: str) -> Path:
    """Full-page screenshots at phone and desktop widths (CI artifacts, not committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width'] if page.viewport_size else 0}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
