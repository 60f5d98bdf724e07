"""Webhook services in this process against a real receiver on 127.0.0.1: the body and its
signature, retries, the circuit breaker, private-address refusal, the events an execution's
status moves make (after commit only), and the secret kept out of logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from codeai.kernel.exceptions import Conflict
from executions.models import Execution, ExecutionStatus
from executions.serializers import ExecutionSummarySerializer
from executions.services import execution_cancel, execution_claim, execution_finish
from tests.conftest import uses_postgres
from tests.webhooks.conftest import Answer
from webhooks import client, services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "s3cret-never-logged-0123456789"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.WEBHOOK_TIMEOUT = 1.0
    settings.WEBHOOK_RETRY_BACKOFF = 0.05
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def execution(make_deployment):
    deployment = make_deployment("exec { true }\n")
    return Execution.objects.create(deployment=deployment, triggered_by_name="alice")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"codeai_{name}", labels) or 0.0


def send_test(webhook) -> WebhookDelivery:
    delivery = services.webhook_test(webhook=webhook)
    assert services.delivery_claim(delivery_id=delivery.pk)
    sent = services.delivery_send(delivery_id=delivery.pk)
    assert sent is not None
    return sent


def test_body_is_signed_with_the_secret_and_carries_the_event(receiver):
    webhook = services.webhook_create(url=receiver.url(), secret=SECRET, headers={"X-Team": "ops"})

    delivery = send_test(webhook)

    [request] = receiver.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "CodeAI-Webhook/1.0"
    assert request.headers["X-Team"] == "ops"
    assert request.headers["X-Webhook-Signature-Algorithm"] == "sha256"
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Webhook-Signature"] == expected
    document = json.loads(request.body)
    assert document["event"] == "webhook.test"
    assert document["delivered_at"].endswith("Z")
    assert document["data"]["webhook_id"] == str(webhook.pk)
    assert delivery.success
    assert delivery.status_code == 200
    assert delivery.attempts == 1
    assert delivery.response_excerpt == "ok"
    assert delivery.completed_at is not None
    assert delivery.duration_ms is not None


def test_without_a_secret_there_is_no_signature(receiver):
    send_test(services.webhook_create(url=receiver.url()))

    [request] = receiver.wait_for(1)
    assert "X-Webhook-Signature" not in request.headers
    assert "X-Webhook-Signature-Algorithm" not in request.headers


def test_host_header_keeps_the_name_while_connecting_to_its_address(receiver):
    send_test(services.webhook_create(url=receiver.url(host="localhost")))

    [request] = receiver.wait_for(1)
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert request.peer == "127.0.0.1"


def test_500s_are_retried_with_backoff_then_delivered(receiver):
    receiver.answer(Answer(500, b"boom"), Answer(502), Answer(200, b"fine"))
    webhook = services.webhook_create(url=receiver.url())
    service = f"webhook:http://127.0.0.1:{receiver.port}"

    delivery = send_test(webhook)

    assert len(receiver.wait_for(3)) == 3
    assert delivery.success
    assert delivery.attempts == 3
    assert delivery.status_code == 200
    assert delivery.last_error == ""
    assert metric("integration_retries_total", service_name=service) == 2
    assert metric("integration_calls_total", service_name=service, status="error") == 2
    assert metric("integration_calls_total", service_name=service, status="success") == 1
    assert metric("integration_errors_total", service_name=service, error_type="_Retryable") == 2
    assert metric("integration_call_duration_seconds_count", service_name=service) == 3


def test_a_failed_delivery_records_the_last_answer_bounded(receiver):
    receiver.answer(Answer(503, b"x" * 100_000))

    delivery = send_test(services.webhook_create(url=receiver.url()))

    assert len(receiver.wait_for(3)) == 3
    assert not delivery.success
    assert delivery.attempts == 3
    assert delivery.status_code == 503
    assert delivery.last_error == "HTTP 503"
    assert delivery.response_excerpt == "x" * WebhookDelivery.EXCERPT_CHARS


def test_a_4xx_is_not_retried(receiver):
    receiver.answer(Answer(404, b"no such hook"))

    delivery = send_test(services.webhook_create(url=receiver.url()))

    assert len(receiver.wait_for(1)) == 1
    assert (delivery.success, delivery.attempts, delivery.status_code) == (False, 1, 404)
    assert delivery.response_excerpt == "no such hook"


def test_a_timeout_is_retried_and_said(receiver):
    receiver.answer(Answer(200, delay=2.5))

    delivery = send_test(services.webhook_create(url=receiver.url()))

    assert delivery.attempts == 3
    assert not delivery.success
    assert delivery.last_error == "timed out after 1 s"
    assert delivery.status_code is None


def test_connection_refused_is_retried(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    webhook = services.webhook_create(url="http://127.0.0.1:9/closed")

    delivery = send_test(webhook)

    assert delivery.attempts == 2
    assert not delivery.success
    assert "refused" in delivery.last_error.lower()


def test_the_breaker_opens_after_five_failures_and_stops_calling(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answer(Answer(500))
    webhook = services.webhook_create(url=receiver.url())
    service = f"webhook:http://127.0.0.1:{receiver.port}"

    failed = [send_test(webhook) for _ in range(5)]
    rejected = send_test(webhook)

    assert len(receiver.wait_for(5)) == 5  # the sixth never reached it
    assert all(delivery.status_code == 500 for delivery in failed)
    assert rejected.last_error == f"circuit breaker open for {service}"
    assert not rejected.success
    assert rejected.attempts == 1
    assert metric("integration_circuit_breaker_state", service_name=service, state="open") == 1
    assert metric("integration_circuit_breaker_state", service_name=service, state="closed") == 0
    assert metric("integration_calls_total", service_name=service, status="rejected") == 1


def test_private_addresses_are_refused_when_not_allowed(receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    for host in ("127.0.0.1", "localhost"):
        delivery = send_test(services.webhook_create(url=receiver.url(host=host)))
        assert not delivery.success
        assert delivery.attempts == 1
        assert "a private or loopback address (CODEAI_WEBHOOK_ALLOW_PRIVATE=off)" in (
            delivery.last_error
        )
    assert receiver.received == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
    ],
)
def test_which_addresses_are_public(address, public):
    assert client.is_public(address) is public


def test_secret_is_never_logged(receiver, caplog):
    receiver.answer(Answer(500))
    caplog.set_level(logging.DEBUG)

    send_test(services.webhook_create(url=receiver.url("/hook?token=abc"), secret=SECRET))

    assert caplog.records
    assert SECRET not in caplog.text
    assert "token=abc" not in caplog.text  # only the target's origin is named


def test_status_moves_make_deliveries_after_commit_only(
    execution, receiver, django_capture_on_commit_callbacks
):
    started = services.webhook_create(url=receiver.url(), events=["execution.started"])
    ended = services.webhook_create(
        url=receiver.url(), events=["execution.succeeded", "execution.failed"]
    )
    services.webhook_create(url=receiver.url(), events=["execution.started"], active=False)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        execution_claim(execution_id=execution.pk, worker="test")
    assert callbacks  # the signal waited for the commit
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.webhook_id, delivery.event) == (started.pk, "execution.started")
    execution.refresh_from_db()
    assert delivery.payload == json.loads(json.dumps(ExecutionSummarySerializer(execution).data))
    assert delivery.payload["status"] == "running"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        execution_finish(execution_id=execution.pk, status=ExecutionStatus.FAILED, exit_code=3)
    assert WebhookDelivery.objects.count() == 1  # not committed yet: nothing made
    for callback in callbacks:  # the commit
        callback()
    assert WebhookDelivery.objects.filter(webhook=ended, event="execution.failed").count() == 1
    assert WebhookDelivery.objects.count() == 2


def test_a_webhook_of_one_deployment_hears_only_its_executions(
    execution, make_deployment, alice, django_capture_on_commit_callbacks
):
    other = make_deployment("exec { true }\n")
    mine = services.webhook_create(
        url="http://127.0.0.1:9/", events=["execution.cancelled"], deployment=execution.deployment
    )
    services.webhook_create(
        url="http://127.0.0.1:9/", events=["execution.cancelled"], deployment=other
    )

    with django_capture_on_commit_callbacks(execute=True):
        execution_cancel(execution=execution, user=alice)

    [delivery] = WebhookDelivery.objects.all()
    assert delivery.webhook_id == mine.pk
    assert delivery.execution_id == execution.pk
    assert delivery.payload["status"] == "cancelled"


def test_a_postgresql_move_brings_its_deployment_s_webhooks_and_they_are_not_asked_again(
    execution, make_deployment, django_capture_on_commit_callbacks
):
    if not uses_postgres():
        pytest.skip("the claim's and the finish's messages are PostgreSQL's")
    other = make_deployment("exec { true }\n")
    events = ["execution.started", "execution.succeeded"]
    mine = services.webhook_create(
        url="http://127.0.0.1:9/", events=events, deployment=execution.deployment
    )
    everyone = services.webhook_create(url="http://127.0.0.1:9/", events=events)
    services.webhook_create(url="http://127.0.0.1:9/", events=events, deployment=other)

    for move in (
        lambda: execution_claim(execution_id=execution.pk, worker="test"),
        lambda: execution_finish(execution_id=execution.pk, status=ExecutionStatus.SUCCEEDED),
    ):
        with (
            CaptureQueriesContext(connection) as moving,
            django_capture_on_commit_callbacks(execute=False) as callbacks,
        ):
            move()
        assert len(moving.captured_queries) == 1  # the move's message, candidates included
        with CaptureQueriesContext(connection) as announcing:
            for callback in callbacks:
                callback()
        asked = [query["sql"] for query in announcing.captured_queries]
        assert not any('FROM "webhooks_webhook" AS w' in sql for sql in asked), asked

    made = WebhookDelivery.objects.values_list("webhook_id", "event")
    assert sorted(made) == sorted(
        (webhook.pk, event) for webhook in (mine, everyone) for event in events
    )


def test_a_rolled_back_move_sends_nothing(execution, alice, django_capture_on_commit_callbacks):
    services.webhook_create(url="http://127.0.0.1:9/", events=["execution.cancelled"])

    def cancel_then_fail() -> None:
        with transaction.atomic():
            execution_cancel(execution=execution, user=alice)
            raise RuntimeError("roll back")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        cancel_then_fail()

    assert callbacks == []
    assert WebhookDelivery.objects.count() == 0


def test_retry_of_a_delivery_in_progress_is_a_conflict():
    webhook = services.webhook_create(url="http://127.0.0.1:9/")
    delivery = services.webhook_test(webhook=webhook)

    with pytest.raises(Conflict, match="still being sent"):
        services.delivery_retry(delivery=delivery)


def test_the_sweep_fails_deliveries_no_worker_finished(settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_TIMEOUT = 1.0
    settings.WEBHOOK_RETRY_BACKOFF = 1.0
    settings.EXEC_QUEUE_GRACE = 120.0
    assert services.longest_send_seconds() == 2 * 2 * 1.0 + 1.0
    webhook = services.webhook_create(url="http://127.0.0.1:9/")
    now = timezone.now()
    sending_lost = services.webhook_test(webhook=webhook)
    sending_recent = services.webhook_test(webhook=webhook)
    queued_lost = services.webhook_test(webhook=webhook)
    queued_waiting = services.webhook_test(webhook=webhook)
    WebhookDelivery.objects.filter(pk=sending_lost.pk).update(
        started_at=now - timedelta(seconds=66)
    )
    WebhookDelivery.objects.filter(pk=sending_recent.pk).update(
        started_at=now - timedelta(seconds=60)
    )
    WebhookDelivery.objects.filter(pk=queued_lost.pk).update(
        created_at=now - timedelta(seconds=186)
    )
    WebhookDelivery.objects.filter(pk=queued_waiting.pk).update(
        created_at=now - timedelta(seconds=180)
    )

    assert services.delivery_sweep() == 2

    lost = WebhookDelivery.objects.filter(completed_at__isnull=False)
    assert set(lost.values_list("pk", flat=True)) == {sending_lost.pk, queued_lost.pk}
    assert all("lost: no worker finished sending it" in d.last_error for d in lost)
    assert not services.delivery_claim(delivery_id=queued_lost.pk)  # a late task sends nothing
    assert services.delivery_claim(delivery_id=queued_waiting.pk)
    assert services.delivery_retry(delivery=lost.get(pk=sending_lost.pk)).retry_of_id == (
        sending_lost.pk
    )


def test_the_target_is_resolved_once_per_delivery(receiver, monkeypatch):
    receiver.answer(Answer(500), Answer(500), Answer(200))
    lookups = []
    real_getaddrinfo = client.socket.getaddrinfo

    def counting_getaddrinfo(*args, **kwargs):
        lookups.append(args[0])
        return real_getaddrinfo(*args, **kwargs)

    monkeypatch.setattr(client.socket, "getaddrinfo", counting_getaddrinfo)

    delivery = send_test(services.webhook_create(url=receiver.url(host="localhost")))

    assert delivery.attempts == 3
    assert delivery.success
    # The name was looked up once; the three connections went to the address it gave
    # (connecting to a numeric address "resolves" it without asking DNS).
    assert lookups.count("localhost") == 1
    assert set(lookups) - {"localhost"} <= {"127.0.0.1", "::1"}


def test_a_target_answering_a_byte_at_a_time_is_cut_off_at_twice_the_timeout(settings):
    """Each read is within the timeout, but the whole attempt is bounded."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def dribble() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.3)

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        delivery = send_test(services.webhook_create(url=f"http://127.0.0.1:{port}/slow"))
    finally:
        stop.set()
        listener.close()

    elapsed = time.monotonic() - started
    assert delivery.last_error == "timed out after 1 s"
    assert not delivery.success
    assert 1.9 <= elapsed < 6  # settings.WEBHOOK_TIMEOUT is 1 s: cut at 2 s
