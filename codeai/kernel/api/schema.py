"""OpenAPI helpers: the error envelope and the error responses every operation documents."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error", fields={"error": serializers.CharField(help_text="What went wrong.")}
)
ValidationFailedSerializer = inline_serializer(
    name="ValidationFailed",
    fields={
        "error": serializers.CharField(help_text='"validation failed"'),
        "details": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Messages per JSON field of the request body (absent when the body "
            "is not JSON at all).",
        ),
    },
)

# Operations with a request body: invalid content, too large, or not sent as JSON.
BODY_ERRORS = (400, 413, 415)

_ERRORS: dict[int, tuple[Any, str]] = {
    400: (ValidationFailedSerializer, "The body is not a JSON object or a field is invalid."),
    401: (
        ErrorSerializer,
        "No credentials, or the token is expired, forged or for another issuer or audience.",
    ),
    403: (ErrorSerializer, "The user lacks the role this operation needs."),
    404: (ErrorSerializer, "No such object (or the id is not a UUID)."),
    409: (ErrorSerializer, "The operation conflicts with the current state."),
    413: (
        ErrorSerializer,
        "The body is over CODEAI_MAX_REQUEST_BYTES, or a config's content over "
        "CODEAI_MAX_CONFIG_BYTES; the error says the limit. Nothing is stored.",
    ),
    415: (ErrorSerializer, "The body is not sent as application/json."),
    429: (ErrorSerializer, "Too many requests; retry after the Retry-After seconds."),
    503: (ErrorSerializer, "A dependency (database, broker) is unavailable; retry later."),
}


def error_responses(*codes: int, **descriptions: str | None) -> dict[int, OpenApiResponse]:
    """Documented errors: 401, 403 and 429 always, plus ``codes``.

    ``descriptions`` overrides the text of one code, keyed ``e409="..."``."""
    responses = {}
    for code in sorted({401, 403, 429, *codes}):
        serializer, description = _ERRORS[code]
        description = descriptions.get(f"e{code}") or description
        responses[code] = OpenApiResponse(serializer, description=description)
    return responses


def list_responses(serializer: type[serializers.Serializer], *codes: int) -> dict[int, Any]:
    """A paginated list; 400 is a filter with a value of the wrong kind (?status=bogus)."""
    return {
        200: serializer(many=True),
        **error_responses(400, *codes, e400="A filter has an invalid value."),
    }


def resource_schema(
    serializer: type[serializers.Serializer],
    *,
    summaries: dict[str, str],
    write_conflict: str | None = None,
    delete_conflict: str | None = None,
    list_serializer: type[serializers.Serializer] | None = None,
) -> Any:
    """Documents list, create, retrieve, update, partial_update and destroy of a resource;
    ``write_conflict`` says why a write may be 409, ``delete_conflict`` why a delete may (none:
    a delete is never 409),
    ``list_serializer`` is the shape of list items when it differs from ``serializer``."""
    write_errors = (*BODY_ERRORS, 409) if write_conflict else BODY_ERRORS
    delete_errors = (404, 409) if delete_conflict else (404,)

    def operation(action: str, responses: dict[int, Any]) -> Any:
        return extend_schema(summary=summaries[action], responses=responses)

    return extend_schema_view(
        list=operation("list", list_responses(list_serializer or serializer)),
        create=operation(
            "create", {201: serializer, **error_responses(*write_errors, e409=write_conflict)}
        ),
        retrieve=operation("retrieve", {200: serializer, **error_responses(404)}),
        update=operation(
            "update", {200: serializer, **error_responses(*write_errors, 404, e409=write_conflict)}
        ),
        partial_update=operation(
            "partial_update",
            {200: serializer, **error_responses(*write_errors, 404, e409=write_conflict)},
        ),
        destroy=operation(
            "destroy", {204: None, **error_responses(*delete_errors, e409=delete_conflict)}
        ),
    )


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "codeai.kernel.api.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
