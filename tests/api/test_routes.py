"""Every route, every kind of caller: anonymous 401, lacking role 403, enough role 2xx;
ids that are malformed or unknown 404; bodies that are not JSON objects 400."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from codeai.kernel.roles import ROLES
from configs.services import config_create
from deployments.services import deployment_create
from schedules.services import schedule_create
from tests.api.conftest import CALLERS, VALID_CONTENT, make_user
from tests.api.routes import DETAIL_ROUTES, ROUTES, WRITE_ROUTES, Route
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_create

THINGS = {
    "configs": "config",
    "deployments": "deployment",
    "executions": "execution",
    "webhooks": "webhook",
    "deliveries": "delivery",
}


@pytest.fixture
def api_objects(deployment, execution) -> dict[str, Any]:
    webhook = webhook_create(url="http://127.0.0.1:9/hook", secret="route-secret")
    return {
        "config": deployment.config,
        "unused_config": config_create(name="unused", content=VALID_CONTENT),
        "deployment": deployment,
        "idle_deployment": deployment_create(name="idle"),
        "execution": execution,
        "webhook": webhook,
        "delivery": WebhookDelivery.objects.create(
            webhook=webhook, event="webhook.test", completed_at=timezone.now()
        ),
        "schedule": schedule_create(deployment=deployment, cron_spec="0 2 * * *"),
        # The path names revisions by number: the config's first one.
        "revision": SimpleNamespace(pk=1),
    }


def call(client, route: Route, url: str, body: Any = None):
    return client.generic(
        route.method,
        url,
        data=None if body is None else body,
        content_type="application/json",
    )


def expected_status(route: Route, caller: str) -> int:
    if caller == "anonymous":
        return 401
    allowed = caller in ROLES and ROLES.index(caller) >= ROLES.index(route.role)
    return route.status if allowed else 403


@pytest.mark.parametrize("caller", ["anonymous", *CALLERS])
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_route_answers_by_role(route, caller, client_for, api_objects):
    body = None if route.body is None else json.dumps(route.body)
    response = call(client_for(caller), route, route.url(api_objects), body)

    assert response.status_code == expected_status(route, caller), response.content
    if response.status_code != 204:
        assert response["Content-Type"] == "application/json"
    if response.status_code == 401:
        assert response.json() == {"error": "authentication required"}
        assert response["WWW-Authenticate"].startswith("Bearer")
    if response.status_code == 403:
        assert response.json() == {"error": "insufficient permissions"}


def _body(route: Route) -> str | None:
    return None if route.body is None else json.dumps(route.body)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_route_answers_without_the_trailing_slash(route, client_for, api_objects):
    response = call(
        client_for(route.role), route, route.url(api_objects, slash=False), _body(route)
    )

    assert response.status_code == route.status, response.content


def _thing_of(route: Route) -> str:
    # The object the path's first id names (every id is missing, the outer one is looked up
    # first): /deployments/{d}/executions/ and /deployments/{d}/schedules/{s}/ need the
    # deployment, /webhooks/deliveries/{d}/retry/ a delivery.
    parts = route.path.split("/")
    first_id = min(index for index, part in enumerate(parts) if part.startswith("{"))
    return THINGS[parts[first_id - 1]]


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", str(uuid.uuid4())])
@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_malformed_or_unknown_id_is_404(route, bad_id, admin_client, api_objects):
    url = route.url({name: type("Missing", (), {"pk": bad_id}) for name in api_objects})

    response = call(admin_client, route, url, _body(route))

    assert response.status_code == 404
    assert response.json() == {"error": f"{_thing_of(route)} not found"}


@pytest.mark.parametrize(
    "raw_body",
    ["[]", '"text"', "42", "null", "{not json", '{"a": 1'],
    ids=["list", "string", "number", "null", "malformed", "truncated"],
)
@pytest.mark.parametrize("route", WRITE_ROUTES, ids=str)
def test_body_that_is_not_a_json_object_is_400(route, raw_body, admin_client, api_objects):
    response = call(admin_client, route, route.url(api_objects), raw_body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "GET"], ids=str)
def test_browsable_api_renders_every_resource_for_a_session_login(route, api_objects):
    client = APIClient()
    client.force_login(make_user("admin"))

    response = client.get(route.url(api_objects), HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
