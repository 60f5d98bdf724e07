"""The role table (tests/api/routes.py, what codeai.kernel.roles grants per route) covers every
route the URLconf serves under /api/v1/: a new route fails here until its least role is written
down (and so tested by test_routes.py)."""

from __future__ import annotations

import re

from drf_spectacular.generators import EndpointEnumerator

from tests.api.routes import ROUTES


def _shape(path: str) -> str:
    """``/api/v1/configs/{config}/`` and ``/api/v1/configs/{id}`` -> ``/api/v1/configs/{}``."""
    return re.sub(r"\{[^}]+\}", "{}", path).rstrip("/")


def served_routes() -> set[tuple[str, str]]:
    return {
        (method, _shape(path))
        for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints()
        if path.startswith("/api/v1/")
    }


def test_every_served_route_is_in_the_role_table():
    table = {(route.method, _shape(route.path)) for route in ROUTES}
    assert served_routes() - table == set()


def test_the_table_names_only_served_routes():
    table = {(route.method, _shape(route.path)) for route in ROUTES}
    assert table - served_routes() == set()
