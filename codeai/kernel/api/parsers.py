"""The JSON parser of the API: DRF's, plus the inputs it lets through that would fail later,
deep in a serializer or the database, and answer 500 or 503 instead of 400."""

from __future__ import annotations

import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _problem(document: Any) -> str | None:
    """What is wrong with a parsed document, walked without recursion (it may be deep)."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            return "a number is too large"
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate"
    return None


class JSONBodyParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        problem = _problem(document)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return document
