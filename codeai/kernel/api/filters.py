"""django-filter's backend, with nothing built for a list asked without query parameters."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from codeai.kernel.api.pagination import PAGE_PARAMETERS


class FilterBackend(DjangoFilterBackend):
    """A filterset bound to no parameters filters nothing: each of its filters passes an
    empty value through. Building it (its form, its fields, deep copies of both) was a tenth
    of an unfiltered list's request, so a query with no parameter but the page's skips it,
    unless the filterset has a required filter (whose absence is the client's 400)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        if request.query_params.keys() <= PAGE_PARAMETERS:
            filterset_class = self.get_filterset_class(view, queryset)
            if filterset_class is None or not any(
                filter_.extra.get("required") for filter_ in filterset_class.base_filters.values()
            ):
                return queryset
        return super().filter_queryset(request, queryset, view)
