"""Reads of executions shared by the admin dashboard, the admin output panel and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import Substr, TruncHour
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus
from executions.models import Execution, ExecutionStatus

FAILED_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)


def _counts(queryset: QuerySet, choices: type) -> dict[str, int]:
    """Rows per status, every status present (0 when none), in the choices' order."""
    found = dict(queryset.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: found.get(status, 0) for status in choices.values}


def execution_counts_by_status() -> dict[str, int]:
    return _counts(Execution.objects.all(), ExecutionStatus)


def deployment_counts_by_status() -> dict[str, int]:
    return _counts(Deployment.objects.all(), DeploymentStatus)


def executions_active(*, limit: int = 10) -> list[Execution]:
    """Queued and running executions, oldest first: the ones an operator may be waiting on."""
    return list(
        Execution.objects.filter(status__in=ExecutionStatus.active())
        .select_related("deployment")
        .only(
            "id",
            "status",
            "created_at",
            "started_at",
            "triggered_by_name",
            "deployment__id",
            "deployment__name",
        )
        .order_by("created_at")[:limit]
    )


def executions_last_failures(*, limit: int = 5) -> list[Execution]:
    """The newest failed or timed-out executions, with their explanation."""
    return list(
        Execution.objects.filter(status__in=FAILED_STATUSES)
        .select_related("deployment")
        .only(
            "id",
            "status",
            "created_at",
            "completed_at",
            "exit_code",
            "explanation",
            "deployment__id",
            "deployment__name",
        )
        .order_by("-created_at")[:limit]
    )


def executions_per_hour(*, hours: int = 24, now: datetime | None = None) -> list[dict[str, Any]]:
    """Executions created in each of the last ``hours`` whole hours, oldest first, with
    how many of them failed; hours without executions are there with zeros."""
    now = now or timezone.now()
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=hours - 1)
    rows = (
        Execution.objects.filter(created_at__gte=first_hour)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    buckets = {
        first_hour + timedelta(hours=index): {"total": 0, "failed": 0} for index in range(hours)
    }
    for row in rows:
        bucket = buckets.get(row["hour"])
        if bucket is None:  # created after ``now`` (clock skew between hosts)
            continue
        bucket["total"] += row["n"]
        if row["status"] in FAILED_STATUSES:
            bucket["failed"] += row["n"]
    return [{"hour": hour, **counts} for hour, counts in buckets.items()]


def execution_output_since(*, execution_id: Any, offset: int = 0) -> dict[str, Any] | None:
    """The output written after ``offset`` characters, read in the database so that tailing
    a long output moves only the new part: ``{output, offset, next_offset, complete,
    status}``; None when the execution does not exist."""
    offset = max(0, offset)
    row = (
        Execution.objects.filter(pk=execution_id)
        .annotate(tail=Substr("output", offset + 1))
        .values("tail", "status")
        .first()
    )
    if row is None:
        return None
    tail = row["tail"] or ""
    return {
        "output": tail,
        "offset": offset,
        "next_offset": offset + len(tail),
        "complete": row["status"] in ExecutionStatus.terminal(),
        "status": row["status"],
    }


def execution_list(*, deployment_id: Any = None) -> QuerySet[Execution]:
    """Executions for the API, newest first; the config text each ran stays in the database."""
    queryset = Execution.objects.defer("config_snapshot").order_by("-created_at")
    if deployment_id is not None:
        queryset = queryset.filter(deployment_id=deployment_id)
    return queryset
