"""Reads of configs."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from configs.models import Config


def config_list() -> QuerySet[Config]:
    return Config.objects.order_by("-created_at")


def config_summaries() -> QuerySet[Config]:
    """Configs for a list page: the text, syntax tree and problems stay in the database (each
    can be megabytes); ``listed_valid`` says whether there are problems."""
    without_errors = ExpressionWrapper(Q(validation_errors=[]), output_field=BooleanField())
    return (
        config_list()
        .defer("content", "ast", "validation_errors")
        .annotate(listed_valid=without_errors)
    )
