"""Schedules after a real restart: while no worker runs, hourly schedules miss ten
slots; two workers then start (no beat), and each schedule fires once, not once per missed
slot."""

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
from tests.schedules.test_workers import HOURLY, clear_of_the_hour

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCHEDULES = 3
MISSED_HOURS = 10


def test_workers_started_after_a_downtime_fire_each_schedule_once(tmp_path):
    clear_of_the_hour()  # the hourly schedules do not come due again meanwhile
    config = config_create(name="after-restart", content="exec { echo after restart }\n")
    schedules = [
        schedule_create(
            deployment=deployment_create(name=f"after-restart-{number}", config=config),
            cron_spec=HOURLY,
        )
        for number in range(SCHEDULES)
    ]
    # No worker runs: the schedules' due times pass unseen, as while every worker was down.
    Schedule.objects.update(next_run_at=timezone.now() - timedelta(hours=MISSED_HOURS))
    assert Execution.objects.count() == 0

    _purge_queues()
    workers = [
        start_worker(tmp_path / f"worker{number}.log", {}, "executions,celery")
        for number in range(2)
    ]
    try:
        wait_for(lambda: Execution.objects.count() >= SCHEDULES, timeout=30)
        time.sleep(4 * FIRE_INTERVAL)  # every worker's duty loop has had its turns
        executions = list(Execution.objects.all())
        assert len(executions) == SCHEDULES, [(e.deployment_id, e.created_at) for e in executions]
        assert {e.deployment_id for e in executions} == {s.deployment_id for s in schedules}
        for execution in executions:
            assert execution.trigger == "schedule"
            finished = wait_finished(execution, timeout=30)
            assert finished.status == ExecutionStatus.SUCCEEDED, finished.explanation
        for schedule in schedules:
            schedule.refresh_from_db()
            assert schedule.next_run_at > timezone.now()
            assert schedule.last_error == ""
    finally:
        for worker in workers:
            stop_worker(worker)
