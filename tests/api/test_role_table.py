"""The role table (tests/api/routes.py, what codeai.kernel.roles grants per route) covers every
route the URLconf serves under /api/v1/: a new route fails here until its least role is written
down (and so tested by test_routes.py)."""

from __future__ import annotations

from drf_spectacular.generators import EndpointEnumerator

from tests.api.routes import ROUTES, shape


def served_routes() -> set[tuple[str, str]]:
    return {
        (method, shape(path))
        for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints()
        if path.startswith("/api/v1/")
    }


def test_every_served_route_is_in_the_role_table():
    table = {(route.method, shape(route.path)) for route in ROUTES}
    assert served_routes() - table == set()


def test_the_table_names_only_served_routes():
    table = {(route.method, shape(route.path)) for route in ROUTES}
    assert table - served_routes() == set()
