"""Cross-cutting HTTP behaviour: throttles, CORS, the production check of the token secret."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from codeai.kernel import conf
from tests.api.conftest import run_fresh


@pytest.fixture
def strict_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/min", "user": "3/min", "auth": "2/min"},
    }


def test_token_endpoint_is_throttled_per_client(strict_rates, db):
    client = APIClient()
    answers = [
        client.post("/api/auth/token/", {"username": "x", "password": "y"}, format="json")
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert answers[-1].json()["error"].startswith("too many requests")
    assert int(answers[-1]["Retry-After"]) > 0


def test_users_are_throttled_by_user(strict_rates, client_for):
    viewer = client_for("viewer")

    codes = [viewer.get("/api/v1/configs/").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    assert client_for("editor").get("/api/v1/configs/").status_code == 200


def test_cors_preflight_for_a_configured_origin(settings, db):
    settings.CORS_ALLOWED_ORIGINS = ["https://ui.example"]

    allowed = APIClient().options(
        "/api/v1/configs/",
        HTTP_ORIGIN="https://ui.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )
    other = APIClient().options(
        "/api/v1/configs/",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    assert allowed["Access-Control-Max-Age"] == "86400"
    assert "Access-Control-Allow-Origin" not in other


def test_cors_settings_come_from_the_codeai_variables():
    loaded = conf.load(
        {
            "CODEAI_CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "CODEAI_CORS_MAX_AGE": "600",
        },
        yaml_files=(),
    )

    assert loaded["CODEAI_CORS_ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert loaded["CODEAI_CORS_MAX_AGE"] == 600


@pytest.mark.parametrize(
    ("environ", "refused"),
    [
        ({"CODEAI_JWT_SECRET": "too-short"}, True),
        ({"CODEAI_JWT_SECRET": "é" * 16}, False),  # 32 bytes in UTF-8
        ({"CODEAI_JWT_SECRET": "too-short", "CODEAI_DEBUG": "true"}, False),
        ({}, False),  # local tokens are signed with the long SECRET_KEY
    ],
)
def test_production_refuses_a_short_hs256_secret(environ, refused):
    problems = conf.start_problems(conf.load(environ, yaml_files=()))

    assert problems == (
        [
            "CODEAI_JWT_SECRET='****' is not valid: expected a secret of at least 32 bytes "
            "(HS256) when CODEAI_DEBUG is off"
        ]
        if refused
        else []
    )


def test_start_stops_with_one_line_for_a_short_secret(tmp_path):
    result = run_fresh(["manage.py", "check"], tmp_path, CODEAI_JWT_SECRET="short")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "configuration error: CODEAI_JWT_SECRET='****' is not valid: expected a secret of at "
        "least 32 bytes (HS256) when CODEAI_DEBUG is off"
    )
    assert "short" not in result.stderr.replace("CODEAI_JWT_SECRET", "")
