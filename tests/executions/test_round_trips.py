"""What the worker asks of the database per execution: on PostgreSQL the claim and the finish
are one message each (lock, conditional move and the deployment's follow, and the readers
of the apps above: the webhooks' candidates); the claim returns what the run reads; the
deployment follows as before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from codeai.kernel.exceptions import Conflict
from deployments.models import Concurrency, DeploymentStatus
from executions import services
from executions.models import Execution, ExecutionStatus
from tests.conftest import uses_postgres

pytestmark = pytest.mark.django_db


def test_an_execution_is_two_round_trips_on_postgresql(
    make_deployment, django_capture_on_commit_callbacks
):
    if not uses_postgres():
        pytest.skip("the one-message moves are PostgreSQL's")
    deployment = make_deployment("exec { true }")
    execution = Execution.objects.create(deployment=deployment, config_snapshot="exec { true }")
    # The test's transaction never commits: the moves' callbacks run as if it had.
    with (
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),
    ):
        claim = services.execution_claim_and_run(execution_id=execution.pk, worker="test")
    assert claim is services.ClaimResult.CLAIMED
    queries = [query["sql"] for query in captured.captured_queries]
    # claim (which returns what the run reads) and finish, each with the webhooks' lookup
    assert len(queries) == 2, "\n".join(queries)
    assert all("FOR NO KEY UPDATE" in query for query in queries)
    assert all('FROM "webhooks_webhook"' in query for query in queries)
    execution.refresh_from_db()
    deployment.refresh_from_db()
    assert (execution.status, execution.exit_code) == (ExecutionStatus.SUCCEEDED, 0)
    assert execution.started_at <= execution.completed_at
    assert deployment.status == DeploymentStatus.COMPLETE


@pytest.mark.parametrize("concurrency", [Concurrency.PARALLEL, Concurrency.QUEUE])
def test_a_claimed_run_has_its_text_variables_and_deployment_s_timeout(
    make_deployment, concurrency
):
    # From the claim's own row on PostgreSQL (parallel), read by the run otherwise.
    deployment = make_deployment(
        "print(greeting)\nexec { sleep 5 }", timeout_seconds=1, concurrency=concurrency
    )
    execution = Execution.objects.create(
        deployment=deployment,
        config_snapshot="print(greeting)\nexec { sleep 5 }",
        variables={"greeting": "hello"},
    )

    claim = services.execution_claim_and_run(execution_id=execution.pk, worker="test")

    assert claim is services.ClaimResult.CLAIMED
    execution.refresh_from_db()
    assert (execution.status, execution.output) == (ExecutionStatus.TIMED_OUT, "hello\n")
    assert execution.explanation == "timed out after 1 s in step 1"
    assert execution.worker == "test"


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


def test_a_parallel_deployment_s_execution_is_locked_and_inserted_in_one_message(
    make_deployment, alice
):
    if not uses_postgres():
        pytest.skip("the one-message creation is PostgreSQL's")
    deployment = make_deployment("print(greeting)")
    with CaptureQueriesContext(connection) as captured:
        execution = services.deployment_execute(
            deployment=deployment, user=alice, variables={"greeting": 'it\'s "quoted" ✓'}
        )
    queries = [query["sql"] for query in captured.captured_queries]
    # The text's revision, then the insert with its share lock in one statement.
    creations = [query for query in queries if "INSERT INTO" in query]
    assert len(creations) == 1, "\n".join(queries)
    assert "FOR KEY SHARE" in creations[0]
    # The row holds exactly the instance the service returned, as the ORM would store it.
    stored = Execution.objects.get(pk=execution.pk)
    for field in Execution._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(execution, field.attname), field.name
    assert (stored.status, stored.triggered_by_name) == (ExecutionStatus.QUEUED, "alice")
    assert stored.variables == {"greeting": 'it\'s "quoted" ✓'}
    assert not execution._state.adding


@pytest.mark.parametrize("concurrency", [Concurrency.REFUSE, Concurrency.QUEUE])
def test_other_concurrencies_are_admitted_by_the_orm_s_path(make_deployment, alice, concurrency):
    deployment = make_deployment("exec { true }", concurrency=concurrency)
    first = services.deployment_execute(deployment=deployment, user=alice)
    if concurrency == Concurrency.REFUSE:
        with pytest.raises(Conflict, match="runs one execution at a time"):
            services.deployment_execute(deployment=deployment, user=alice)
        assert list(Execution.objects.values_list("pk", flat=True)) == [first.pk]
    else:
        second = services.deployment_execute(deployment=deployment, user=alice)
        assert first.released_at is not None
        assert second.released_at is None


def test_the_moves_are_volatile_pl_pgsql_functions(make_deployment):
    # Each statement of a VOLATILE function reads a fresh snapshot: the move sees every move
    # of the deployment's executions committed before the lock was granted.
    if not uses_postgres():
        pytest.skip("the move functions are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, l.lanname, p.provolatile FROM pg_proc AS p"
            " JOIN pg_language AS l ON l.oid = p.prolang"
            " WHERE p.proname IN ('executions_claim', 'executions_finish') ORDER BY 1"
        )
        assert cursor.fetchall() == [
            ("executions_claim", "plpgsql", "v"),
            ("executions_finish", "plpgsql", "v"),
        ]
    deployment = make_deployment("exec { true }")
    execution = Execution.objects.create(deployment=deployment, config_snapshot="exec { true }")
    with CaptureQueriesContext(connection) as captured:
        assert services.execution_claim(execution_id=execution.pk, worker="w 1") is (
            services.ClaimResult.CLAIMED
        )
        assert services.execution_heartbeat(
            execution_id=execution.pk, output="one\n", truncated=True, steps=[{"index": 1}]
        )
        assert services.execution_finish(
            execution_id=execution.pk,
            status=ExecutionStatus.FAILED,
            exit_code=3,
            explanation="exit code 3 in step 1",
            output="two\n",
        )
    moves = [
        query["sql"] for query in captured.captured_queries if "FOR NO KEY UPDATE" in query["sql"]
    ]
    assert [("executions_claim(" in sql, "executions_finish(" in sql) for sql in moves] == [
        (True, False),
        (False, True),
    ]
    execution.refresh_from_db()
    deployment.refresh_from_db()
    # The finish appends its output, keeps the truncation and (given none) the steps.
    assert (execution.output, execution.output_truncated, execution.steps) == (
        "one\ntwo\n",
        True,
        [{"index": 1}],
    )
    assert (execution.status, execution.exit_code, execution.worker) == ("failed", 3, "w 1")
    assert execution.explanation == "exit code 3 in step 1"
    assert execution.started_at <= execution.heartbeat_at <= execution.completed_at
    assert deployment.status == DeploymentStatus.FAILED
