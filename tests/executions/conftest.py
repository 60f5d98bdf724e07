"""Fixtures for execution tests: configs and deployments, and a real Celery worker process
on the test database and the pass's broker (filesystem in pass 1, Redis in pass 2)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from codeai.celery import app
from configs.models import Config
from deployments.models import Deployment
from executions.models import Execution, ExecutionStatus
from tests.conftest import uses_postgres

ROOT = Path(__file__).resolve().parents[2]
# Short limits keep the suite fast; the worker process reads them from its environment.
WORKER_ENVIRONMENT = {
    "CODEAI_EXEC_TIMEOUT": "60s",
    "CODEAI_EXEC_IDLE_TIMEOUT": "2s",
    "CODEAI_EXEC_HEARTBEAT_GRACE": "3s",
    "CODEAI_EXEC_MAX_OUTPUT_BYTES": "65536",
    # A secret of the server: commands must never see it.
    "CODEAI_SECRET_KEY": "exec-test-server-secret-do-not-leak",
}
HEARTBEAT_GRACE = 3.0
SWEEP_INTERVAL = 1.0


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> object:
    """Poll until ``predicate`` returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def wait_finished(execution: Execution, timeout: float = 15.0) -> Execution:
    def finished() -> bool:
        execution.refresh_from_db()
        return execution.status in ExecutionStatus.terminal()

    try:
        wait_for(finished, timeout)
    except AssertionError as error:
        raise AssertionError(
            f"execution {execution.pk} still {execution.status} after {timeout} s "
            f"(worker {execution.worker!r}, steps {execution.steps})"
        ) from error
    return execution


def sleeping(duration: str) -> list[int]:
    """Live (not zombie) ``sleep <duration>`` processes; a unique duration marks a test's."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if argv == [b"sleep", duration.encode()]:
            found.append(int(entry.name))
    return found


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(username="alice", password="unused-password")


@pytest.fixture
def make_deployment(db) -> Callable[..., Deployment]:
    def make(content: str, **fields) -> Deployment:
        config = Config.objects.create(name=f"config-{uuid.uuid4().hex[:8]}", content=content)
        return Deployment.objects.create(
            name=f"deployment-{uuid.uuid4().hex[:8]}", config=config, **fields
        )

    return make


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _purge_queues() -> None:
    # The queues of this pass's own broker (a folder of the run, or its own redis-server).
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in settings.CELERY_TASK_QUEUES:
            queue.bind(channel).declare()
            queue.bind(channel).purge()


def start_worker(
    log: Path, extra_env: dict[str, str], queues: str, *, prefix: Sequence[str] = ()
) -> Worker:
    """A worker without beat: its periodic duties (the sweep) run in the worker itself;
    ``prefix`` runs it through e.g. setpriv as another user."""
    database = connection.settings_dict["NAME"]
    env = {**os.environ, **WORKER_ENVIRONMENT, **extra_env}
    if uses_postgres():
        env["CODEAI_DB_NAME"] = str(database)
    else:
        env["CODEAI_SQLITE_PATH"] = str(database)
    command = [
        *prefix,
        sys.executable,
        "-m",
        "celery",
        "-A",
        "codeai",
        "worker",
        "-Q",
        queues,
        "--concurrency",
        "2",
        "-n",
        f"exec-test-{os.getpid()}-{uuid.uuid4().hex[:6]}@%h",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_worker ends it whole
        )
    worker = Worker(process, log)
    try:
        wait_for(lambda: " ready." in worker.log_text() or process.poll() is not None, 60)
    except AssertionError:
        stop_worker(worker)
        raise
    if process.poll() is not None:
        raise AssertionError(f"the worker exited:\n{worker.log_text()}")
    return worker


def stop_worker(worker: Worker) -> None:
    """The worker and its pool, gone at once: every test waited for its executions, and
    Celery's own shutdown, warm or cold, spends 3-8 s polling its broker and joining its
    threads and processes. The tests of shutdown itself (tests/deploy) use processes of
    their own."""
    with contextlib.suppress(ProcessLookupError):  # already gone, group and all
        os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait()


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    """A real ``celery -A codeai worker`` (no beat) on the test database."""
    _purge_queues()
    worker = start_worker(tmp_path_factory.mktemp("worker") / "worker.log", {}, "executions,celery")
    yield worker
    stop_worker(worker)
