"""Webhooks: where to tell other systems that an execution started or ended, and every
delivery made to them."""

from __future__ import annotations

import uuid

from django.db import models


class WebhookEvent(models.TextChoices):
    EXECUTION_STARTED = "execution.started", "execution started"
    EXECUTION_SUCCEEDED = "execution.succeeded", "execution succeeded"
    EXECUTION_FAILED = "execution.failed", "execution failed"
    EXECUTION_TIMED_OUT = "execution.timed_out", "execution timed out"
    EXECUTION_CANCELLED = "execution.cancelled", "execution cancelled"
    WEBHOOK_TEST = "webhook.test", "test delivery"

    @classmethod
    def subscribable(cls) -> tuple[str, ...]:
        """The events a webhook can list (``webhook.test`` is sent on request only)."""
        return tuple(value for value in cls.values if value != cls.WEBHOOK_TEST)


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2048, help_text="http:// or https:// target of the POSTs.")
    events = models.JSONField(default=list, blank=True, help_text="Events delivered.")
    # Write-only: the API and the admin never show it, only whether one is set.
    secret = models.CharField(max_length=255, blank=True, default="")
    headers = models.JSONField(default=dict, blank=True, help_text="Extra request headers.")
    deployment = models.ForeignKey(
        "deployments.Deployment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
        help_text="Only this deployment's executions; empty: every deployment's.",
    )
    active = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="webhook_created_idx")]

    def __str__(self) -> str:
        return f"webhook {str(self.pk)[:8]}"


class WebhookDelivery(models.Model):
    # The response's first characters kept with the delivery.
    EXCERPT_CHARS = 1024

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    execution_id = models.UUIDField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict, blank=True, help_text="The body's data.")
    success = models.BooleanField(default=False)
    status_code = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    duration_ms = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {str(self.pk)[:8]} ({self.event})"
