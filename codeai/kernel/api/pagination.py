"""The list envelope: ``{"data", "count", "limit", "offset", "next", "previous"}``."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class ListPagination(LimitOffsetPagination):
    """limit defaults to 20, capped at 100; a bad limit or offset falls back, never a 400
    (DRF's own parsing: a limit that is not a positive integer is the default, an offset
    that is not a non-negative one is 0)."""

    default_limit = 20
    max_limit = 100

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
