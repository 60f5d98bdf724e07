"""Firing schedules: a due time starts one execution (trigger ``schedule``) however many
callers race for it; after downtime a schedule fires once, not once per missed slot; a run
the execute service refuses is recorded on the schedule and the due time spent."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from configs.services import config_create
from deployments.services import deployment_create
from executions.models import Execution
from schedules.cron import next_run
from schedules.models import Schedule
from schedules.services import (
    schedule_create,
    schedule_fire,
    schedule_update,
    schedules_fire_due,
)

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = "exec { echo scheduled }\n"


@pytest.fixture
def deployment():
    return deployment_create(name="nightly", config=config_create(name="job", content=CONTENT))


def due(schedule: Schedule, ago: timedelta) -> Schedule:
    """The schedule as if its next run had come ``ago`` ago."""
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - ago)
    schedule.refresh_from_db()
    return schedule


def test_a_due_schedule_starts_one_execution_with_its_variables(deployment):
    schedule = schedule_create(
        deployment=deployment, cron_spec="* * * * *", variables={"target": "eu"}
    )
    due(schedule, timedelta(seconds=5))
    now = timezone.now()

    assert schedules_fire_due(now=now) == 1
    assert schedules_fire_due(now=now) == 0

    execution = Execution.objects.get()
    assert execution.trigger == "schedule"
    assert execution.variables == {"target": "eu"}
    assert execution.deployment_id == deployment.pk
    schedule.refresh_from_db()
    assert schedule.last_execution_id == execution.pk
    assert schedule.last_run_at == now
    assert schedule.last_error == ""
    assert schedule.next_run_at == next_run("* * * * *", "UTC", after=now)


def test_after_downtime_it_fires_once_not_once_per_missed_slot(deployment):
    schedule = due(
        schedule_create(deployment=deployment, cron_spec="* * * * *"), timedelta(minutes=30)
    )
    # Ten seconds into a minute: the three calls below stay inside it, so the next slot
    # (the minute after) is not due yet whenever the test runs (it was, 2 s before a minute).
    now = timezone.now().replace(second=10, microsecond=0)

    fired = [schedules_fire_due(now=now + timedelta(seconds=step)) for step in range(3)]

    assert fired == [1, 0, 0]
    assert Execution.objects.count() == 1
    schedule.refresh_from_db()
    assert now < schedule.next_run_at <= now + timedelta(minutes=1)


def test_racing_callers_fire_a_due_time_once(deployment):
    schedule = due(schedule_create(deployment=deployment, cron_spec="* * * * *"), timedelta(0))
    start = threading.Barrier(4)
    results: list[bool] = []

    def caller() -> None:
        start.wait()
        try:
            results.append(
                schedule_fire(
                    schedule_id=schedule.pk, due_at=schedule.next_run_at, now=timezone.now()
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    assert Execution.objects.count() == 1


def test_a_refused_run_is_recorded_and_its_due_time_spent(db):
    schedule = due(
        schedule_create(deployment=deployment_create(name="bare"), cron_spec="0 * * * *"),
        timedelta(minutes=1),
    )
    due_at = schedule.next_run_at

    assert schedules_fire_due() == 1

    schedule.refresh_from_db()
    assert not Execution.objects.exists()
    assert schedule.last_error == f"skipped at {due_at.isoformat()}: deployment has no config"
    assert schedule.next_run_at > timezone.now()
    assert schedules_fire_due() == 0


def test_a_disabled_schedule_or_a_stale_due_time_does_not_fire(deployment):
    disabled = schedule_create(deployment=deployment, cron_spec="* * * * *", enabled=False)
    Schedule.objects.filter(pk=disabled.pk).update(next_run_at=timezone.now())
    changed = due(schedule_create(deployment=deployment, cron_spec="* * * * *"), timedelta(0))
    stale_due_at = changed.next_run_at

    # An edit works the next run out again: a caller that read the old due time loses.
    schedule_update(schedule=changed, cron_spec="0 3 * * *")
    assert not schedule_fire(schedule_id=changed.pk, due_at=stale_due_at, now=timezone.now())
    assert schedules_fire_due() == 0
    assert not Execution.objects.exists()
    assert Schedule.objects.get(pk=disabled.pk).last_run_at is None


def test_an_update_that_changes_nothing_keeps_a_due_next_run(deployment):
    schedule = due(schedule_create(deployment=deployment, cron_spec="* * * * *"), timedelta(0))
    due_at = schedule.next_run_at

    schedule_update(schedule=schedule)

    schedule.refresh_from_db()
    assert schedule.next_run_at == due_at
    assert schedules_fire_due() == 1
