"""Webhooks end to end: a real Celery worker runs executions and sends their events, signed,
to a real receiver on 127.0.0.1; the API's test and retry routes go through the worker too."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from executions.models import ExecutionStatus
from executions.services import deployment_execute
from tests.api.conftest import bearer_client, make_user
from tests.api.test_executions import SUMMARY_KEYS
from tests.executions.conftest import wait_finished, wait_for
from tests.webhooks.conftest import Answer
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_worker")]

SECRET = "worker-test-secret"


def completed(delivery_id, timeout: float = 30.0) -> WebhookDelivery:
    def done() -> WebhookDelivery | None:
        return WebhookDelivery.objects.filter(pk=delivery_id, completed_at__isnull=False).first()

    return wait_for(done, timeout)  # type: ignore[return-value]


def test_a_failed_run_reaches_the_receiver_signed_within_seconds(make_deployment, alice, receiver):
    deployment = make_deployment("exec { echo failing; exit 3 }\n")
    webhook = services.webhook_create(
        url=receiver.url(),
        secret=SECRET,
        events=["execution.started", "execution.failed"],
    )
    services.webhook_create(url=receiver.url("/succeeded"), events=["execution.succeeded"])

    execution = wait_finished(deployment_execute(deployment=deployment, user=alice))
    assert execution.status == ExecutionStatus.FAILED

    requests = receiver.wait_for(2, timeout=20)
    assert len(requests) == 2
    documents = {}
    for request in requests:
        assert request.path == "/hook"
        signature = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Webhook-Signature"] == signature
        assert request.headers["X-Webhook-Signature-Algorithm"] == "sha256"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "CodeAI-Webhook/1.0"
        document = json.loads(request.body)
        documents[document["event"]] = document
    assert set(documents) == {"execution.started", "execution.failed"}
    failed = documents["execution.failed"]["data"]
    assert set(failed) == SUMMARY_KEYS
    assert failed["id"] == str(execution.pk)
    assert failed["status"] == "failed"
    assert failed["exit_code"] == 3
    assert failed["explanation"] == "exit code 3 in step 1"
    assert documents["execution.started"]["data"]["status"] == "running"

    sent = WebhookDelivery.objects.filter(webhook=webhook, completed_at__isnull=False)
    wait_for(lambda: sent.count() == 2, 15)
    deliveries = list(sent)
    for delivery in deliveries:
        assert delivery.success
        assert delivery.status_code == 200
        assert delivery.attempts == 1
        assert delivery.execution_id == execution.pk
        assert delivery.started_at <= delivery.completed_at


def test_the_test_route_retries_500s_and_the_deliveries_record_it(receiver):
    receiver.answer(Answer(500, b"down"), Answer(500, b"down"), Answer(200, b"thanks"))
    admin = bearer_client(make_user("superuser"))  # groups: flushed here
    created = admin.post(
        "/api/v1/webhooks/", {"url": receiver.url(), "secret": SECRET}, format="json"
    )
    assert created.status_code == 201, created.content
    webhook_id = created.json()["id"]

    response = admin.post(f"/api/v1/webhooks/{webhook_id}/test/")

    assert response.status_code == 202, response.content
    assert response.json()["event"] == "webhook.test"
    delivery = completed(response.json()["id"])
    assert len(receiver.wait_for(3)) == 3
    assert (delivery.success, delivery.attempts, delivery.status_code) == (True, 3, 200)
    assert delivery.response_excerpt == "thanks"
    listed = admin.get(f"/api/v1/webhooks/{webhook_id}/deliveries/?success=true").json()
    assert listed["count"] == 1
    [item] = listed["data"]
    assert item["id"] == str(delivery.pk)
    assert item["attempts"] == 3
    assert item["status_code"] == 200
    assert item["success"] is True
    assert item["duration_ms"] >= 0
    assert item["last_error"] == ""
    assert (
        admin.get(f"/api/v1/webhooks/{webhook_id}/deliveries/?success=false").json()["count"] == 0
    )


def test_a_failed_delivery_can_be_sent_again(receiver):
    receiver.answer(Answer(503, b"maintenance"))
    admin = bearer_client(make_user("superuser"))  # groups: flushed here
    webhook = services.webhook_create(url=receiver.url())

    first = completed(admin.post(f"/api/v1/webhooks/{webhook.pk}/test/").json()["id"])
    assert (first.success, first.attempts, first.status_code) == (False, 3, 503)
    assert first.last_error == "HTTP 503"
    assert first.response_excerpt == "maintenance"

    receiver.answer(Answer(204, b""))
    response = admin.post(f"/api/v1/webhooks/deliveries/{first.pk}/retry/")

    assert response.status_code == 202, response.content
    again = completed(response.json()["id"])
    assert again.pk != first.pk
    assert again.retry_of_id == first.pk
    assert (again.success, again.attempts, again.status_code) == (True, 1, 204)
    assert again.payload == first.payload
    assert again.event == first.event
    failed = admin.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/?success=false").json()
    assert [item["id"] for item in failed["data"]] == [str(first.pk)]
