"""Plain helpers for the browser tests (fixtures live in conftest.py): viewports,
the live server's handle, browser sessions with their request logs, axe and
screenshots. Test modules import from here and from browser_patient.py.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Locator, Page

from screening import ROOT

# Debian's chromium, as the browser tests and bench/page_weight.py launch it.
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


def fill_session_form(form: Locator, fluence: str) -> None:
    """The session form filled as a practitioner would: the example protocol's Nd:YAG Zoom
    handpiece at ``fluence`` J/cm², what was seen, not yet sent."""
    form.get_by_label("Device and handpiece or filter").select_option(
        label="Example long-pulsed Nd:YAG laser: Zoom handpiece"
    )
    form.get_by_label("Wavelength (nm)").fill("1064")
    form.get_by_label("Fluence (J/cm²)").fill(fluence)
    form.get_by_label("Pulse duration (ms)").fill("10")
    form.get_by_label("Spot size (mm)").fill("5")
    form.get_by_label("Passes").fill("2")
    form.get_by_label("Cooling").select_option("contact")
    form.get_by_label("Endpoint seen").fill("Mild erythema")
    form.get_by_label("Immediate reaction").fill("Even redness")
