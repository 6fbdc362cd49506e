"""Webhooks to the clinic's systems, received by a real HTTP server: signed
events (time and delivery id signed with the body, replays refused), retries
while the receiver is down, the deliveries page and re-send."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from flask import Flask

from screening.web.security import ConfigError
from tests.helpers import (
    CLEAR_ANSWERS,
    PATIENT_FORM,
    WEBHOOK_SECRET,
    WebhookReceiver,
    audit_rows,
    build_app,
    check_webhook,
    decide,
    outbox_rows,
    page_text,
    send_mail,
    signed_in,
)

PATIENT = PATIENT_FORM


def submit(app: Flask, **answers: object) -> None:
    response = app.test_client().post("/screening", data={**CLEAR_ANSWERS, **PATIENT, **answers})
    assert response.status_code == 303


def verified(request: dict) -> dict:
    """The JSON body of a delivery whose signature the test checks itself (as the README's receiver does)."""
    assert check_webhook(request["headers"], request["body"], WEBHOOK_SECRET, set(), time.time()) == "ok"
    return json.loads(request["body"])


def test_created_and_reviewed_arrive_signed(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    submit(hook_app, epilepsy="unsure")
    send_mail(hook_app)
    (created,) = webhooks.requests
    assert created["path"] == "/hooks/screening"
    assert created["headers"]["X-Screening-Event"] == "screening.created"
    body = verified(created)
    assert body["event"] == "screening.created" and body["status"] == "review" and body["decided_status"] is None
    reference = body["reference"]
    assert body["api_url"] == f"http://clinic.example.com/api/v1/screenings/{reference}"
    assert body["rules_version"].startswith("2027.1.1+") and body["created_at"]
    assert "answers" not in body and "Anna" not in created["body"].decode()

    doctor = signed_in(hook_app)
    later = "2099-03-01"
    assert decide(doctor, reference, status="deferred", reason_code="other", defer_until=later).status_code == 303
    send_mail(hook_app)
    reviewed = webhooks.requests[1]
    assert reviewed["headers"]["X-Screening-Event"] == "screening.reviewed"
    body = verified(reviewed)
    assert body["decided_status"] == "deferred" and body["reviewed"] is True and body["reviewed_at"]
    assert (body["status"], body["current_status"], body["decided_defer_until"]) == ("review", "deferred", later)
    assert reviewed["headers"]["X-Screening-Delivery"] != created["headers"]["X-Screening-Delivery"]


def test_a_forged_signature_does_not_verify(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    submit(hook_app)
    send_mail(hook_app)
    (request,) = webhooks.requests
    tampered = {**request, "body": request["body"].replace(b"eligible", b"ineligible")}
    with pytest.raises(AssertionError):
        verified(tampered)


def test_receiver_down_then_up_retries_and_delivers(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    webhooks.stop()
    submit(hook_app)
    assert "1 to retry later" in send_mail(hook_app)
    (row,) = outbox_rows(hook_app, "webhook")
    assert row["delivered_at"] is None and row["attempts"] == 1 and "Connection refused" in row["last_error"]
    webhooks.start()
    assert "1 delivered" in send_mail(hook_app)
    (request,) = webhooks.requests
    assert request["headers"]["X-Screening-Delivery"] == row["delivery_id"]
    verified(request)


def test_an_error_status_is_retried(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    webhooks.status = 503
    submit(hook_app)
    assert "1 to retry later" in send_mail(hook_app)
    webhooks.status = 204
    assert "1 delivered" in send_mail(hook_app)
    assert len(webhooks.requests) == 2  # the refused attempt and the accepted one


def test_deliveries_page_lists_status_and_resends(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    submit(hook_app)
    send_mail(hook_app)
    doctor = signed_in(hook_app, role="admin")  # deliveries are the administrators' page
    page = doctor.get("/practitioner/webhooks")
    assert page.status_code == 200
    assert "screening.created" in page_text(page) and "Delivered" in page_text(page)
    (row,) = outbox_rows(hook_app, "webhook")
    assert doctor.post(f"/practitioner/webhooks/{row['delivery_id']}/resend").status_code == 303
    send_mail(hook_app)
    first, second = webhooks.requests
    assert first["body"] == second["body"]
    assert first["headers"]["X-Screening-Delivery"] != second["headers"]["X-Screening-Delivery"]
    verified(second)
    assert audit_rows(hook_app, "webhook.resend")


def test_deliveries_page_needs_sign_in(hook_app: Flask) -> None:
    client = hook_app.test_client()
    assert client.get("/practitioner/webhooks").status_code == 302
    assert client.post("/practitioner/webhooks/some-id/resend").status_code == 302


def test_resending_an_unknown_delivery_is_404(hook_app: Flask) -> None:
    assert signed_in(hook_app, role="admin").post("/practitioner/webhooks/no-such-delivery/resend").status_code == 404


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"WEBHOOK_URL": "ftp://crm.example.com/hook", "WEBHOOK_SECRET": "s"}, "SCREENING_WEBHOOK_URL"),
        ({"WEBHOOK_URL": "javascript:alert(1)", "WEBHOOK_SECRET": "s"}, "SCREENING_WEBHOOK_URL"),
        ({"WEBHOOK_URL": "crm.example.com/hook", "WEBHOOK_SECRET": "s"}, "SCREENING_WEBHOOK_URL"),
        ({"WEBHOOK_URL": "https://crm.example.com/hook"}, "SCREENING_WEBHOOK_SECRET"),
        ({"PUBLIC_URL": "file:///etc/passwd"}, "SCREENING_PUBLIC_URL"),
    ],
)
def test_bad_webhook_settings_refuse_start_up(tmp_path, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_app(tmp_path, **settings)


# --- Replays: the time and the delivery id are signed with the body ------------------


def post_again(webhooks: WebhookReceiver, request: dict, **header_changes: str) -> int:
    """Send a captured delivery to the receiver again, byte for byte (headers changed as given)."""
    headers = {k: v for k, v in request["headers"].items() if k.startswith(("X-Screening-", "Content-Type"))}
    again = urllib.request.Request(webhooks.url, data=request["body"], headers={**headers, **header_changes})
    try:
        with urllib.request.urlopen(again, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_delivery_carries_a_signed_time_and_id(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    submit(hook_app)
    assert "1 delivered" in send_mail(hook_app)
    (request,) = webhooks.requests
    assert request["verdict"] == "ok"
    signature = request["headers"]["X-Screening-Signature"]
    assert signature.startswith("t=") and ",v1=" in signature
    assert abs(int(signature.split(",")[0].removeprefix("t=")) - time.time()) < 120  # signed now, not at queueing
    (row,) = outbox_rows(hook_app, "webhook")
    assert request["headers"]["X-Screening-Delivery"] == row["delivery_id"]


def test_a_replayed_delivery_is_rejected_and_a_fresh_one_accepted(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    submit(hook_app)
    assert "1 delivered" in send_mail(hook_app)
    (original,) = webhooks.requests
    assert post_again(webhooks, original) == 409
    assert webhooks.requests[-1]["verdict"] == "replay"
    # Another id on the captured body and signature does not verify: the id is signed.
    assert post_again(webhooks, original, **{"X-Screening-Delivery": "another-id"}) == 401
    assert webhooks.requests[-1]["verdict"] == "bad_signature"
    submit(hook_app)  # a fresh delivery is accepted
    assert "0 to retry later" in send_mail(hook_app)
    assert webhooks.requests[-1]["verdict"] == "ok"
    assert len(webhooks.accepted) == 2


@pytest.mark.parametrize(("seconds_later", "status", "verdict"), [(240, 409, "replay"), (360, 401, "stale")])
def test_a_delivery_older_than_the_tolerance_is_stale(
    hook_app: Flask, webhooks: WebhookReceiver, seconds_later: int, status: int, verdict: str
) -> None:
    submit(hook_app)
    assert "1 delivered" in send_mail(hook_app)
    (original,) = webhooks.requests
    webhooks.clock = lambda: time.time() + seconds_later  # the captured request arrives again, later
    assert post_again(webhooks, original) == status
    assert webhooks.requests[-1]["verdict"] == verdict


def test_a_retry_after_an_error_answer_is_accepted(hook_app: Flask, webhooks: WebhookReceiver) -> None:
    webhooks.status = 500  # verified, but the receiver failed: the same id may come again
    submit(hook_app)
    assert "1 to retry later" in send_mail(hook_app)
    webhooks.status = 204
    assert "1 delivered" in send_mail(hook_app)
    first, retry = webhooks.requests
    assert first["headers"]["X-Screening-Delivery"] == retry["headers"]["X-Screening-Delivery"]
    assert retry["verdict"] == "ok"
