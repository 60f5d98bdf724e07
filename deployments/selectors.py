"""Reads of deployments."""

from __future__ import annotations

from django.db.models import QuerySet

from deployments.models import Deployment


def deployment_list() -> QuerySet[Deployment]:
    """Newest first."""
    return Deployment.objects.order_by("-created_at")
