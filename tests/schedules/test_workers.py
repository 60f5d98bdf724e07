"""Schedules fired by real workers, only ``celery worker`` processes running (no beat):
two workers, several schedules due after a downtime of many slots, and each due time
starts exactly one execution, which runs. The schedules are hourly and the tests start a
minute or more before the hour, so no natural slot comes due while a test watches."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from configs.services import config_create
from deployments.services import deployment_create
from executions.models import Execution, ExecutionStatus
from schedules.models import Schedule
from schedules.services import schedule_create
from schedules.tasks import FIRE_INTERVAL
from tests.executions.conftest import (
    _purge_queues,
    start_worker,
    stop_worker,
    wait_finished,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCHEDULES = 4
# Long enough for a second firing of the same due time to show: every worker's duty loop
# ticks every FIRE_INTERVAL seconds.
WATCH_SECONDS = 4 * FIRE_INTERVAL
HOURLY = "0 * * * *"


@pytest.fixture(scope="module")
def two_workers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two real ``celery -A codeai worker`` processes (no beat) on the test database."""
    folder = tmp_path_factory.mktemp("workers")
    _purge_queues()
    workers = []
    try:
        for number in range(2):
            workers.append(start_worker(folder / f"worker{number}.log", {}, "executions,celery"))
        yield workers
    finally:
        for worker in workers:
            stop_worker(worker)


def clear_of_the_hour() -> None:
    """Return a minute or more before the next hour (waiting past it, at most a minute), so an
    hourly schedule's next natural slot does not come while a test watches."""
    now = timezone.now()
    if now.minute == 59:
        time.sleep(60.5 - now.second)


def test_two_workers_fire_each_missed_schedule_once(two_workers):
    clear_of_the_hour()  # before creating them: their first slot is the next hour
    config = config_create(name="scheduled", content="exec { echo scheduled run }\n")
    schedules = [
        schedule_create(
            deployment=deployment_create(name=f"scheduled-{number}", config=config),
            cron_spec=HOURLY,
        )
        for number in range(SCHEDULES)
    ]
    # Every worker was down for ten hours: ten slots missed.
    Schedule.objects.update(next_run_at=timezone.now() - timedelta(hours=10))
    fired_from = timezone.now()

    wait_for(lambda: Execution.objects.count() >= SCHEDULES, timeout=30)
    time.sleep(WATCH_SECONDS)

    executions = list(Execution.objects.all())
    assert len(executions) == SCHEDULES, [(e.deployment_id, e.created_at) for e in executions]
    assert {e.deployment_id for e in executions} == {s.deployment_id for s in schedules}
    for schedule in schedules:
        schedule.refresh_from_db()
        assert schedule.next_run_at > timezone.now(), "the next natural slot came: too slow"
        assert schedule.next_run_at - fired_from <= timedelta(hours=1)
        assert schedule.last_error == ""
    for execution in executions:
        assert execution.trigger == "schedule"
        wait_finished(execution, timeout=30)
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        assert execution.output == "scheduled run\n"
    logs = "".join(worker.log_text() for worker in two_workers)
    assert logs.count("started execution") == SCHEDULES


def test_a_schedule_fires_seconds_after_its_due_time_not_before(two_workers):
    clear_of_the_hour()
    config = config_create(name="soon", content="exec { echo on time }\n")
    schedule = schedule_create(
        deployment=deployment_create(name="soon", config=config), cron_spec=HOURLY
    )
    due_at = timezone.now() + timedelta(seconds=3)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due_at)

    execution = wait_for(lambda: Execution.objects.first(), timeout=30)

    assert isinstance(execution, Execution)
    assert execution.created_at >= due_at
    # One duty interval and one loop tick at most; the rest is a margin for a busy machine.
    assert execution.created_at - due_at <= timedelta(seconds=2 * FIRE_INTERVAL + 6)
    time.sleep(WATCH_SECONDS)
    assert Execution.objects.count() == 1
    assert wait_finished(execution, timeout=30).status == ExecutionStatus.SUCCEEDED
