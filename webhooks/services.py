"""State changes of webhooks: create, update, delete; the deliveries an execution event or a
test makes, and sending one (in a Celery task, never in a web request or the run loop).

A delivery is a row made when the event happens (with the execution in its list shape as
``data``), then sent by the ``webhooks.deliver`` task: claimed once (``started_at``), up to
``CODEAI_WEBHOOK_MAX_ATTEMPTS`` attempts, retrying connection errors, timeouts and 5xx after
``CODEAI_WEBHOOK_RETRY_BACKOFF`` (doubling), each attempt counted, timed and guarded by the
target's circuit breaker (``codeai.kernel.outbound``), and the outcome written to the row.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import KombuError

from codeai.kernel.exceptions import Conflict
from codeai.kernel.loading import loaded_instance
from codeai.kernel.outbound import (
    CircuitOpenError,
    record_integration_retry,
    track_integration_call,
)
from codeai.kernel.sql import quoted_columns, quoted_table
from deployments.models import Deployment
from executions.models import Execution, ExecutionStatus
from executions.serializers import ExecutionSummarySerializer
from executions.signals import ReadWithMove
from webhooks import client
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent

logger = logging.getLogger(__name__)

EVENT_OF_STATUS: dict[str, str] = {
    ExecutionStatus.RUNNING: WebhookEvent.EXECUTION_STARTED,
    ExecutionStatus.SUCCEEDED: WebhookEvent.EXECUTION_SUCCEEDED,
    ExecutionStatus.FAILED: WebhookEvent.EXECUTION_FAILED,
    ExecutionStatus.TIMED_OUT: WebhookEvent.EXECUTION_TIMED_OUT,
    ExecutionStatus.CANCELLED: WebhookEvent.EXECUTION_CANCELLED,
}
MASKED = "****"
UPDATABLE_FIELDS = frozenset({"url", "events", "secret", "headers", "deployment", "active"})
MAX_HEADERS = 20
MAX_BACKOFF_SECONDS = 30.0
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
# Set by the delivery itself: a webhook's own headers may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "user-agent",
        client.SIGNATURE_HEADER.lower(),
        client.ALGORITHM_HEADER.lower(),
    }
)


# --- Webhooks ---------------------------------------------------------------------------


def _check_url(url: str) -> None:
    try:
        client.split_target(url)
    except client.TargetRefused as error:
        raise ValidationError({"url": [str(error)]}) from None
    except ValueError:
        raise ValidationError({"url": ["the port must be from 1 to 65535"]}) from None


def _check_events(events: Any) -> None:
    known = WebhookEvent.subscribable()
    unknown = [event for event in events if event not in known]
    if unknown:
        raise ValidationError(
            {"events": [f"unknown event {event!r}; known: {', '.join(known)}" for event in unknown]}
        )


def _check_headers(headers: Any) -> None:
    if not isinstance(headers, dict):
        raise ValidationError({"headers": ["must be an object of header names and values"]})
    errors = []
    if len(headers) > MAX_HEADERS:
        errors.append(f"at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            errors.append(f"{name!r} is not a header name")
        elif name.lower() in RESERVED_HEADERS:
            errors.append(f"{name!r} is set by the delivery itself")
        elif not isinstance(value, str) or len(value) > 4096:
            errors.append(f"{name!r} must be a string of at most 4096 characters")
        elif any(char in value for char in "\r\n\0"):
            errors.append(f"{name!r} must not contain line breaks")
    if errors:
        raise ValidationError({"headers": errors})


def webhook_check(*, url: str, events: list[str], headers: dict[str, Any]) -> None:
    """ValidationError naming each field that is wrong and why (the API's and the admin's)."""
    errors: dict[str, list[str]] = {}
    checks: list[tuple[Callable[[Any], None], Any]] = [
        (_check_url, url),
        (_check_events, events),
        (_check_headers, headers),
    ]
    for check, value in checks:
        try:
            check(value)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)


def _save(webhook: Webhook, fields: frozenset[str] | None = None) -> Webhook:
    webhook_check(url=webhook.url, events=webhook.events, headers=webhook.headers)
    webhook.events = list(dict.fromkeys(webhook.events))
    webhook.full_clean()
    update_fields = None if fields is None else [*sorted(fields), "updated_at"]
    with transaction.atomic():
        webhook.save(update_fields=update_fields)
    return webhook


def webhook_create(
    *,
    url: str,
    events: list[str] | None = None,
    secret: str = "",
    headers: dict[str, str] | None = None,
    deployment: Deployment | None = None,
    active: bool = True,
) -> Webhook:
    """A new webhook; ``events`` empty means it is sent nothing but tests."""
    return _save(
        Webhook(
            url=url,
            events=list(events or []),
            secret=secret,
            headers=dict(headers or {}),
            deployment=deployment,
            active=active,
        )
    )


def webhook_update(*, webhook: Webhook, **fields: Any) -> Webhook:
    """Change the given fields only; a header value sent as ``****`` keeps its stored value
    (the API shows header values masked)."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"webhook_update() got unknown fields: {', '.join(sorted(unknown))}")
    if "headers" in fields:
        stored = webhook.headers or {}
        fields["headers"] = {
            name: stored.get(name, value) if value == MASKED else value
            for name, value in fields["headers"].items()
        }
    for field, value in fields.items():
        setattr(webhook, field, value)
    return _save(webhook, frozenset(fields))


