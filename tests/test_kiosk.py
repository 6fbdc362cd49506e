"""Kiosk mode: a reception tablet registered by an administrator hands one patient after
another the questionnaire, shows each only their own verdict, once, and nothing to copy."""

from __future__ import annotations

import datetime as dt
import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.web.kiosk import DEVICE_COOKIE
from tests.helpers import (
    ADMIN_EMAIL,
    add_screening,
    audit_rows,
    build_app,
    create_account,
    page_text,
    query,
    questionnaire_form,
    sign_in,
    today,
)

TABLET = "Front desk tablet"
HAND_BACK = "Please hand the tablet back to reception."


def register_kiosk(app: Flask, name: str = TABLET) -> tuple[FlaskClient, Any]:
    """The tablet's browser: an administrator signs in on it and registers it; returns it and the response."""
    if not query(app, "SELECT id FROM practitioners WHERE email = ?", [ADMIN_EMAIL]):
        create_account(app, ADMIN_EMAIL, "Grace Admin", role="admin")
    tablet = app.test_client()
    assert sign_in(tablet, ADMIN_EMAIL).status_code == 303
    response = tablet.post("/practitioner/devices", data={"name": name})
    assert response.status_code == 303, response.get_data(as_text=True)
    return tablet, response


@pytest.fixture
def tablet(app: Flask) -> FlaskClient:
    """A browser registered as the kiosk "Front desk tablet"."""
    return register_kiosk(app)[0]


def submit(client: FlaskClient, **changes: object) -> Any:
    """A patient fills in the questionnaire and sends it."""
    return client.post("/screening", data=questionnaire_form(**changes))


def test_registering_sets_a_strict_long_lived_cookie_and_stores_only_a_hash(app: Flask, tmp_path: Path) -> None:
    """The cookie is HttpOnly, SameSite=Strict, Secure as configured, long-lived; the table keeps a hash;
    the registration is audited and the administrator is signed out on the tablet."""
    # A second app with Secure cookies, on SQLite whatever the backend under test (its own folder).
    (tmp_path / "secure").mkdir()
    secure_app = build_app(tmp_path / "secure", SESSION_COOKIE_SECURE=True)
    for each, secure in ((app, False), (secure_app, True)):
        tablet, response = register_kiosk(each)
        assert response.headers["Location"] == "/"
        header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(DEVICE_COOKIE + "="))
        flags = header.lower()
        assert "httponly" in flags and "samesite=strict" in flags and ("; secure" in flags) == secure
        max_age = int(re.search(r"max-age=(\d+)", flags).group(1))  # type: ignore[union-attr]
        assert max_age >= 365 * 24 * 3600
        value = SimpleCookie(header)[DEVICE_COOKIE].value
        (row,) = query(each, "SELECT * FROM devices")
        assert row["name"] == TABLET and row["revoked_at"] is None and row["registered_by"] is not None
        assert row["secret_hash"] not in value and len(row["secret_hash"]) == 64
        (audited,) = audit_rows(each, "device.register")
        assert audited["actor"] == ADMIN_EMAIL and audited["target"] == f"device:{row['id']}"
        # Signed out on the tablet: a patient never finds the workspace open on it.
        assert "/practitioner/login" in tablet.get("/practitioner/").headers["Location"]
        assert "data-kiosk" in tablet.get("/").get_data(as_text=True)


def test_the_devices_page_lists_and_revokes(app: Flask, admin: FlaskClient, tablet: FlaskClient) -> None:
    """Name, who registered it and when, last seen, revoked; a revoke is audited."""
    tablet.get("/")  # seen now
    page = page_text(admin.get("/practitioner/devices"))
    assert TABLET in page and "Grace Admin" in page and "Active" in page and "Never" not in page
    (device,) = query(app, "SELECT id, last_seen_at FROM devices")
    assert device["last_seen_at"] is not None
    response = admin.post(f"/practitioner/devices/{device['id']}/revoke")
    assert response.status_code == 303
    page = page_text(admin.get(response.headers["Location"]))
    assert f"{TABLET} is no longer a kiosk." in page and "Revoked" in page
    assert [r["target"] for r in audit_rows(app, "device.revoke")] == [f"device:{device['id']}"]
    assert admin.post("/practitioner/devices/999/revoke").status_code == 404


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a name for this device."),
        ("   ", "Enter a name for this device."),
        ("\u200b\u3164", "Enter a name for this device."),
        ("x" * 61, "Use at most 60 characters."),
        ("Tab\u202elet", "Remove the control or text-direction characters"),
    ],
)
def test_registering_needs_a_plain_name(app: Flask, admin: FlaskClient, name: str, message: str) -> None:
    """A bad name is refused next to the field; nothing is registered and no cookie set."""
    response = admin.post("/practitioner/devices", data={"name": name})
    assert response.status_code == 400
    assert message in page_text(response)
    assert DEVICE_COOKIE not in response.headers.get("Set-Cookie", "")
    assert query(app, "SELECT count(*) AS n FROM devices") == [{"n": 0}]


