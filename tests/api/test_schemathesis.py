"""Property-based run of every operation in /api/schema/ (schemathesis, bounded): no 5xx, and
every response matches the documented status codes, content type and schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from codeai.wsgi import application
from configs.services import config_create
from deployments.services import deployment_create
from tests.api.conftest import VALID_CONTENT, make_execution, make_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db):
    deployment = deployment_create(
        name="seed", config=config_create(name="seed", content=VALID_CONTENT)
    )
    make_execution(deployment, output="seed output\n")
    # Like Django's test client: the test's transaction must outlive each request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def admin_headers(db) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(make_user('admin'))}"}


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, admin_headers):
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
