"""The OpenAPI schema: renders without warnings, documents every route and its errors, and
the docs page loads its assets from this server."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.api.routes import ROUTES


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_renders_with_no_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))


# The schema's name of a path parameter that is not the object's id.
PATH_PARAMETERS = {"{revision}": "{number}"}


def _path_key(route_path: str) -> str:
    segments = [
        PATH_PARAMETERS.get(part, "{id}") if part.startswith("{") else part
        for part in route_path.split("/")
    ]
    return "/".join(segments)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_is_documented_with_its_errors(schema, route):
    operation = schema["paths"][_path_key(route.path)][route.method.lower()]

    codes = set(operation["responses"])
    assert str(route.status) in codes
    assert {"401", "403"} <= codes
    if "{" in route.path:
        assert "404" in codes
    if route.body is not None:
        assert "400" in codes
    assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]


def test_token_endpoints_are_documented(schema):
    for path in ("/api/auth/token/", "/api/auth/token/refresh/", "/api/auth/token/verify/"):
        assert {"200", "400", "401"} <= set(schema["paths"][path]["post"]["responses"])


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema", "/api/docs/", "/api/docs"])
def test_schema_and_docs_are_public(path, db):
    assert APIClient().get(path).status_code == 200


def test_docs_assets_are_served_locally(db):
    page = APIClient().get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()
    assert (
        APIClient()
        .get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
        .status_code
        == 200
    )
