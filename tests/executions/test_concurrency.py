"""A deployment's concurrency in the services, without beat: ``queue`` publishes only the
first active execution and releases the next when one ends, however it ends (finish,
cancel, the sweep of a lost worker); a waiting one cannot be claimed, and the lost-task duty
leaves it alone but recovers a released one whose task was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from codeai.kernel.exceptions import Conflict
from deployments.models import Concurrency
from executions import services
from executions.models import Execution, ExecutionStatus
from tests.executions.conftest import _purge_queues

pytestmark = pytest.mark.django_db

CLAIMED, WAITING = services.ClaimResult.CLAIMED, services.ClaimResult.WAITING


@pytest.fixture(autouse=True)
def no_tasks_left_behind():
    """The tasks these tests publish name rows that are gone afterwards: a worker started
    later would spend seconds on each looking for its row."""
    yield
    _purge_queues()


@pytest.fixture
def queue_deployment(make_deployment):
    return make_deployment("exec { true }", concurrency=Concurrency.QUEUE)


def execute(deployment, alice) -> Execution:
    return services.deployment_execute(deployment=deployment, user=alice, variables={})


def released(execution: Execution) -> bool:
    execution.refresh_from_db()
    return execution.released_at is not None


def claim(execution: Execution) -> services.ClaimResult:
    return services.execution_claim(execution_id=execution.pk, worker="w")


def test_queue_releases_the_first_and_the_next_when_it_ends(queue_deployment, alice):
    first, second, third = (execute(queue_deployment, alice) for _ in range(3))

    assert (released(first), released(second), released(third)) == (True, False, False)
    assert claim(second) is WAITING
    assert claim(first) is CLAIMED
    assert services.execution_finish(execution_id=first.pk, status=ExecutionStatus.SUCCEEDED)
    assert (released(second), released(third)) == (True, False)
    assert claim(third) is WAITING
    assert claim(second) is CLAIMED


def test_a_second_claim_waits_while_one_runs_even_if_it_was_published(queue_deployment, alice):
    """A task published before the deployment became a queue one is not claimed out of turn."""
    first, second = (execute(queue_deployment, alice) for _ in range(2))
    Execution.objects.filter(pk=second.pk).update(released_at=timezone.now())

    assert claim(first) is CLAIMED
    assert claim(second) is WAITING
    second.refresh_from_db()
    assert second.status == ExecutionStatus.QUEUED


def test_cancelling_the_running_one_releases_the_next_cancelling_a_waiting_one_does_not(
    queue_deployment, alice
):
    first, second, third = (execute(queue_deployment, alice) for _ in range(3))
    claim(first)

    services.execution_cancel(execution=third, user=alice)  # waiting: nothing moves on
    assert not released(second)
    services.execution_cancel(execution=first, user=alice)  # running: asks its runner
    assert not released(second)
    services.execution_finish(execution_id=first.pk, status=ExecutionStatus.CANCELLED)

    assert released(second)
    third.refresh_from_db()
    assert third.status == ExecutionStatus.CANCELLED


def test_cancelling_the_released_one_before_it_starts_releases_the_next(queue_deployment, alice):
    first, second = (execute(queue_deployment, alice) for _ in range(2))

    services.execution_cancel(execution=first, user=alice)

    assert released(second)
    assert claim(second) is CLAIMED


def test_the_sweep_failing_a_lost_run_releases_the_next(queue_deployment, alice, settings):
    settings.EXEC_HEARTBEAT_GRACE = 60
    first, second = (execute(queue_deployment, alice) for _ in range(2))
    claim(first)
    Execution.objects.filter(pk=first.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )

    assert services.execution_sweep() == 1

    assert released(second)
    assert claim(second) is CLAIMED


def test_parallel_publishes_every_one_and_marks_none_released(make_deployment, alice):
    deployment = make_deployment("exec { true }")
    first, second = (execute(deployment, alice) for _ in range(2))

    assert claim(first) is CLAIMED
    assert claim(second) is CLAIMED
    assert (released(first), released(second)) == (False, False)


def test_refuse_is_a_conflict_naming_the_active_execution(make_deployment, alice):
    deployment = make_deployment("exec { true }", concurrency=Concurrency.REFUSE)
    first = execute(deployment, alice)

    with pytest.raises(Conflict, match=f"execution {first.pk} is queued"):
        execute(deployment, alice)
    claim(first)
    with pytest.raises(Conflict, match="is running"):
        services.execution_relaunch(execution=first, user=alice)
    services.execution_finish(execution_id=first.pk, status=ExecutionStatus.SUCCEEDED)

    assert execute(deployment, alice).status == ExecutionStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_the_lost_task_duty_leaves_waiting_ones_and_counts_a_released_one_from_its_release(
    queue_deployment, alice, settings
):
    settings.EXEC_QUEUE_GRACE = 60
    first, second = (execute(queue_deployment, alice) for _ in range(2))
    claim(first)
    long_ago = timezone.now() - timedelta(minutes=5)
    Execution.objects.filter(pk=first.pk).update(created_at=long_ago - timedelta(seconds=1))
    Execution.objects.filter(pk=second.pk).update(created_at=long_ago)

    assert services.execution_republish_lost() == (0, 0)  # waiting its turn, not lost
    services.execution_finish(execution_id=first.pk, status=ExecutionStatus.SUCCEEDED)
    assert released(second)
    assert services.execution_republish_lost() == (0, 0)  # released just now
    Execution.objects.filter(pk=second.pk).update(released_at=timezone.now() - timedelta(minutes=2))

    assert services.execution_republish_lost() == (1, 0)  # its task was lost: again
    second.refresh_from_db()
    assert second.republished_at is not None


def test_a_waiting_execution_does_not_hold_back_lost_tasks_of_others(
    queue_deployment, make_deployment, alice, settings
):
    """One that waits its turn has no task: it is not 'ahead' of a newer lost one elsewhere."""
    settings.EXEC_QUEUE_GRACE = 60
    first, waiting = (execute(queue_deployment, alice) for _ in range(2))
    claim(first)
    lost = execute(make_deployment("exec { true }"), alice)
    long_ago = timezone.now() - timedelta(minutes=5)
    Execution.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    Execution.objects.filter(pk=lost.pk).update(created_at=long_ago + timedelta(seconds=1))
    Execution.objects.filter(pk=first.pk).update(created_at=timezone.now())

    assert services.execution_republish_lost()[0] == 1
    lost.refresh_from_db()
    waiting.refresh_from_db()
    assert lost.republished_at is not None
    assert waiting.republished_at is None
