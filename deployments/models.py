"""Deployments: a named pointer at a config, whose status follows its executions."""

from __future__ import annotations

import uuid

from django.db import models

from codeai.kernel.loading import LeanLoading


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"
    COMPLETE = "complete", "Complete"


class Concurrency(models.TextChoices):
    """What a new execution does while another of the same deployment is queued or running."""

    PARALLEL = "parallel", "Parallel: run alongside"
    QUEUE = "queue", "Queue: one at a time, in order"
    REFUSE = "refuse", "Refuse: answer 409"


class Deployment(LeanLoading, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, unique=True)
    config = models.ForeignKey(
        "configs.Config",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deployments",
    )
    status = models.CharField(
        max_length=16,
        choices=DeploymentStatus.choices,
        default=DeploymentStatus.PENDING,
        db_index=True,
        editable=False,
    )
    config_revision = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The config revision it runs; empty: the latest one.",
    )
    concurrency = models.CharField(
        max_length=16,
        choices=Concurrency.choices,
        default=Concurrency.PARALLEL,
        help_text="While one execution is queued or running, another one runs alongside "
        "(parallel), waits its turn (queue) or is refused (refuse).",
    )
    timeout_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Overall time limit for one execution; capped by CODEAI_EXEC_TIMEOUT.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="deployment_created_idx")]

    def __str__(self) -> str:
        return self.name
