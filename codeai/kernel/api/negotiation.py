"""The renderer of a response: DRF's choice, remembered.

DRF parses and ranks the Accept header for every request (a fortieth of a 50-row list's CPU),
yet its answer depends only on the header, the ``format`` asked for and the view's renderer
classes: it is worked out once per combination (a bounded number of them, whatever clients
send). A request no renderer accepts is refused each time, as DRF refuses it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        asked = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        index, media_type = _choice(tuple(type(r) for r in renderers), accept, asked or None)
        return renderers[index], media_type


@functools.lru_cache(maxsize=256)
def _choice(
    renderer_classes: tuple[type[BaseRenderer], ...], accept: str, asked: str | None
) -> tuple[int, str]:
    """DRF's own choice among ``renderer_classes``: the index of the renderer, and the type."""
    renderers = [renderer_class() for renderer_class in renderer_classes]
    # All DRF reads of the request: the Accept header, and the query's format (given here).
    request: Any = SimpleNamespace(META={"HTTP_ACCEPT": accept}, query_params={})
    renderer, media_type = DefaultContentNegotiation().select_renderer(request, renderers, asked)
    return renderers.index(renderer), media_type
