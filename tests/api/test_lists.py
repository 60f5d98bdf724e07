"""Lists: the envelope, newest first, limit/offset defaults and caps, filters, ordering, and a
query count that does not grow with the rows."""

from __future__ import annotations

import pytest

from configs.services import config_create
from deployments.models import DeploymentStatus
from deployments.services import deployment_create
from executions.models import ExecutionStatus
from tests.api.conftest import SCOPE_ERROR_CONTENT, VALID_CONTENT, make_execution

DEPLOYMENTS = "/api/v1/deployments/?"
LIST_URLS = ("/api/v1/configs/", "/api/v1/deployments/", "/api/v1/executions/")


@pytest.fixture
def viewer(client_for):
    return client_for("viewer")


def make_configs(count: int) -> list:
    return [
        config_create(name=f"config-{index:03}", content=VALID_CONTENT) for index in range(count)
    ]


def add_rows(count: int, *, prefix: str, watched) -> None:
    """``count`` configs, deployments with two executions each, and ``count`` executions
    of the ``watched`` deployment."""
    for index in range(count):
        config = config_create(name=f"{prefix}-{index}", content=VALID_CONTENT)
        deployment = deployment_create(name=f"{prefix}-{index}", config=config)
        make_execution(deployment, status=ExecutionStatus.SUCCEEDED)
        make_execution(deployment, status=ExecutionStatus.RUNNING)
        make_execution(watched)


def names(client, url: str) -> list[str]:
    return [item["name"] for item in client.get(url).json()["data"]]


def test_envelope_and_newest_first(viewer):
    make_configs(3)

    body = viewer.get("/api/v1/configs/").json()

    assert set(body) == {"data", "count", "limit", "offset", "next", "previous"}
    assert body["count"] == 3
    assert (body["limit"], body["offset"], body["next"], body["previous"]) == (20, 0, None, None)
    assert [item["name"] for item in body["data"]] == ["config-002", "config-001", "config-000"]


@pytest.mark.parametrize(
    ("query", "limit", "offset", "rows"),
    [
        ("", 20, 0, 20),
        ("?limit=5&offset=3", 5, 3, 5),
        ("?limit=1000", 100, 0, 25),
        ("?limit=abc&offset=xyz", 20, 0, 20),
        ("?limit=-3&offset=-7", 20, 0, 20),
        ("?limit=0", 20, 0, 20),
        ("?offset=24", 20, 24, 1),
        ("?offset=99999", 20, 99999, 0),
        # The edge of what the databases take: at it, and past it (read as it).
        (f"?offset={2**62}", 20, 2**62, 0),
        (f"?offset={2**62 + 1}", 20, 2**62, 0),
        ("?offset=145221818439693436925669597078986575605", 20, 2**62, 0),
    ],
)
def test_limit_and_offset_fall_back_and_cap_never_400(viewer, query, limit, offset, rows):
    make_configs(25)

    response = viewer.get(f"/api/v1/configs/{query}")

    assert response.status_code == 200
    body = response.json()
    assert (body["limit"], body["offset"], len(body["data"]), body["count"]) == (
        limit,
        offset,
        rows,
        25,
    )


def test_next_and_previous_links(viewer):
    make_configs(5)

    body = viewer.get("/api/v1/configs/?limit=2&offset=2").json()

    assert body["next"].endswith("/api/v1/configs/?limit=2&offset=4")
    assert body["previous"].endswith("/api/v1/configs/?limit=2")


def test_configs_filter_by_name_search_and_validity(viewer):
    config_create(name="frontend", content=VALID_CONTENT)
    config_create(name="backend", content=SCOPE_ERROR_CONTENT)

    assert names(viewer, "/api/v1/configs/?name=front") == ["frontend"]
    assert names(viewer, "/api/v1/configs/?search=missing") == ["backend"]
    assert names(viewer, "/api/v1/configs/?is_valid=true") == ["frontend"]
    assert names(viewer, "/api/v1/configs/?is_valid=false") == ["backend"]


def test_deployments_filter_by_status_config_and_name(viewer, deployment):
    other = deployment_create(name="other")
    other.status = DeploymentStatus.FAILED
    other.save()

    assert names(viewer, DEPLOYMENTS + "status=failed") == ["other"]
    assert names(viewer, DEPLOYMENTS + f"config={deployment.config_id}") == ["web-prod"]
    assert names(viewer, DEPLOYMENTS + "name=prod") == ["web-prod"]
    assert names(viewer, DEPLOYMENTS + "search=oth") == ["other"]


def test_executions_filter_by_status_and_deployment(viewer, deployment):
    other = deployment_create(name="other", config=deployment.config)
    failed = make_execution(deployment, status=ExecutionStatus.FAILED)
    make_execution(other, status=ExecutionStatus.SUCCEEDED)

    def ids(url: str) -> list[str]:
        return [item["id"] for item in viewer.get(url).json()["data"]]

    assert ids("/api/v1/executions/?status=failed") == [str(failed.pk)]
    assert ids(f"/api/v1/executions/?deployment={deployment.pk}") == [str(failed.pk)]
    assert ids(f"/api/v1/deployments/{deployment.pk}/executions/") == [str(failed.pk)]
    assert ids(f"/api/v1/deployments/{deployment.pk}/executions/?status=succeeded") == []


@pytest.mark.parametrize(
    "query",
    ["status=bogus", "config=not-a-uuid", "name=%00", "search=%00"],
    ids=["choice", "uuid", "nul-name", "nul-search"],
)
def test_invalid_filter_values_are_400(viewer, db, query):
    response = viewer.get(f"/api/v1/deployments/?{query}")

    assert response.status_code == 400
    assert response.json()["error"] == "validation failed"


def test_ordering(viewer):
    make_configs(3)

    ascending = viewer.get("/api/v1/configs/?ordering=name").json()["data"]
    unknown = viewer.get("/api/v1/configs/?ordering=content_secret").json()["data"]

    assert [item["name"] for item in ascending] == ["config-000", "config-001", "config-002"]
    assert [item["name"] for item in unknown] == ["config-002", "config-001", "config-000"]


@pytest.mark.parametrize("url", [*LIST_URLS, "/api/v1/deployments/{id}/executions/"])
def test_query_count_does_not_grow_with_rows(
    viewer, django_assert_max_num_queries, url, deployment
):
    url = url.format(id=deployment.pk)
    add_rows(2, prefix="few", watched=deployment)
    with django_assert_max_num_queries(6) as with_few_rows:
        assert viewer.get(url).status_code == 200

    add_rows(20, prefix="many", watched=deployment)
    with django_assert_max_num_queries(len(with_few_rows.captured_queries)):
        response = viewer.get(f"{url}?limit=100")

    assert response.status_code == 200
    assert len(response.json()["data"]) > 20
