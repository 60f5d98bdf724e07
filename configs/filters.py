"""Filters of the config list."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from configs.models import Config


class ConfigFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    is_valid = django_filters.BooleanFilter(
        method="filter_is_valid", help_text="true: configs without validation errors."
    )

    class Meta:
        model = Config
        fields = ["name", "is_valid"]

    def filter_is_valid(self, queryset: QuerySet[Config], name: str, value: bool) -> QuerySet:
        without_errors = Q(validation_errors=[])
        return queryset.filter(without_errors if value else ~without_errors)
