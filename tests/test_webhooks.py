"""Webhooks to the clinic's systems, received by a real HTTP server: signed
events, retries while the receiver is down, the deliveries page and re-send."""

from __future__ import annotations

import hashlib
import hmac
import json

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
    """The JSON body of a delivery whose signature the test checks itself."""
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Screening-Signature"], expected)
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
    assert body["rules_version"].startswith("2026.11.2+") and body["created_at"]
    assert "answers" not in body and "Anna" not in created["body"].decode()

    doctor = signed_in(hook_app)
    assert decide(doctor, reference, decision="confirm").status_code == 303
    send_mail(hook_app)
    reviewed = webhooks.requests[1]
    assert reviewed["headers"]["X-Screening-Event"] == "screening.reviewed"
    body = verified(reviewed)
    assert body["decided_status"] == "review" and body["reviewed"] is True and body["reviewed_at"]
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
