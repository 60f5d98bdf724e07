"""State changes of executions. The executions work replaces these first versions."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from deployments.models import Deployment
from executions.models import Execution


def deployment_execute(
    *, deployment: Deployment, user: Any, variables: dict[str, Any] | None = None
) -> Execution:
    """Create a queued execution of the deployment's current config."""
    with transaction.atomic():
        return Execution.objects.create(
            deployment=deployment,
            config_snapshot=deployment.config.content if deployment.config else "",
            variables=variables or {},
            triggered_by=user if getattr(user, "pk", None) else None,
            triggered_by_name=getattr(user, "username", "") or "",
        )
