"""Celery side of the periodic duties: a loop in every worker, and a task for beat.

Beat is optional: ``duties.run_due`` on a beat schedule only adds one more caller of the
same claims, so a duty still runs once per interval.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from duties import runner

_loops: list[runner.DutyLoop] = []  # this worker's one loop, once started


@shared_task(name="duties.run_due", ignore_result=True)
def run_due_duties() -> list[str]:
    return runner.run_due(runner.worker_name())


@worker_ready.connect
def start_duty_loop(**_kwargs: object) -> None:
    loop = runner.start_loop()
    if loop is not None:
        _loops.append(loop)


@worker_shutdown.connect
def stop_duty_loop(**_kwargs: object) -> None:
    for loop in _loops:
        loop.stop()
