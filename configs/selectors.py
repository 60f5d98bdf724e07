"""Reads of configs."""

from __future__ import annotations

from django.db.models import QuerySet

from configs.models import Config


def config_list() -> QuerySet[Config]:
    return Config.objects.order_by("-created_at")