def webhook_delete(*, webhook: Webhook) -> None:
    with transaction.atomic():
        webhook.delete()


# --- Deliveries: made when an event happens ------------------------------------------------


# The name of the candidates' rows read with each move (``executions.signals``).
CANDIDATES = "webhooks"


@functools.cache
def candidates_sql(vendor: str) -> str:
    """Active webhooks of an execution's deployment (%(id)s) or of every deployment:
    written once per database (``vendor``), since compiling the queryset cost more than the
    query on every status move of every execution. On PostgreSQL it runs in the message of
    each claim and finish (``webhooks.apps``), after the move."""
    webhook, execution = quoted_columns(Webhook), quoted_columns(Execution)
    return (
        f"SELECT w.{webhook['id']}, w.{webhook['events']}"
        f" FROM {quoted_table(Webhook)} AS w WHERE w.{webhook['active']}"
        f" AND (w.{webhook['deployment']} IS NULL OR w.{webhook['deployment']} ="
        f" (SELECT e.{execution['deployment']} FROM {quoted_table(Execution)} AS e"
        f" WHERE e.{execution['id']} = %(id)s))"
    )


def _candidates(execution_id: Any) -> list[tuple]:
    key = Execution._meta.pk.get_db_prep_value(execution_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(candidates_sql(connection.vendor), {"id": key})
        return cursor.fetchall()


def _webhooks_listing(event: str, rows: list[tuple]) -> list[Webhook]:
    """The candidates listing ``event``, loaded with their id and events only. The event is
    matched here, not in SQL: JSON containment is not portable to SQLite, and the webhooks of
    one server are few."""
    webhooks = []
    for webhook_id, events in rows:
        # Both databases answer JSON as text here (Django loads jsonb as text too).
        listed = json.loads(events)
        if event in listed:
            pairs = [("id", Webhook._meta.pk.to_python(webhook_id)), ("events", listed)]
            webhooks.append(loaded_instance(Webhook, connection.alias, pairs))
    return webhooks


def _enqueue(delivery_ids: list[Any]) -> None:
    from webhooks.tasks import deliver  # the tasks module imports this one

    for delivery_id in delivery_ids:
        try:
            deliver.apply_async(
                args=[str(delivery_id)],
                retry=True,
                retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
            )
        except (KombuError, OSError) as error:
            logger.error("could not queue webhook delivery %s: %s", delivery_id, error)
            with transaction.atomic():
                WebhookDelivery.objects.filter(pk=delivery_id, started_at__isnull=True).update(
                    completed_at=timezone.now(),
                    last_error="not sent: the task queue is unavailable "
                    f"({type(error).__name__}); send it again with retry",
                )


def _deliveries_create(webhooks: list[Webhook], **fields: Any) -> list[WebhookDelivery]:
    """The rows, then their tasks once the rows have committed (a task never finds none)."""
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(webhook=webhook, **fields) for webhook in webhooks]
        )
        transaction.on_commit(partial(_enqueue, [delivery.pk for delivery in deliveries]))
    return deliveries


