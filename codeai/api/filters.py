"""Filter backends shared by the list endpoints."""

from __future__ import annotations

from rest_framework import filters
from rest_framework.request import Request


class SearchFilter(filters.SearchFilter):
    """DRF's search, minus NUL characters, which PostgreSQL refuses in any text."""

    def get_search_terms(self, request: Request) -> list[str]:
        terms = super().get_search_terms(request)
        return [cleaned for term in terms if (cleaned := term.replace("\x00", ""))]
