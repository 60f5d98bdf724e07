"""What the worker asks of the database per execution: on PostgreSQL the claim and the finish
are one message each (lock, conditional move and the deployment's follow), plus the webhooks'
lookup after each move and the run's read of its row; the deployment follows as before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.models import Concurrency, DeploymentStatus
from executions import services
from executions.models import Execution, ExecutionStatus
from tests.conftest import uses_postgres

pytestmark = pytest.mark.django_db


def test_an_execution_is_five_round_trips_on_postgresql(
    make_deployment, django_capture_on_commit_callbacks
):
    if not uses_postgres():
        pytest.skip("the one-message moves are PostgreSQL's")
    deployment = make_deployment("exec { true }")
    execution = Execution.objects.create(deployment=deployment, config_snapshot="exec { true }")
    with CaptureQueriesContext(connection) as captured:
        # The test's transaction never commits: the moves' callbacks run as if it had.
        with django_capture_on_commit_callbacks(execute=True):
            claim = services.execution_claim(execution_id=execution.pk, worker="test")
            assert claim is services.ClaimResult.CLAIMED
        with django_capture_on_commit_callbacks(execute=True):
            services.execution_run(execution_id=str(execution.pk))
    queries = [query["sql"] for query in captured.captured_queries]
    # claim, webhooks, the run's row, finish, webhooks
    assert len(queries) == 5, "\n".join(queries)
    assert sum("FOR UPDATE" in query for query in queries) == 2
    execution.refresh_from_db()
    deployment.refresh_from_db()
    assert (execution.status, execution.exit_code) == (ExecutionStatus.SUCCEEDED, 0)
    assert execution.started_at <= execution.completed_at
    assert deployment.status == DeploymentStatus.COMPLETE


def test_the_deployment_stays_running_while_another_execution_runs(make_deployment):
    deployment = make_deployment("exec { true }")
    running = Execution.objects.create(deployment=deployment, config_snapshot="exec { true }")
    ending = Execution.objects.create(deployment=deployment, config_snapshot="exec { true }")
    for execution in (running, ending):
        claim = services.execution_claim(execution_id=execution.pk, worker="test")
        assert claim is services.ClaimResult.CLAIMED
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.RUNNING
    assert services.execution_finish(execution_id=ending.pk, status=ExecutionStatus.FAILED)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.RUNNING
    assert services.execution_finish(execution_id=running.pk, status=ExecutionStatus.SUCCEEDED)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.COMPLETE


def test_a_finish_stores_output_steps_and_truncation_in_its_one_write(make_deployment):
    deployment = make_deployment("exec { true }")
    execution = Execution.objects.create(deployment=deployment, output="first ")
    services.execution_claim(execution_id=execution.pk, worker="test")
    steps = [{"index": 1, "command": "true", "exit_code": 0}]
    assert services.execution_finish(
        execution_id=execution.pk,
        status=ExecutionStatus.SUCCEEDED,
        exit_code=0,
        output="second",
        truncated=True,
        steps=steps,
    )
    execution.refresh_from_db()
    assert (execution.output, execution.output_truncated, execution.steps) == (
        "first second",
        True,
        steps,
    )
    # A second finish (the sweep came first, say) changes nothing.
    assert not services.execution_finish(
        execution_id=execution.pk, status=ExecutionStatus.FAILED, output="late"
    )
    execution.refresh_from_db()
    assert (execution.status, execution.output) == (ExecutionStatus.SUCCEEDED, "first second")


def test_a_queue_deployment_takes_turns_and_releases_the_next(make_deployment):
    deployment = make_deployment("exec { true }", concurrency=Concurrency.QUEUE)
    first = Execution.objects.create(deployment=deployment)
    second = Execution.objects.create(deployment=deployment)
    assert services.execution_claim(execution_id=second.pk, worker="test") is (
        services.ClaimResult.WAITING
    )
    assert services.execution_claim(execution_id=first.pk, worker="test") is (
        services.ClaimResult.CLAIMED
    )
    assert services.execution_finish(execution_id=first.pk, status=ExecutionStatus.SUCCEEDED)
    second.refresh_from_db()
    assert second.released_at is not None
    assert services.execution_claim(execution_id=second.pk, worker="test") is (
        services.ClaimResult.CLAIMED
    )
