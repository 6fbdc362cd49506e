"""An administrator invites a colleague in a real browser and copies the one-time link."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, LiveServer, Session

ADMIN = "grace.admin@clinic.example"
PASSWORD = "accounts-are-admin-work-2026"


def test_the_set_password_link_is_copied_to_the_clipboard(
    new_context: Callable[..., Session], live_server: LiveServer
) -> None:
    args = ("create-practitioner", ADMIN, "--name", "Grace Admin", "--role", "admin", "--password-stdin")
    created = live_server.flask(*args, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    page = new_context(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"]).context.new_page()
    page.goto("/practitioner/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Administrators set up their second factor first.
    secret = page.locator(".totp-secret").inner_text()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label(re.compile("Code from your authenticator app")).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    page.goto("/practitioner/accounts")
    page.get_by_label("Email").fill("new.colleague@clinic.example")
    page.get_by_label("Full name").fill("Nina Colleague")
    page.get_by_role("button", name="Create the account").click()

    expect(page.get_by_text("The account is created.", exact=True)).to_be_visible()
    field = page.get_by_label("Set-password link")
    link = field.input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/practitioner/set-password/[\w-]+", link)
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
