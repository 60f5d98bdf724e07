"""Execution services in the test process: validation, conflicts, cancel, claim, sweep,
a broker that is down, and the switch that turns command execution off."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from codeai.celery import app
from codeai.kernel.exceptions import Conflict, ServiceUnavailable
from deployments.models import Deployment, DeploymentStatus
from duties import runner as duties
from executions import services
from executions.models import Execution, ExecutionStatus
from executions.tasks import run_execution

pytestmark = pytest.mark.django_db

# Nothing listens here (a port of this engineer's spare range): a broker that is down.
DEAD_BROKER = "redis://127.0.0.1:18299/0"


def queued(deployment: Deployment) -> Execution:
    """A row as deployment_execute creates it, without publishing a task."""
    return Execution.objects.create(
        deployment=deployment, config_snapshot=deployment.config.content
    )


def test_a_deployment_without_config_is_a_conflict(alice):
    deployment = Deployment.objects.create(name="empty")
    with pytest.raises(Conflict, match="deployment has no config"):
        services.deployment_execute(deployment=deployment, user=alice, variables={})
    assert not Execution.objects.exists()


def test_an_invalid_config_is_a_conflict_with_the_reason(make_deployment, alice):
    deployment = make_deployment("exec { echo hi }\nprint(undefined_name)")
    with pytest.raises(Conflict, match=r"^config is invalid: 2:\d+: .*undefined_name"):
        services.deployment_execute(deployment=deployment, user=alice, variables={})
    assert not Execution.objects.exists()


def test_execute_variables_count_as_declared(make_deployment, alice):
    deployment = make_deployment("print(name)")
    execution = services.deployment_execute(
        deployment=deployment, user=alice, variables={"name": "given"}
    )
    assert execution.variables == {"name": "given"}
    assert execution.triggered_by == alice
    assert execution.triggered_by_name == "alice"


@pytest.mark.parametrize(
    "variables",
    [{"not a name": "x"}, {"1abc": "x"}, {"ok": {"nested": 1}}, {"ok": "nul\0byte"}],
)
def test_bad_variables_are_rejected(make_deployment, alice, variables):
    deployment = make_deployment("exec { true }")
    with pytest.raises(ValidationError):
        services.deployment_execute(deployment=deployment, user=alice, variables=variables)
    assert not Execution.objects.exists()


@pytest.fixture
def broker_down():
    saved = app.conf.broker_write_url
    app.conf.broker_write_url = DEAD_BROKER
    app.amqp._producer_pool = None
    yield
    app.conf.broker_write_url = saved
    app.amqp._producer_pool = None


@pytest.mark.usefixtures("broker_down")
@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_down_is_service_unavailable_and_leaves_nothing(make_deployment, alice):
    deployment = make_deployment("exec { true }")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="task queue is unavailable"):
        services.deployment_execute(deployment=deployment, user=alice, variables={})
    assert time.monotonic() - started < 5
    assert not Execution.objects.exists()
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.PENDING


@pytest.mark.usefixtures("broker_down")
def test_in_a_callers_transaction_a_failed_publish_fails_the_row(
    make_deployment, alice, django_capture_on_commit_callbacks
):
    deployment = make_deployment("exec { true }")
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.deployment_execute(deployment=deployment, user=alice, variables={})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation == f"not started: {services.QUEUE_UNAVAILABLE}"
    assert execution.steps == []


def test_cancel_of_a_queued_execution_is_immediate_and_final(make_deployment, alice):
    execution = queued(make_deployment("exec { echo never }"))
    services.execution_cancel(execution=execution, user=alice)

    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.explanation == "cancelled by alice"
    assert execution.completed_at is not None
    assert Deployment.objects.get().status == DeploymentStatus.STOPPED
    # The task is still delivered later: it must do nothing.
    run_execution.apply(args=[str(execution.pk)])
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.steps == []


def test_cancel_of_a_running_execution_asks_the_runner(make_deployment, alice):
    execution = queued(make_deployment("exec { true }"))
    services.execution_claim(execution_id=execution.pk, worker="w")
    services.execution_cancel(execution=execution, user=alice)
    assert execution.status == ExecutionStatus.RUNNING
    assert execution.cancel_requested_by == "alice"
    assert execution.cancel_requested_at is not None


def test_cancel_of_a_finished_execution_is_a_conflict(make_deployment, alice):
    execution = queued(make_deployment("exec { true }"))
    services.execution_claim(execution_id=execution.pk, worker="w")
    services.execution_finish(execution_id=execution.pk, status=ExecutionStatus.SUCCEEDED)
    with pytest.raises(Conflict, match="execution already succeeded"):
        services.execution_cancel(execution=execution, user=alice)


def test_only_one_claim_wins(make_deployment):
    execution = queued(make_deployment("exec { true }"))
    claim = services.execution_claim
    assert claim(execution_id=execution.pk, worker="a") is services.ClaimResult.CLAIMED
    assert claim(execution_id=execution.pk, worker="b") is services.ClaimResult.TAKEN
    assert claim(execution_id=uuid.uuid4(), worker="b") is services.ClaimResult.MISSING
    execution.refresh_from_db()
    assert execution.worker == "a"
    assert execution.deployment.status == DeploymentStatus.RUNNING


def test_the_sweep_fails_executions_without_heartbeat_only(make_deployment, settings):
    settings.EXEC_HEARTBEAT_GRACE = 60
    lost, alive = (queued(make_deployment("exec { true }")) for _ in range(2))
    for execution in (lost, alive):
        services.execution_claim(execution_id=execution.pk, worker="w")
    last_seen = timezone.now().replace(microsecond=0) - timedelta(seconds=61)
    Execution.objects.filter(pk=lost.pk).update(heartbeat_at=last_seen)

    assert services.execution_sweep() == 1
    lost.refresh_from_db()
    alive.refresh_from_db()
    assert lost.status == ExecutionStatus.FAILED
    assert lost.explanation == (
        f"worker lost: no heartbeat since {last_seen.strftime('%Y-%m-%dT%H:%M:%S')}Z"
    )
    assert lost.deployment.status == DeploymentStatus.FAILED
    assert alive.status == ExecutionStatus.RUNNING
    # A late runner cannot overwrite what the sweep decided.
    assert not services.execution_finish(execution_id=lost.pk, status=ExecutionStatus.SUCCEEDED)
    assert not services.execution_heartbeat(execution_id=lost.pk, output="late")


def test_disabled_execution_fails_and_runs_nothing(make_deployment, settings, tmp_path):
    settings.EXEC_ENABLED = False
    marker = tmp_path / "ran"
    execution = queued(make_deployment(f'print("hi")\nexec {{ touch {marker} }}'))
    services.execution_claim(execution_id=execution.pk, worker="w")
    services.execution_run(execution_id=execution.pk)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation == services.DISABLED_EXPLANATION
    assert execution.steps == []
    assert execution.output == ""
    assert not marker.exists()


@pytest.mark.django_db(transaction=True)
def test_the_sweep_is_a_periodic_duty_run_once_per_interval(make_deployment, settings):
    settings.EXEC_HEARTBEAT_GRACE = 60
    execution = queued(make_deployment("exec { true }"))
    services.execution_claim(execution_id=execution.pk, worker="gone")
    Execution.objects.filter(pk=execution.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert "executions.sweep" in duties.run_due("first worker")
    assert "executions.sweep" not in duties.run_due("second worker")  # not due again yet
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation.startswith("worker lost: no heartbeat since ")


def test_deployment_updated_at_tells_when_its_status_followed(make_deployment):
    execution = queued(make_deployment("exec { true }"))
    deployment = execution.deployment
    created = deployment.updated_at
    services.execution_claim(execution_id=execution.pk, worker="w")
    deployment.refresh_from_db()
    running_since = deployment.updated_at
    assert deployment.status == DeploymentStatus.RUNNING
    assert running_since > created
    services.execution_finish(execution_id=execution.pk, status=ExecutionStatus.SUCCEEDED)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.COMPLETE
    assert deployment.updated_at > running_since


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_is_published_again_once_then_the_execution_fails(make_deployment, settings):
    settings.EXEC_QUEUE_GRACE = 60
    execution = queued(make_deployment("exec { true }"))
    Execution.objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )

    assert services.execution_republish_lost() == (1, 0)
    assert services.execution_republish_lost() == (0, 0)  # once, not every sweep
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED
    republished_at = timezone.now() - timedelta(minutes=1, seconds=1)
    Execution.objects.filter(pk=execution.pk).update(republished_at=republished_at)

    assert services.execution_republish_lost() == (0, 1)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation == (
        "not started: no worker took its task, published again at "
        f"{republished_at.strftime('%Y-%m-%dT%H:%M:%S')}Z"
    )
    execution.deployment.refresh_from_db()
    assert execution.deployment.status == DeploymentStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_queued_execution_behind_active_ones_is_waiting_not_lost(make_deployment, settings):
    settings.EXEC_QUEUE_GRACE = 60
    deployment = make_deployment("exec { true }")
    ahead = queued(deployment)
    services.execution_claim(execution_id=ahead.pk, worker="busy")
    behind = queued(deployment)
    long_ago = timezone.now() - timedelta(minutes=5)
    Execution.objects.filter(pk=ahead.pk).update(created_at=long_ago - timedelta(seconds=1))
    Execution.objects.filter(pk=behind.pk).update(created_at=long_ago)

    assert services.execution_republish_lost() == (0, 0)
    behind.refresh_from_db()
    assert (behind.status, behind.republished_at) == (ExecutionStatus.QUEUED, None)


def test_the_text_to_run_carries_its_revision_number_only_while_current(alice):
    # Read with the deployment (the API's execute) or by its own query (schedules, relaunch
    # of a deployment loaded elsewhere): the same answer.
    from configs.services import config_create, config_update
    from executions import selectors

    config = config_create(name="source", content="exec { echo one }", user=alice)
    config_update(config=config, user=alice, content="exec { echo two }")
    deployment = Deployment.objects.create(name="source", config=config)

    def both() -> list[tuple[str, int | None]]:
        plain = Deployment.objects.select_related("config").get(pk=deployment.pk)
        annotated = selectors.deployment_to_execute(deployment.pk)
        return [services.deployment_source(plain), services.deployment_source(annotated)]

    assert both() == [("exec { echo two }", 2)] * 2
    # Text changed without a revision (as a raw update would): no number claims it.
    type(config).objects.filter(pk=config.pk).update(content="exec { echo three }")
    assert both() == [("exec { echo three }", None)] * 2
