"""Celery tasks of executions: thin callers of executions.services.

``run_execution`` takes only the execution id. It is acknowledged late (after the run),
so a worker that dies before finishing lets the broker deliver the task again; the claim
(queued -> running) makes that second delivery, and any duplicate, do nothing.
"""

from __future__ import annotations

import logging
import os

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from duties import runner as duties
from executions import runner, services

logger = logging.getLogger(__name__)

# A task can arrive before the transaction that created its row commits (the publish is
# part of that transaction): how long to look for the row before dropping the task.
WAIT_FOR_COMMIT_SECONDS = 5.0


@shared_task(bind=True, name="executions.run", acks_late=True, ignore_result=True)
def run_execution(self: Task, execution_id: str) -> None:
    worker = f"{self.request.hostname} pid {os.getpid()}"
    claim = services.execution_claim_and_run(
        execution_id=execution_id, worker=worker, wait_for_commit=WAIT_FOR_COMMIT_SECONDS
    )
    if claim is services.ClaimResult.MISSING:
        logger.warning("execution %s does not exist (rolled back?); task dropped", execution_id)
    elif claim is services.ClaimResult.WAITING:
        logger.info(
            "execution %s waits its turn (concurrency: queue); delivery ignored", execution_id
        )
    elif claim is services.ClaimResult.TAKEN:
        logger.info("execution %s already claimed or finished; delivery ignored", execution_id)


# Run by one worker per interval, whichever (duties.runner); beat is not needed.
duties.register(
    duties.Duty("executions.sweep", settings.EXEC_SWEEP_INTERVAL, services.execution_sweep)
)
duties.register(
    duties.Duty(
        "executions.republish_lost",
        settings.EXEC_SWEEP_INTERVAL,
        services.execution_republish_lost,
    )
)


@worker_ready.connect
def remove_stale_scratch_folders(**_kwargs: object) -> None:
    """The scratch folders workers that died on this host left are removed at start."""
    runner.remove_stale_scratch_folders(
        older_than=settings.EXEC_TIMEOUT + settings.EXEC_HEARTBEAT_GRACE + 60
    )


@worker_ready.connect
def warn_when_unsandboxed(**_kwargs: object) -> None:
    if settings.EXEC_SANDBOX == "off":
        logger.warning(
            "CODEAI_EXEC_SANDBOX=off: exec steps run unsandboxed and can read this worker's "
            "secrets and stop it"
        )
