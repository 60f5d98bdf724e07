"""The outermost middleware: request id, request log line, HTTP metrics, and the probes.

It sits first in ``MIDDLEWARE``. The health probes and the metrics endpoint are answered right
here, before host validation, sessions, CSRF and authentication: Kubernetes probes and
Prometheus scrapes address the pod IP, which is no allowed host, and need no login. Before
even those, a body over CODEAI_MAX_REQUEST_BYTES is refused (``codeai.kernel.limits``).
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, URLPattern, path, resolve

from codeai import health, metrics
from codeai.kernel import limits
from codeai.kernel.logs import bind_request_id

logger = logging.getLogger("codeai.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Execution.request_id holds 64 characters; only characters that are safe in logs and headers.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")
PROBE_VIEWS = frozenset({health.health, health.ready, health.live, metrics.metrics_view})
UNMATCHED_PATH = "<unmatched>"
# Label values stay bounded whatever a client sends.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def probe_urlpatterns() -> list[URLPattern]:
    """The probe and metrics routes (with and without the trailing slash) for the URLconf."""
    probes = {"health": health.health, "ready": health.ready, "health/ready": health.ready}
    probes |= {"live": health.live, "health/live": health.live}
    patterns = []
    for route, view in probes.items():
        patterns += [path(route, view), path(f"{route}/", view, name=route.replace("/", "-"))]
    if settings.METRICS_ENABLED:
        patterns.append(
            path(settings.METRICS_PATH.lstrip("/"), metrics.metrics_view, name="metrics")
        )
    return patterns


@functools.cache
def _probe_paths(metrics_enabled: bool, metrics_path: str) -> frozenset[str]:
    """The paths ``probe_urlpatterns`` routes at the URLconf's root (as it is included), for
    the metrics settings that decide whether ``/metrics`` is one of them."""
    return frozenset(f"/{pattern.pattern}" for pattern in probe_urlpatterns())


def request_id_for(request: HttpRequest) -> str:
    """The caller's ``X-Request-ID`` when it is well formed, else a new one."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    return offered if VALID_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def route_pattern(request: HttpRequest) -> str:
    """``/api/v1/configs/{pk}/`` for any config: the route, never the URL with its ids."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return UNMATCHED_PATH
    route = _REGEX_GROUP.sub(r"{\1}", match.route)
    route = _CONVERTER.sub(r"{\1}", route).replace("/?", "/")  # optional slash: one route
    route = route.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + route.lstrip("/")


class ObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id
        start = time.perf_counter()
        metrics.HTTP_ACTIVE_REQUESTS.inc()
        try:
            with bind_request_id(request_id):
                response = (
                    limits.body_too_large(request)
                    or self._probe(request)
                    or self.get_response(request)
                )
                duration = time.perf_counter() - start
                self._record(request, response, duration)
        finally:
            metrics.HTTP_ACTIVE_REQUESTS.dec()
        response[REQUEST_ID_HEADER] = request_id
        return response

    @staticmethod
    def _probe(request: HttpRequest) -> HttpResponse | None:
        """Answer health and metrics requests directly; ``None`` for everything else (known
        by its path: resolving every request twice, here and in Django's handler, was a
        twentieth of an API request's CPU)."""
        if request.path_info not in _probe_paths(settings.METRICS_ENABLED, settings.METRICS_PATH):
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        if match.func not in PROBE_VIEWS:
            return None
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if request.method == "HEAD":
            response.content = b""  # same status and headers; gunicorn would send the body
        return response

    @staticmethod
    def _record(request: HttpRequest, response: HttpResponse, duration: float) -> None:
        path = route_pattern(request)
        is_probe = path != UNMATCHED_PATH and request.resolver_match.func in PROBE_VIEWS
        method = request.method if request.method in KNOWN_METHODS else "other"
        if not response.streaming:
            response_size = len(response.content)
        elif str(response.get("Content-Length", "")).isdigit():
            response_size = int(response["Content-Length"])
        else:
            response_size = None  # a stream of unknown length: nothing to observe
        content_length = request.META.get("CONTENT_LENGTH") or "0"
        metrics.observe_request(
            method=method,
            path=path,
            status_code=response.status_code,
            duration=duration,
            request_size=int(content_length) if content_length.isdigit() else 0,
            response_size=response_size,
        )
        # The raw path, without the query string (which can carry credentials). Probes every
        # few seconds would drown the rest: they log at debug level.
        logger.log(
            logging.DEBUG if is_probe else logging.INFO,
            "%s %s %s",
            method,
            request.path,
            response.status_code,
            extra={
                "method": method,
                "path": request.path,
                "route": path,
                "status": response.status_code,
                "duration": round(duration, 6),
            },
        )
