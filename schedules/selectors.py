"""Reads of schedules."""

from __future__ import annotations

from django.db.models import QuerySet

from deployments.models import Deployment
from schedules.models import Schedule


def schedule_list(*, deployment: Deployment) -> QuerySet[Schedule]:
    """A deployment's schedules, oldest first."""
    return Schedule.objects.filter(deployment=deployment).order_by("created_at", "pk")
