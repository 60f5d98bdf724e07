"""The list envelope: ``{"data", "count", "limit", "offset", "next", "previous"}``."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response


def non_negative_int(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


class ListPagination(LimitOffsetPagination):
    """limit defaults to 20, capped at 100; a bad limit or offset falls back, never a 400."""

    default_limit = 20
    max_limit = 100

    def get_limit(self, request: Request) -> int:
        limit = non_negative_int(request.query_params.get(self.limit_query_param))
        if not limit:
            return self.default_limit
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return non_negative_int(request.query_params.get(self.offset_query_param)) or 0

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
