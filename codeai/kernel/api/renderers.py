"""The API's JSON renderer: DRF's, written by orjson.

DRF writes JSON with the standard library's encoder: 150 µs of a 2.3 ms request for a page of
50 deployments, where orjson takes 9 µs. The output is the same bytes: compact, UTF-8
unescaped, U+2028 and U+2029 escaped, and whatever orjson does not write as DRF would (date
times, dates and times, dataclasses) goes to DRF's own encoder, as does anything else it does
not know (lazy strings, decimals, querysets). The one difference is how some floats are
spelled (``1.5e-7`` for ``1.5e-07``, ``0.00001`` for ``1e-05``: the same numbers). What
orjson refuses (an integer past 64 bits, a key that is not a string, nesting past 254 levels)
is written by DRF's path, and so is a request for indented JSON or a setting that changes
DRF's output (non-compact, ASCII-only, non-strict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework import renderers

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# U+2028 and U+2029 in UTF-8, and DRF's escapes of them (a valid JavaScript literal).
_ESCAPES = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is not None and self._as_drf_writes_it(accepted_media_type, renderer_context):
            try:
                text = orjson.dumps(data, default=self.encoder_class().default, option=_OPTIONS)
            except orjson.JSONEncodeError:
                pass  # DRF's path says what it makes of it
            else:
                if b"\xe2\x80" in text:
                    for raw, escaped in _ESCAPES:
                        text = text.replace(raw, escaped)
                return text
        return super().render(data, accepted_media_type, renderer_context)

    def _as_drf_writes_it(
        self, accepted_media_type: str | None, renderer_context: Mapping[str, Any] | None
    ) -> bool:
        """Whether DRF would write compact, unescaped, strict JSON: what orjson writes."""
        if not self.compact or self.ensure_ascii or not self.strict:
            return False
        return self.get_indent(accepted_media_type or "", renderer_context or {}) is None
