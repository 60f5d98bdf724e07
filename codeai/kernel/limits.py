"""The request body bound, CODEAI_MAX_REQUEST_BYTES, enforced before anything reads a body.

``body_too_large`` is called by the outermost middleware on every route (the probes too):
a body announced as larger is refused with 413 and never read. A chunked body announces no
length and Django would read none of it, silently; ``bound_chunked_bodies`` reads at most
one byte over the limit of it into memory and hands Django the length it found.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def body_too_large(request: HttpRequest) -> HttpResponse | None:
    """413 when the body is over the limit (JSON under /api/, a page elsewhere), else None."""
    limit = settings.MAX_REQUEST_BYTES
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length.isdigit() or int(length) <= limit:
        return None
    message = f"request body too large: the limit is {limit} bytes"
    if request.path.startswith("/api/"):
        return JsonResponse({"error": message}, status=413)
    return HttpResponse(render_to_string("413.html", {"message": message}), status=413)


def bound_chunked_bodies(application: WSGIApp) -> WSGIApp:
    """``application`` with chunked request bodies read up to the limit plus one byte."""

    def bounded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(settings.MAX_REQUEST_BYTES + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return application(environ, start_response)

    return bounded
