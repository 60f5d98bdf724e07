"""The list envelope: ``{"data", "count", "limit", "offset", "next", "previous"}``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet, Window
from django.db.models.query import ModelIterable
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from codeai.kernel.compiled import CompiledQuery, NotCompilable

# The annotation carrying the count of all the list's rows on each row of the page.
TOTAL = "codeai_list_total"


# Past every row of any list, and offset + limit still fits the databases' 64-bit integers.
MAX_OFFSET = 2**62


class ListPagination(LimitOffsetPagination):
    """limit defaults to 20, capped at 100; a bad limit or offset falls back, never a 400
    (DRF's own parsing: a limit that is not a positive integer is the default, an offset
    that is not a non-negative one is 0); an offset above ``MAX_OFFSET`` is ``MAX_OFFSET``
    (an empty page), as the database could not take it."""

    default_limit = 20
    max_limit = 100

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        """The page and the count in one query: ``COUNT(*) OVER ()`` is computed before the
        LIMIT, so every row of the page carries the number of rows the filters match. Only an
        empty page past the start needs a separate count (its rows carry none)."""
        if not _counts_in_page(queryset):
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        statement = _plain_list_statement(view, request, queryset)
        if statement is not None:
            page = statement.page(limit=self.limit, offset=self.offset, using=queryset.db)
        else:
            page = list(_counted(queryset)[self.offset : self.offset + self.limit])
        if page:
            self.count = getattr(page[0], TOTAL)
        else:
            self.count = queryset.count() if self.offset else 0
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return page

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {
                "data": data,
                "count": self.count,
                "limit": self.limit,
                "offset": self.offset,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["data", "count", "limit", "offset", "next", "previous"],
            "properties": {
                "data": schema,
                "count": {"type": "integer", "example": 42},
                "limit": {"type": "integer", "example": self.default_limit},
                "offset": {"type": "integer", "example": 0},
                "next": link,
                "previous": link,
            },
        }


# What a page of a list carries without asking for any filtering.
PAGE_PARAMETERS = frozenset({ListPagination.limit_query_param, ListPagination.offset_query_param})

# The page statement of each view class that has ``compiled_plain_list``; None: its query
# could not be compiled (``NotCompilable``).
_PLAIN_LISTS: dict[type, CompiledQuery | None] = {}


def _counted(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(**{TOTAL: Window(Count("*"))})


def _plain_list_statement(view: Any, request: Request, queryset: QuerySet) -> CompiledQuery | None:
    """The compiled statement of a list asked with no parameter but the page's, for a view
    whose list then does not depend on the request (``compiled_plain_list``): every such
    request's queryset is the same, so the first one's is compiled (with its count) and
    kept."""
    if not _plain_list(view, request):
        return None
    key = type(view)
    if key not in _PLAIN_LISTS:
        compiled = CompiledQuery(lambda: _counted(queryset))
        try:
            compiled.compile(using=queryset.db)
        except NotCompilable:
            _PLAIN_LISTS[key] = None
        else:
            _PLAIN_LISTS[key] = compiled
    return _PLAIN_LISTS[key]


def plain_list_compiled(view: Any, request: Request) -> bool:
    """Whether the view's list asked by ``request`` runs a statement already compiled: then
    what the filter backends would do to its queryset (nothing, for a list asked with no
    parameter but the page's, but the default ordering, which the statement holds) is not
    needed."""
    return _plain_list(view, request) and _PLAIN_LISTS.get(type(view)) is not None


def _plain_list(view: Any, request: Request) -> bool:
    """A list asked with no parameter but the page's, of a view with ``compiled_plain_list``."""
    if not getattr(view, "compiled_plain_list", False) or getattr(view, "action", None) != "list":
        return False
    return request.query_params.keys() <= PAGE_PARAMETERS


def _counts_in_page(queryset: Any) -> bool:
    """A plain query of model rows, where a window count over its rows is the list's count
    (not a DISTINCT, grouped, combined or already sliced one)."""
    if not isinstance(queryset, QuerySet) or queryset._iterable_class is not ModelIterable:
        return False
    query = queryset.query
    return not (query.distinct or query.combinator or query.group_by or query.is_sliced)