def test_kiosk_pages_are_marked_and_never_stored(tablet: FlaskClient, client: FlaskClient) -> None:
    """Every kiosk page carries data-kiosk (the script keeps no answers) and Cache-Control: no-store;
    the questionnaire offers no autofill of the previous patient's details."""
    for path in ("/", "/screening", "/privacy"):
        response = tablet.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert re.search(r"<body [^>]*data-kiosk ", response.get_data(as_text=True)), path
    form = tablet.get("/screening").get_data(as_text=True)
    assert 'id="questionnaire" autocomplete="off"' in form and 'autocomplete="email"' not in form
    # An ordinary visitor's pages are not kiosk pages.
    assert "data-kiosk" not in client.get("/screening").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "status", "headline"),
    [
        ({}, "eligible", "Good news: nothing in your answers stands in the way"),
        ({"pregnant": "yes"}, "deferred", "Not just now: the treatment should wait"),
    ],
)
def test_the_kiosk_result_shows_the_verdict_and_nothing_to_copy(
    app: Flask, tablet: FlaskClient, changes: dict[str, str], status: str, headline: str
) -> None:
    """The verdict's message and "hand the tablet back"; no result link, reference code, PDF, print or e-mail."""
    response = submit(tablet, **changes)
    assert response.status_code == 303 and response.headers["Location"] == "/kiosk/result"
    result = tablet.get("/kiosk/result")
    html, text = result.get_data(as_text=True), page_text(result)
    assert result.status_code == 200 and result.headers["Cache-Control"] == "no-store"
    assert headline in text and HAND_BACK in text
    (row,) = query(app, "SELECT reference, status, source, device_id FROM screenings")
    assert row["status"] == status and row["source"] == "kiosk" and row["device_id"] is not None
    assert row["reference"] not in html
    for absent in ("/result/", "reference code", "record.pdf", "PDF", "Print", "/notify", "e-mail me", "Copy"):
        assert absent.lower() not in html.lower(), absent
    # The patient's view is audited, naming the device.
    (viewed,) = audit_rows(app, "screening.view")
    assert viewed["actor"] == "patient" and TABLET in viewed["details"]


def test_both_treatments_on_the_kiosk_show_both_verdicts(app: Flask, tablet: FlaskClient) -> None:
    """A patient who chose both treatments sees each one's verdict and reasons; both views are audited."""
    tanned_on = (today() - dt.timedelta(weeks=5)).isoformat()
    ipl_clear = {"pigmented_lesions": "no", "caution_medicines": "no", "recent_pdt": "no", "hair_removal_face": "no"}
    answers = {**ipl_clear, "recent_tan": "yes", "recent_tan_on": tanned_on, "skin_type": "IV"}
    form = questionnaire_form(**answers)
    response = tablet.post("/screening", data={**form, "procedure": ["laser_rejuvenation", "ipl_photorejuvenation"]})
    assert response.status_code == 303 and response.headers["Location"] == "/kiosk/result"
    result = tablet.get("/kiosk/result", headers={"Accept-Language": "en"})
    text, html = page_text(result), result.get_data(as_text=True)
    assert "Your screening result for Laser facial rejuvenation" in text
    assert "Your screening result for IPL photorejuvenation" in text
    assert "Not just now" in text and "A practitioner needs to look at some of your answers" in text
    rows = query(app, "SELECT reference FROM screenings ORDER BY id")
    assert len(rows) == 2 and not any(row["reference"] in html for row in rows)  # still nothing to copy
    assert sorted(r["target"] for r in audit_rows(app, "screening.view")) == sorted(
        f"screening:{row['reference']}" for row in rows
    )


