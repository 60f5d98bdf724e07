"""Filters of the execution lists."""

from __future__ import annotations

import django_filters

from executions.models import Execution, ExecutionStatus


class ExecutionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ExecutionStatus.choices)
    deployment = django_filters.UUIDFilter(field_name="deployment_id", help_text="Deployment id.")
    command = django_filters.CharFilter()

    class Meta:
        model = Execution
        fields = ["status", "deployment", "command"]
