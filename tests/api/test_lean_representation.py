"""The lean representation (codeai.kernel.api.serializers.LeanRepresentation) and the one-query
deployment list give byte for byte the JSON DRF's own serializers give for rows the ORM loads
the ordinary way; and a list page is one query with its count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models import JSONField, OuterRef, Subquery
from rest_framework.renderers import JSONRenderer

from codeai.kernel.api.serializers import LeanRepresentation
from configs.models import Config
from configs.serializers import ConfigListSerializer, ConfigSerializer
from deployments.models import Deployment
from deployments.selectors import deployment_list
from deployments.services import deployment_create
from executions import selectors
from executions.models import Execution, ExecutionStatus
from executions.serializers import (
    DeploymentSerializer,
    ExecutionSerializer,
    ExecutionSummarySerializer,
)
from tests.api.conftest import VALID_CONTENT, make_execution

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


@pytest.fixture
def rows(config, deployment):
    """Deployments with no execution, a queued one, a finished one, and one without config;
    executions with every optional field empty and filled."""
    user = User.objects.create_user("starter", password="pw-starter")
    make_execution(deployment, status=ExecutionStatus.QUEUED)
    finished = deployment_create(name="finished", config=config)
    make_execution(
        finished, status=ExecutionStatus.SUCCEEDED, started_at=MOMENT.replace(microsecond=0)
    )
    make_execution(
        finished,
        status=ExecutionStatus.FAILED,
        exit_code=3,
        explanation="step 1 exited with 3",
        started_at=MOMENT,
        completed_at=MOMENT + timedelta(seconds=1, microseconds=5),
        triggered_by=user,
        output="x" * 10,
        steps=[{"index": 0, "command": "false", "exit_code": 3}],
        variables={"a": "b"},
    )
    deployment_create(name="never-ran", config=config)
    deployment_create(name="no-config", config=None)


def drf_bytes(serializer_class, instances, monkeypatch) -> bytes:
    with monkeypatch.context() as patch:
        patch.setattr(LeanRepresentation, "lean", False)
        return JSONRenderer().render(serializer_class(instances, many=True).data)


def lean_bytes(serializer_class, instances) -> bytes:
    assert LeanRepresentation.lean
    return JSONRenderer().render(serializer_class(instances, many=True).data)


def test_deployment_list_is_drf_s_json_of_the_ordinary_rows(rows, monkeypatch):
    # DRF's path on rows read the ordinary way: the deployments, then each one's newest
    # execution by its own query.
    expected = drf_bytes(DeploymentSerializer, list(deployment_list()), monkeypatch)

    got = lean_bytes(DeploymentSerializer, list(selectors.deployment_list_with_last_execution()))

    assert got == expected
    assert b'"last_execution":null' in got
    assert b'"exit_code":3' in got


def test_execution_shapes_are_drf_s_json(rows, monkeypatch):
    for serializer_class, queryset in (
        (ExecutionSummarySerializer, selectors.execution_summaries()),
        (ExecutionSerializer, selectors.execution_list()),
    ):
        instances = list(queryset)
        assert lean_bytes(serializer_class, instances) == drf_bytes(
            serializer_class, instances, monkeypatch
        )


def test_config_shapes_are_drf_s_json(rows, monkeypatch):
    Config.objects.create(name="broken", content="var x = \n")
    for serializer_class in (ConfigListSerializer, ConfigSerializer):
        instances = list(Config.objects.order_by("name"))
        assert lean_bytes(serializer_class, instances) == drf_bytes(
            serializer_class, instances, monkeypatch
        )


def test_the_api_answers_the_same_bytes_either_way(rows, client_for, monkeypatch):
    viewer = client_for("viewer")
    urls = ["/api/v1/deployments/", "/api/v1/executions/", "/api/v1/configs/"]
    lean = [viewer.get(url).content for url in urls]
    monkeypatch.setattr(LeanRepresentation, "lean", False)

    assert [viewer.get(url).content for url in urls] == lean


def test_a_page_and_its_count_are_one_query(rows, client_for, django_assert_num_queries):
    viewer = client_for("viewer")
    viewer.get("/api/v1/deployments/")  # the token's user and roles are now kept

    with django_assert_num_queries(1):
        body = viewer.get("/api/v1/deployments/?limit=2").json()

    assert (body["count"], len(body["data"])) == (4, 2)


@pytest.mark.parametrize(
    ("query", "count", "items"),
    [("offset=3", 4, 1), ("offset=4", 4, 0), ("offset=99", 4, 0), ("name=nothing", 0, 0)],
)
def test_count_past_the_last_row_and_of_an_empty_filter(rows, client_for, query, count, items):
    body = client_for("viewer").get(f"/api/v1/deployments/?{query}").json()

    assert (body["count"], len(body["data"])) == (count, items)


def test_a_deployment_s_last_execution_is_its_newest(config, client_for):
    deployment = deployment_create(name="many", config=config)
    for _ in range(3):
        make_execution(deployment, status=ExecutionStatus.SUCCEEDED)
    newest = make_execution(deployment, status=ExecutionStatus.RUNNING)
    Execution.objects.filter(pk=newest.pk).update(command=VALID_CONTENT)

    item = client_for("viewer").get("/api/v1/deployments/").json()["data"][0]

    assert item["last_execution"]["id"] == str(newest.pk)
    assert item["last_execution"]["command"] == VALID_CONTENT


def test_the_last_execution_row_inside_another_query(rows):
    # Nested, the deployments table gets another alias: the row's SQL is built for it.
    inner = selectors.deployment_list_with_last_execution().filter(pk=OuterRef("pk"))
    outer = Deployment.objects.annotate(
        nested=Subquery(inner.values("last_execution_row")[:1], output_field=JSONField())
    )
    direct = {d.pk: d.last_execution_row for d in selectors.deployment_list_with_last_execution()}

    assert {d.pk: d.nested for d in outer} == direct
    assert sum(row is not None for row in direct.values()) == 2


def test_a_last_execution_loads_only_its_summary_columns(rows, django_assert_num_queries):
    deployments = list(selectors.deployment_list_with_last_execution())
    executions = [
        selectors.deployment_last_execution(deployment)
        for deployment in deployments
        if deployment.last_execution_row is not None
    ]
    summary_columns = set(Execution.SUMMARY_FIELDS)
    others = {field.attname for field in Execution._meta.concrete_fields} - summary_columns

    with django_assert_num_queries(0):
        summaries = ExecutionSummarySerializer(executions, many=True).data
    assert len(summaries) == 2
    assert all(execution.get_deferred_fields() == others for execution in executions)
    stored = Execution.objects.get(pk=executions[0].pk).output
    with django_assert_num_queries(1):  # any other column loads on access, as deferred ones do
        assert executions[0].output == stored


def test_an_execution_with_steps_and_variables_is_written_without_building_fields(rows):
    # Its steps (a nested serializer) and variables (a dict) are read by the compiled
    # instance's fields too: a new serializer never builds its own (DRF's per-request cost).
    execution = selectors.execution_list().get(exit_code=3)
    serializer = ExecutionSerializer(execution)

    data = serializer.data

    assert "fields" not in serializer.__dict__
    assert data["variables"] == {"a": "b"}
    assert data["steps"] == [
        {"index": 0, "command": "false", "exit_code": 3, "started_at": None, "duration_ms": None}
    ]


@pytest.fixture
def moments(config):
    """Finished executions whose moments have every kind of fraction PostgreSQL writes
    (none, trailing zeros dropped, one digit, six), one a relaunch of another."""
    fractions = [0, 1, 10, 100_000, 120_000, 123_400, 999_999, 500]
    first = None
    for number, microsecond in enumerate(fractions):
        deployment = deployment_create(name=f"moments-{number}", config=config)
        started = MOMENT.replace(microsecond=microsecond) + timedelta(days=number)
        execution = make_execution(
            deployment,
            status=ExecutionStatus.SUCCEEDED,
            exit_code=0,
            started_at=started,
            completed_at=started + timedelta(milliseconds=29, microseconds=fractions[-number]),
        )
        if first is None:
            first = execution
        else:
            Execution.objects.filter(pk=execution.pk).update(relaunch_of=first)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_a_last_execution_written_from_its_row_is_drf_s_json(moments, monkeypatch, zone):
    from django.utils import timezone

    with timezone.override(zone):
        expected = drf_bytes(DeploymentSerializer, list(deployment_list()), monkeypatch)
        got = lean_bytes(
            DeploymentSerializer, list(selectors.deployment_list_with_last_execution())
        )

    assert got == expected
    assert got.count(b'"relaunch_of":"') == 7


def test_a_last_execution_row_is_written_without_making_its_execution(moments, monkeypatch):
    from executions import serializers as execution_serializers

    assert execution_serializers._row_shape_matches(ExecutionSummarySerializer)

    def made(*args):
        raise AssertionError("an execution was made of the row")

    monkeypatch.setattr(selectors, "execution_from_row", made)
    data = DeploymentSerializer(selectors.deployment_list_with_last_execution(), many=True).data

    assert sum(item["last_execution"] is not None for item in data) == 8
