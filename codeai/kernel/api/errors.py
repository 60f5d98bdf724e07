"""One exception handler: every error of the API as ``{"error": "..."}`` (plus ``details``
for validation failures), with domain errors mapped to their status codes."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status, views
from rest_framework.response import Response

from codeai.kernel import exceptions as domain

logger = logging.getLogger(__name__)

AUTHENTICATION_REQUIRED = "authentication required"
INSUFFICIENT_PERMISSIONS = "insufficient permissions"
VALIDATION_FAILED = "validation failed"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


class ServiceUnavailableError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "service unavailable, retry later"
    default_code = "service_unavailable"


class PayloadTooLargeError(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request too large"
    default_code = "too_large"


_DOMAIN_ERRORS: tuple[tuple[type[Exception], type[exceptions.APIException]], ...] = (
    (domain.Conflict, ConflictError),
    (domain.ServiceUnavailable, ServiceUnavailableError),
    (domain.NotFound, exceptions.NotFound),
    (domain.TooLarge, PayloadTooLargeError),
)


def _as_api_exception(exc: Exception) -> Exception:
    for domain_error, api_error in _DOMAIN_ERRORS:
        if isinstance(exc, domain_error):
            return api_error(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        # Model validation in a service (full_clean): same envelope as the serializers'.
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return exceptions.ValidationError(detail)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        return ServiceUnavailableError("database unavailable, retry later")
    if isinstance(exc, DataError):
        # The database refused a value the serializers let through; the client's fault.
        return exceptions.ValidationError({"non_field_errors": ["a value is out of range"]})
    return exc


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        detail = detail.get("detail", next(iter(detail.values()), ""))
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return {"error": VALIDATION_FAILED, "details": details}
    if isinstance(exc, exceptions.NotAuthenticated):
        return {"error": AUTHENTICATION_REQUIRED}
    if isinstance(exc, exceptions.PermissionDenied) and exc.detail in (
        exceptions.PermissionDenied.default_detail,
        INSUFFICIENT_PERMISSIONS,
    ):
        return {"error": INSUFFICIENT_PERMISSIONS}
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None) or 1  # DRF sets it; its stubs do not declare it
        return {"error": f"too many requests, retry in {wait:.0f} seconds"}
    return {"error": _message(exc.detail)}


# Django's own error views (the URLconf's handler400/404/500): JSON under /api/, Django's
# pages elsewhere. They see errors raised outside DRF's views: an unknown path, a Host that
# is not allowed (DisallowedHost, a 400 raised by the middleware), an unhandled exception.


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        message = "host not allowed" if isinstance(exception, DisallowedHost) else "bad request"
        return JsonResponse({"error": message}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "not found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "internal server error"}, status=500)
    return defaults.server_error(request)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate and Retry-After headers, rollback) on the
    domain errors mapped to API errors, with the body in the ``{"error"}`` envelope."""
    exc = _as_api_exception(exc)
    response = views.exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        response.data = error_body(exc)
    return response
