"""Client input that used to escape the serializers and fail deeper (500, 503) is a 400."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from executions.models import Execution
from tests.api.conftest import make_user

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/api/v1/configs/", DEEP, "JSON parse error - nested too deeply"),
        (
            "/api/v1/configs/",
            '{"name": "\\ud800", "content": "x"}',
            "JSON parse error - a string holds an unpaired surrogate",
        ),
        (
            "/api/v1/configs/validate/",
            '{"content": "var x = \\"\\udfff\\"\\n"}',
            "JSON parse error - a string holds an unpaired surrogate",
        ),
        (
            "/api/v1/deployments/{deployment}/execute/",
            '{"variables": {"x": "\\ud800"}}',
            "JSON parse error - a string holds an unpaired surrogate",
        ),
        (
            "/api/v1/deployments/{deployment}/execute/",
            '{"variables": {"x": 1e400}}',
            "JSON parse error - a number is too large",
        ),
        (
            "/api/v1/deployments/{deployment}/execute/",
            '{"variables": {"x": NaN}}',
            "JSON parse error - Out of range float values are not JSON compliant: 'NaN'",
        ),
    ],
    ids=["deep", "surrogate-name", "surrogate-content", "surrogate-variable", "inf", "nan"],
)
def test_bodies_that_cannot_be_stored_are_400(admin_client, deployment, path, body, error):
    response = admin_client.generic(
        "POST", path.format(deployment=deployment.pk), body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert not Execution.objects.exists()


def test_output_offset_beyond_any_integer_is_not_an_error(client_for, execution):
    response = client_for("viewer").get(
        f"/api/v1/executions/{execution.pk}/output/?offset={'9' * 40}"
    )

    assert response.status_code == 200
    assert response.json()["output"] == ""


def test_form_bodies_are_415(admin_client, db):
    response = admin_client.post(
        "/api/v1/configs/", {"name": "x", "content": "y"}, format="multipart"
    )

    assert response.status_code == 415
    assert response.json()["error"].startswith("Unsupported media type")


@pytest.mark.parametrize("user_id", [[1], {"id": 1}, True, 10**30, "not-a-number"])
def test_signed_token_with_a_malformed_user_id_is_401(db, user_id):
    token = jwt.encode(
        {"user_id": user_id, "token_type": "access", "exp": 4_000_000_000},
        settings.JWT_HMAC_KEY,
        algorithm="HS256",
    )

    response = APIClient().get("/api/v1/configs/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/v2/configs/", "/api/v1/nothing/", "/api/v1/configs/a/b/"])
def test_unknown_api_paths_are_json_404(path, db):
    response = APIClient().get(path)

    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_session_writes_need_the_csrf_token(db):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("editor"))

    response = client.post("/api/v1/configs/", {"name": "x", "content": "y"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"].startswith("CSRF Failed")
