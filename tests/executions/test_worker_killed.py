"""Nothing stuck, with workers only (no beat anywhere): a worker killed with SIGKILL mid-run
has its execution failed by another worker's sweep, within the grace and one sweep interval,
and it never runs again. On the filesystem broker (pass 1) and on Redis (pass 2)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from deployments.models import DeploymentStatus
from executions.models import Execution, ExecutionStatus
from executions.tasks import run_execution
from tests.executions.conftest import (
    HEARTBEAT_GRACE,
    SWEEP_INTERVAL,
    sleeping,
    start_worker,
    stop_worker,
    wait_finished,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_sigkilled_worker_is_swept_by_another_worker_without_beat(
    make_deployment, celery_worker, tmp_path
):
    """The victim consumes a queue of its own; ``celery_worker`` (no beat) survives it."""
    queue = f"codeai-victim-{uuid.uuid4().hex[:8]}"
    victim = start_worker(tmp_path / "victim.log", {}, queue)
    token = f"41.{uuid.uuid4().int % 10**6}"
    deployment = make_deployment(f"exec {{ sleep {token} }}")
    execution = Execution.objects.create(
        deployment=deployment, config_snapshot=deployment.config.content
    )
    try:
        run_execution.apply_async(args=[str(execution.pk)], queue=queue, routing_key=queue)
        wait_for(lambda: sleeping(token), 15)

        def step_stored() -> bool:
            execution.refresh_from_db()
            return execution.status == ExecutionStatus.RUNNING and bool(execution.steps)

        wait_for(step_stored, 10)
        # The whole worker at once: its main process and its pool processes (the commands
        # they run, in sessions of their own, must die by themselves).
        victim_pids = [victim.process.pid, *children(victim.process.pid)]
        for pid in victim_pids:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.process.wait(timeout=10)

        wait_finished(execution, timeout=HEARTBEAT_GRACE + SWEEP_INTERVAL + 10)
        elapsed = time.monotonic() - killed_at
    finally:
        if victim.process.poll() is None:
            stop_worker(victim)
    assert elapsed < HEARTBEAT_GRACE + SWEEP_INTERVAL + 3, f"swept after {elapsed:.1f} s"
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation.startswith("worker lost: no heartbeat since ")
    assert int(execution.worker.rsplit(" ", 1)[1]) in victim_pids  # the victim ran it
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    wait_for(lambda: not sleeping(token), 5)  # the command died with its worker
    time.sleep(2 * SWEEP_INTERVAL)  # and nothing runs it again
    execution.refresh_from_db()
    assert (execution.status, len(execution.steps)) == (ExecutionStatus.FAILED, 1)
