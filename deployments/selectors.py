"""Reads of deployments: each with its newest execution, in a constant number of queries."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from deployments.models import Deployment
from executions.models import Execution

# The heavy columns stay in the database: a deployment shows a summary of its last run.
_SUMMARY_DEFERRED = ("output", "config_snapshot", "steps", "variables")


def _newest_executions() -> QuerySet[Execution]:
    newest_of_same_deployment = (
        Execution.objects.filter(deployment=OuterRef("deployment"))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    return Execution.objects.filter(pk=Subquery(newest_of_same_deployment)).defer(
        *_SUMMARY_DEFERRED
    )


def deployment_list() -> QuerySet[Deployment]:
    """Newest first; ``last_execution_list`` holds the newest execution (one extra query)."""
    return Deployment.objects.order_by("-created_at").prefetch_related(
        Prefetch("executions", queryset=_newest_executions(), to_attr="last_execution_list")
    )


def deployment_last_execution(deployment: Deployment) -> Execution | None:
    prefetched: list[Any] | None = getattr(deployment, "last_execution_list", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return deployment.executions.defer(*_SUMMARY_DEFERRED).order_by("-created_at", "-pk").first()
