"""Schedules: a deployment run on a timetable (a 5-field cron in a time zone)."""

from __future__ import annotations

import uuid

from django.db import models


class Schedule(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="schedules"
    )
    cron_spec = models.CharField(
        max_length=255, help_text="5 fields: minute hour day-of-month month day-of-week."
    )
    timezone = models.CharField(
        "time zone",
        max_length=64,
        default="UTC",
        help_text="IANA name whose wall clock the cron follows.",
    )
    variables = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(
        null=True, blank=True, help_text="When it fires next (UTC); empty while disabled."
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_execution = models.ForeignKey(
        "executions.Execution",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_error = models.TextField(
        blank=True, default="", help_text="Why its last due time started no execution."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["deployment", "created_at"], name="schedule_deployment_idx"),
            models.Index(fields=["enabled", "next_run_at"], name="schedule_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cron_spec} ({self.timezone})"
