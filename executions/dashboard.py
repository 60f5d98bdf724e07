"""What the admin index shows: counts by status, what runs now, the last failures, a
chart of executions per hour over the last day (plain CSS bars, sized here) and a warning
when exec steps run unsandboxed."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from deployments.models import DeploymentStatus
from executions import selectors
from executions.models import ExecutionStatus
from executions.runner import SANDBOX_OFF

CHART_HOURS = 24


def _chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    peak = max((bucket["total"] for bucket in series), default=0)
    bars = [
        {
            **bucket,
            # Percent of the chart's height; a bar with any executions stays visible.
            "height": max(2, round(100 * bucket["total"] / peak)) if bucket["total"] else 0,
            "failed_height": round(100 * bucket["failed"] / bucket["total"])
            if bucket["total"]
            else 0,
        }
        for bucket in series
    ]
    return {"bars": bars, "peak": peak, "total": sum(bucket["total"] for bucket in series)}


def _labelled(counts: dict[str, int], choices: type) -> list[dict[str, Any]]:
    return [
        {"status": status, "label": choices(status).label, "count": count}
        for status, count in counts.items()
    ]


def dashboard_context() -> dict[str, Any]:
    return {
        "execution_counts": _labelled(selectors.execution_counts_by_status(), ExecutionStatus),
        "deployment_counts": _labelled(selectors.deployment_counts_by_status(), DeploymentStatus),
        "active": selectors.executions_active(),
        "failures": selectors.executions_last_failures(),
        "chart": _chart(selectors.executions_per_hour(hours=CHART_HOURS)),
        "sandbox_warning": SANDBOX_OFF if settings.EXEC_SANDBOX == "off" else "",
    }
