"""Executions: one run of a deployment's config, with the text it ran and what happened."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models

from codeai.kernel.loading import LeanLoading


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def active(cls) -> tuple[str, ...]:
        return (cls.QUEUED, cls.RUNNING)

    @classmethod
    def terminal(cls) -> tuple[str, ...]:
        return (cls.SUCCEEDED, cls.FAILED, cls.TIMED_OUT, cls.CANCELLED)


class ExecutionTrigger(models.TextChoices):
    """What started an execution."""

    API = "api", "API"
    ADMIN = "admin", "Admin"
    SCHEDULE = "schedule", "Schedule"
    RELAUNCH = "relaunch", "Relaunch"


class Execution(LeanLoading, models.Model):
    # Columns that can be megabytes: lists and summaries leave them in the database.
    HEAVY_FIELDS = ("output", "config_snapshot", "steps", "variables")
    # The columns of a summary (a list's item, a deployment's last execution) as the API
    # writes it: a deployment list reads only these of each last execution.
    SUMMARY_FIELDS = (
        "id",
        "deployment_id",
        "command",
        "status",
        "exit_code",
        "explanation",
        "started_at",
        "completed_at",
        "triggered_by_name",
        "trigger",
        "config_revision",
        "relaunch_of_id",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Not indexed on its own: execution_deployment_idx leads with it. Every write of a row
    # (three per execution: insert, claim, finish) updates each index.
    deployment = models.ForeignKey(
        "deployments.Deployment",
        on_delete=models.CASCADE,
        related_name="executions",
        db_index=False,
    )
    command = models.CharField(max_length=64, default="execute")
    # Not indexed on its own (nor its LIKE index on PostgreSQL): execution_sweep_idx leads
    # with it.
    status = models.CharField(
        max_length=16,
        choices=ExecutionStatus.choices,
        default=ExecutionStatus.QUEUED,
    )
    config_snapshot = models.TextField(blank=True, help_text="The config text this run used.")
    config_revision = models.PositiveIntegerField(
        null=True, blank=True, help_text="The number of the config revision it ran."
    )
    relaunch_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="relaunches",
        help_text="The execution this one relaunched.",
    )
    released_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a queue deployment published its task, its turn having come.",
    )
    variables = models.JSONField(default=dict, blank=True)
    output = models.TextField(blank=True, default="")
    output_truncated = models.BooleanField(default=False)
    exit_code = models.IntegerField(null=True, blank=True)
    explanation = models.TextField(blank=True, default="")
    steps = models.JSONField(default=list, blank=True)
    trigger = models.CharField(
        max_length=16, choices=ExecutionTrigger.choices, default=ExecutionTrigger.API
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
    )
    triggered_by_name = models.CharField(
        max_length=255, blank=True, help_text="Username, kept for outside identities too."
    )
    request_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    republished_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task, lost, was published again."
    )
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="execution_created_idx"),
            # A deployment's newest execution is the first entry: no sort (the list's last
            # execution, once per row of a page).
            models.Index(
                fields=["deployment", "-created_at", "-id"], name="execution_deployment_idx"
            ),
            models.Index(fields=["status", "heartbeat_at"], name="execution_sweep_idx"),
        ]

    def __str__(self) -> str:
        # No deployment name here: reading it would cost a query per row in admin lists.
        return f"execution {str(self.pk)[:8]} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        return self.duration_between(self.started_at, self.completed_at)

    @staticmethod
    def duration_between(started_at: datetime | None, completed_at: datetime | None) -> int | None:
        """How long a run took, in whole milliseconds (None until it ended)."""
        if started_at is None or completed_at is None:
            return None
        return int((completed_at - started_at).total_seconds() * 1000)