def test_done_clears_the_result_for_good(tablet: FlaskClient) -> None:
    """A reload shows the result until "Done"; after it, the result page refuses and a fresh start follows."""
    submit(tablet)
    assert tablet.get("/kiosk/result").status_code == 200
    assert tablet.get("/kiosk/result").status_code == 200
    done = tablet.post("/kiosk/done")
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert done.headers["Cache-Control"] == "no-store"
    again = tablet.get("/kiosk/result")
    assert again.status_code == 410
    text = page_text(again)
    assert "This result is no longer shown" in text and "Good news" not in text


def test_the_result_goes_after_the_idle_time(tmp_path: Path) -> None:
    """KIOSK_IDLE_SECONDS bounds the result's view on the server too (no script, a page left open)."""
    app = build_app(tmp_path, KIOSK_IDLE_SECONDS=0)
    tablet, _ = register_kiosk(app)
    submit(tablet)
    page = tablet.get("/kiosk/result")
    assert page.status_code == 410 and "Good news" not in page_text(page)


def test_the_next_patient_starts_fresh(app: Flask, tablet: FlaskClient) -> None:
    """Opening the start page or the questionnaire forgets the previous patient's result and session."""
    for start in ("/", "/screening"):
        submit(tablet, patient_name="Anna Petrova", signature="Anna Petrova")
        assert tablet.get("/kiosk/result").status_code == 200
        page = tablet.get(start).get_data(as_text=True)
        assert "Anna Petrova" not in page and "anna@example.com" not in page
        assert tablet.get("/kiosk/result").status_code == 410, start


def test_the_result_page_shows_with_its_refresh_for_pages_without_script(tablet: FlaskClient) -> None:
    """Without script the result page goes back to the start page after the idle time."""
    submit(tablet)
    html = tablet.get("/kiosk/result").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="120;url=/"></noscript>' in html


def test_a_kiosk_opens_no_result_link(app: Flask, tablet: FlaskClient) -> None:
    """A result link typed on the tablet is not opened (it would stay in its history): the start page."""
    token = app.test_client().post("/screening", data=questionnaire_form()).headers["Location"].split("/")[-1]
    for path in (f"/result/{token}", f"/result/{token}/again", f"/result/{token}/print"):
        response = tablet.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/", path
    assert audit_rows(app, "screening.view") == []  # refused before the link was even looked up


def test_a_revoked_or_forged_cookie_makes_an_ordinary_visitor(
    app: Flask, admin: FlaskClient, tablet: FlaskClient
) -> None:
    """Revoking takes effect on the tablet's next request; a forged cookie never counted."""
    (device,) = query(app, "SELECT id FROM devices")
    assert admin.post(f"/practitioner/devices/{device['id']}/revoke").status_code == 303
    assert "data-kiosk" not in tablet.get("/screening").get_data(as_text=True)
    response = submit(tablet)
    assert response.headers["Location"].startswith("/result/")
    assert tablet.get("/kiosk/result").status_code == 404
    assert query(app, "SELECT source, device_id FROM screenings") == [{"source": "web", "device_id": None}]
    forged = app.test_client()
    forged.set_cookie(DEVICE_COOKIE, "not-a-signed-secret")
    assert "data-kiosk" not in forged.get("/").get_data(as_text=True)


def test_staff_see_it_was_taken_at_reception(app: Flask, tablet: FlaskClient, doctor: FlaskClient) -> None:
    """The queue row and the detail page say "at reception" with the tablet's name; others do not."""
    submit(tablet, patient_name="Kiosk Patient", signature="Kiosk Patient")
    (kiosk_row,) = query(app, "SELECT reference FROM screenings")
    web = add_screening(app, "Web Patient")
    queue = doctor.get("/practitioner/?view=all").get_data(as_text=True)
    rows = dict(re.findall(r'data-reference="([A-Z0-9]+)">(.*?)</tr>', queue, re.S))
    assert f"at reception ({TABLET})" in rows[kiosk_row["reference"]]
    assert "at reception" not in rows[web["reference"]]
    detail = page_text(doctor.get(f"/practitioner/screening/{kiosk_row['reference']}"))
    assert f"at reception ({TABLET})" in detail
    assert "at reception" not in page_text(doctor.get(f"/practitioner/screening/{web['reference']}"))
