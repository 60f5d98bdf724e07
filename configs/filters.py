"""Filters of the config list."""

from __future__ import annotations

import django_filters

from configs.models import Config


class ConfigFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = Config
        fields = ["name"]