def execution_event_received(
    *, execution_id: Any, status: str, read_with_move: ReadWithMove, **_: Any
) -> None:
    """Receiver of ``executions.signals.execution_status_changed`` (after the move
    committed): a delivery per matching webhook, sent by tasks. The candidates come with the
    move (PostgreSQL's claim and finish) or from one query; nothing more when none match."""
    event = EVENT_OF_STATUS.get(status)
    if event is None:
        return
    rows = read_with_move.get(CANDIDATES)
    webhooks = _webhooks_listing(event, _candidates(execution_id) if rows is None else rows)
    if not webhooks:
        return
    execution = Execution.objects.defer(*Execution.HEAVY_FIELDS).filter(pk=execution_id).first()
    if execution is None:
        return
    data = ExecutionSummarySerializer(execution).data
    _deliveries_create(webhooks, event=event, execution_id=execution.pk, payload=dict(data))


def webhook_test(*, webhook: Webhook) -> WebhookDelivery:
    """A ``webhook.test`` delivery to this webhook (active or not), sent by a task."""
    data = {"webhook_id": str(webhook.pk), "message": "a test delivery from CodeAI"}
    return _deliveries_create([webhook], event=WebhookEvent.WEBHOOK_TEST, payload=data)[0]


def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a finished delivery's event and data again, as a new delivery (the old one stays
    as it was); a delivery still being sent is a Conflict."""
    if delivery.completed_at is None:
        raise Conflict("delivery is still being sent")
    return _deliveries_create(
        [delivery.webhook],
        event=delivery.event,
        execution_id=delivery.execution_id,
        payload=delivery.payload,
        retry_of=delivery,
    )[0]


# --- Sending one delivery (the webhooks.deliver task) -----------------------------------


class _AnswerError(Exception):
    """A non-2xx answer: an error of the call (counted, fed to the breaker)."""

    def __init__(self, answer: client.Answer) -> None:
        super().__init__(f"HTTP {answer.status}")
        self.answer = answer


class _Retryable(_AnswerError, ConnectionError):
    """A 5xx answer: worth another attempt."""


def _body(delivery: WebhookDelivery) -> bytes:
    document = {
        "event": delivery.event,
        "delivered_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": delivery.payload,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _headers(webhook: Webhook, body: bytes) -> dict[str, str]:
    headers = {**webhook.headers, "Content-Type": "application/json"}
    headers["User-Agent"] = client.USER_AGENT
    if webhook.secret:
        headers[client.SIGNATURE_HEADER] = client.sign(body, webhook.secret)
        headers[client.ALGORITHM_HEADER] = "sha256"
    return headers


class _Delivery:
    """The attempts of one delivery: the target is resolved once, by the first attempt that
    gets that far, and every later attempt connects to the same address."""

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self.service = f"webhook:{client.origin(webhook.url)}"
        self.target: client.Target | None = None

    def attempt(self, body: bytes) -> client.Answer:
        """One POST, counted and timed as the integration; raises on any non-2xx."""
        with track_integration_call(self.service):
            if self.target is None:
                self.target = client.target(
                    self.webhook.url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE
                )
            answer = client.post(
                self.target,
                body,
                _headers(self.webhook, body),
                timeout=settings.WEBHOOK_TIMEOUT,
                excerpt_chars=WebhookDelivery.EXCERPT_CHARS,
            )
            if answer.status >= 500:
                raise _Retryable(answer)
            if not 200 <= answer.status < 300:
                raise _AnswerError(answer)
        return answer


def _outcome(error: BaseException) -> tuple[dict[str, Any], bool]:
    """What a failed attempt leaves on the row, and whether another attempt may follow:
    connection errors, timeouts and 5xx are retried; the rest (another answer, an open
    breaker, a refused target, a certificate that does not verify) end the delivery."""
    if isinstance(error, _AnswerError):
        answer = error.answer
        fields = {"status_code": answer.status, "response_excerpt": answer.excerpt}
        return {**fields, "last_error": str(error)}, isinstance(error, _Retryable)
    fields = {"status_code": None, "response_excerpt": ""}
    if isinstance(error, CircuitOpenError | client.TargetRefused | ssl.SSLCertVerificationError):
        return {**fields, "last_error": str(error)}, False
    text = str(error) or type(error).__name__
    if isinstance(error, TimeoutError) or "timed out" in text:
        text = f"timed out after {settings.WEBHOOK_TIMEOUT:g} s"
    return {**fields, "last_error": text}, True


def delivery_claim(*, delivery_id: Any) -> bool:
    """Mark a delivery as being sent; False when it was already (a second task delivery) or
    the sweep gave up on it."""
    with transaction.atomic():
        return bool(
            WebhookDelivery.objects.filter(
                pk=delivery_id, started_at__isnull=True, completed_at__isnull=True
            ).update(started_at=timezone.now())
        )


def longest_send_seconds() -> float:
    """The longest one delivery can take: every attempt's time (at most twice the timeout,
    ``webhooks.client.post``) plus the backoffs between them."""
    attempts = settings.WEBHOOK_MAX_ATTEMPTS
    backoffs = sum(
        min(settings.WEBHOOK_RETRY_BACKOFF * 2**index, MAX_BACKOFF_SECONDS)
        for index in range(attempts - 1)
    )
    return attempts * 2 * settings.WEBHOOK_TIMEOUT + backoffs


def delivery_sweep() -> int:
    """Fail deliveries no worker finished (it stopped while sending, or the task was lost)
    so that they can be sent again with retry; returns how many. Sending ones count as lost
    after ``longest_send_seconds`` (+60 s), unclaimed ones after that plus
    ``CODEAI_EXEC_QUEUE_GRACE`` (a busy queue is not a lost task)."""
    now = timezone.now()
    sending_limit = now - timedelta(seconds=longest_send_seconds() + 60)
    queued_limit = sending_limit - timedelta(seconds=settings.EXEC_QUEUE_GRACE)
    stale = WebhookDelivery.objects.filter(completed_at__isnull=True).filter(
        Q(started_at__lt=sending_limit) | Q(started_at__isnull=True, created_at__lt=queued_limit)
    )
    with transaction.atomic():
        swept = stale.update(
            completed_at=now,
            last_error="lost: no worker finished sending it (send it again with retry)",
        )
    if swept:
        logger.warning("%d webhook deliveries were lost; marked failed", swept)
    return swept


def delivery_send(*, delivery_id: Any) -> WebhookDelivery | None:
    """Send a claimed delivery with its retries and record how it went."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    webhook = delivery.webhook
    sender = _Delivery(webhook)
    service = sender.service
    started = time.monotonic()
    outcome: dict[str, Any] = {"success": False}
    attempts = 0
    for attempt in range(1, settings.WEBHOOK_MAX_ATTEMPTS + 1):
        if attempt > 1:
            record_integration_retry(service)
            backoff = settings.WEBHOOK_RETRY_BACKOFF * 2 ** (attempt - 2)
            time.sleep(min(backoff, MAX_BACKOFF_SECONDS))
        attempts = attempt
        try:
            answer = sender.attempt(_body(delivery))
        except (_AnswerError, client.TargetRefused, OSError) as error:
            fields, retry = _outcome(error)
            outcome.update(fields)
            if retry:
                continue
            break
        outcome = {
            "success": True,
            "status_code": answer.status,
            "last_error": "",
            "response_excerpt": answer.excerpt,
        }
        break
    changes = {
        **outcome,
        "attempts": attempts,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "completed_at": timezone.now(),
    }
    with transaction.atomic():
        # Unless the sweep gave up on it meanwhile (its outcome then stays "lost").
        WebhookDelivery.objects.filter(pk=delivery_id, completed_at__isnull=True).update(**changes)
    level = logging.INFO if changes["success"] else logging.WARNING
    logger.log(
        level,
        "webhook delivery %s (%s) to %s: %s after %d attempt(s)",
        delivery_id,
        delivery.event,
        client.origin(webhook.url),
        "delivered" if changes["success"] else changes.get("last_error"),
        attempts,
        extra={"service_name": service},
    )
    delivery.refresh_from_db()
    return delivery
