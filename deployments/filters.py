"""Filters of the deployment list."""

from __future__ import annotations

import django_filters

from deployments.models import Deployment, DeploymentStatus


class DeploymentFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices)
    config = django_filters.UUIDFilter(field_name="config_id", help_text="Config id.")

    class Meta:
        model = Deployment
        fields = ["name", "status", "config"]
