"""Every route of the API with the least role that may call it and its success status.

Path placeholders name objects of the ``api_objects`` fixture (tests/api/test_routes.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from codeai.kernel.roles import ADMIN, EDITOR, VIEWER
from tests.api.conftest import VALID_CONTENT


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    role: str
    status: int
    body: dict[str, Any] | None = field(default=None)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, objects: dict[str, Any], *, slash: bool = True) -> str:
        url = self.path.format(**{name: obj.pk for name, obj in objects.items()})
        return url if slash else url.rstrip("/")


ROUTES = (
    Route("GET", "/api/v1/configs/", VIEWER, 200),
    Route("POST", "/api/v1/configs/", EDITOR, 201, {"name": "new", "content": VALID_CONTENT}),
    Route("GET", "/api/v1/configs/{config}/", VIEWER, 200),
    Route("PUT", "/api/v1/configs/{config}/", EDITOR, 200, {"name": "b", "content": "var y = 2\n"}),
    Route("PATCH", "/api/v1/configs/{config}/", EDITOR, 200, {"name": "renamed"}),
    Route("DELETE", "/api/v1/configs/{unused_config}/", EDITOR, 204),
    Route("POST", "/api/v1/configs/{config}/validate/", VIEWER, 200, {}),
    Route("POST", "/api/v1/configs/validate/", VIEWER, 200, {"content": VALID_CONTENT}),
    Route("GET", "/api/v1/configs/{config}/revisions/", VIEWER, 200),
    Route("GET", "/api/v1/configs/{config}/revisions/{revision}/", VIEWER, 200),
    Route("GET", "/api/v1/deployments/", VIEWER, 200),
    Route("POST", "/api/v1/deployments/", EDITOR, 201, {"name": "new-deployment"}),
    Route("GET", "/api/v1/deployments/{deployment}/", VIEWER, 200),
    Route("PUT", "/api/v1/deployments/{deployment}/", ADMIN, 200, {"name": "renamed"}),
    Route("PATCH", "/api/v1/deployments/{deployment}/", ADMIN, 200, {"config_id": None}),
    Route("DELETE", "/api/v1/deployments/{idle_deployment}/", ADMIN, 204),
    Route("POST", "/api/v1/deployments/{deployment}/execute/", EDITOR, 202, {}),
    Route("GET", "/api/v1/deployments/{deployment}/executions/", VIEWER, 200),
    Route("GET", "/api/v1/deployments/{deployment}/schedules/", VIEWER, 200),
    Route(
        "POST",
        "/api/v1/deployments/{deployment}/schedules/",
        EDITOR,
        201,
        {"cron_spec": "0 2 * * *"},
    ),
    Route("GET", "/api/v1/deployments/{deployment}/schedules/{schedule}/", VIEWER, 200),
    Route(
        "PUT",
        "/api/v1/deployments/{deployment}/schedules/{schedule}/",
        EDITOR,
        200,
        {"cron_spec": "30 3 * * *", "timezone": "Europe/Paris"},
    ),
    Route(
        "PATCH",
        "/api/v1/deployments/{deployment}/schedules/{schedule}/",
        EDITOR,
        200,
        {"enabled": False},
    ),
    Route("DELETE", "/api/v1/deployments/{deployment}/schedules/{schedule}/", EDITOR, 204),
    Route("GET", "/api/v1/executions/", VIEWER, 200),
    Route("GET", "/api/v1/executions/{execution}/", VIEWER, 200),
    Route("GET", "/api/v1/executions/{execution}/output/", VIEWER, 200),
    Route("POST", "/api/v1/executions/{execution}/cancel/", EDITOR, 202),
    Route("GET", "/api/v1/webhooks/", ADMIN, 200),
    Route("POST", "/api/v1/webhooks/", ADMIN, 201, {"url": "http://127.0.0.1:9/hook"}),
    Route("GET", "/api/v1/webhooks/{webhook}/", ADMIN, 200),
    Route("PUT", "/api/v1/webhooks/{webhook}/", ADMIN, 200, {"url": "https://example.com/h"}),
    Route("PATCH", "/api/v1/webhooks/{webhook}/", ADMIN, 200, {"active": False}),
    Route("DELETE", "/api/v1/webhooks/{webhook}/", ADMIN, 204),
    Route("GET", "/api/v1/webhooks/{webhook}/deliveries/", ADMIN, 200),
    Route("POST", "/api/v1/webhooks/{webhook}/test/", ADMIN, 202),
    Route("POST", "/api/v1/webhooks/deliveries/{delivery}/retry/", ADMIN, 202),
    Route("POST", "/api/v1/executions/{execution}/relaunch/", EDITOR, 202, {}),
)

DETAIL_ROUTES = tuple(route for route in ROUTES if "{" in route.path)
WRITE_ROUTES = tuple(route for route in ROUTES if route.body is not None)


def shape(path: str) -> str:
    """A path whatever its placeholders are named: ``/api/v1/configs/{config}/`` and
    ``/api/v1/configs/{id}`` -> ``/api/v1/configs/{}``."""
    return re.sub(r"\{[^}]+\}", "{}", path).rstrip("/")
