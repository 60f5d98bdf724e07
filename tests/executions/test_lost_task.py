"""A task lost from the broker (a worker died holding it; the filesystem broker cannot
redeliver) is published again by a worker's periodic duty, with no beat, and runs once.
Its message is taken out of this run's own broker: a file of the filesystem broker's
folder (pass 1), an item of the queue's list in the run's own Redis (pass 2)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from codeai.celery import app
from executions.models import Execution, ExecutionStatus
from executions.services import deployment_execute
from tests.executions.conftest import SWEEP_INTERVAL, start_worker, stop_worker, wait_finished

pytestmark = [pytest.mark.django_db(transaction=True)]

QUEUE_GRACE = 4.0  # the worker's: room for a slow start of its pool processes


def lose_the_task_of(execution: Execution) -> None:
    """Take the execution's message out of this run's own broker, as a crash would."""
    marker = str(execution.pk)
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        messages = [path for path in folder.iterdir() if marker in path.read_text()]
        assert len(messages) == 1, messages
        messages[0].unlink()
    elif url.startswith("redis"):
        client = redis.Redis.from_url(url)
        messages = [m for m in client.lrange("executions", 0, -1) if marker in m.decode()]
        assert len(messages) == 1, messages
        assert client.lrem("executions", 1, messages[0]) == 1
    else:
        pytest.skip(f"losing a message is written for filesystem and Redis, not {url}")


def test_a_lost_task_is_published_again_and_runs_once(make_deployment, alice, tmp_path):
    """No worker runs while the task is lost; then one starts, with no beat."""
    with app.connection_for_write() as connection:
        for queue in settings.CELERY_TASK_QUEUES:
            queue.bind(connection.default_channel).declare()
    deployment = make_deployment("exec { echo ran once }")
    execution = deployment_execute(deployment=deployment, user=alice, variables={})
    lose_the_task_of(execution)
    time.sleep(QUEUE_GRACE + 0.5)  # queued past the grace

    worker = start_worker(
        tmp_path / "worker.log",
        {"CODEAI_EXEC_QUEUE_GRACE": f"{QUEUE_GRACE:g}s"},
        "executions,celery",
    )
    try:
        wait_finished(execution, timeout=20)
        time.sleep(2 * SWEEP_INTERVAL)  # room for anything to run it twice
    finally:
        stop_worker(worker)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    assert execution.republished_at is not None
    assert execution.output == "ran once\n"
    assert "its task was lost; publishing it again" in worker.log_text()
