"""A real gunicorn with two workers: /metrics sums every worker's series (multiprocess mode)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.conftest import uses_postgres
from tests.observability.conftest import parse_samples, sample

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REQUESTS = 60


def _health_requests_by_pid(folder: Path) -> Counter:
    """What each worker's own counter file holds for GET /health."""
    counts: Counter = Counter()
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if '"codeai_http_requests_total"' in key and '"/health"' in key:
                counts[pid] += value
    return counts


def _scrape(server) -> dict:
    status, _, body = server.get("/metrics")
    assert status == 200
    return parse_samples(body.decode())


def test_counts_add_up_across_workers_and_dead_workers_leave_no_live_gauges(server_factory):
    server = server_factory(workers=2, multiproc=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: server.get("/health")[0], range(REQUESTS)))
    assert statuses == [200] * REQUESTS

    samples = _scrape(server)
    labels = {"method": "GET", "path": "/health", "status_code": "200"}
    assert sample(samples, "codeai_http_requests_total", **labels) == REQUESTS
    assert sample(samples, "codeai_http_request_duration_seconds_count", method="GET",
                  path="/health") == REQUESTS  # fmt: skip
    per_worker = _health_requests_by_pid(server.multiproc_dir)
    assert len(per_worker) == 2, per_worker  # both workers served some
    assert sum(per_worker.values()) == REQUESTS
    assert sample(samples, "codeai_http_active_requests") == 1  # the scrape itself
    # Computed from the database: the same in whichever worker answers.
    assert sample(samples, "codeai_workflow_executions_total", status="queued") == 0
    if uses_postgres():
        # Pool statistics of both workers (each opened its pool for the health checks).
        pooled = sample(samples, "codeai_db_connections_idle") + sample(
            samples, "codeai_db_connections_active"
        )
        assert pooled >= 2

    # Kill one worker outright: gunicorn's child_exit hook marks it dead, a new one starts.
    victim = next(iter(per_worker))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while (server.multiproc_dir / f"gauge_livesum_{victim}.db").exists():
        assert time.monotonic() < deadline, "child_exit did not remove the dead worker's gauges"
        time.sleep(0.1)
    after = _scrape(server)
    # Counters keep what the dead worker counted; its live gauges are gone.
    assert sample(after, "codeai_http_requests_total", **labels) == REQUESTS
    assert sample(after, "codeai_http_active_requests") == 1


def test_a_metrics_folder_gunicorn_created_is_removed_when_it_exits(server_factory):
    server = server_factory()  # no PROMETHEUS_MULTIPROC_DIR: on_starting makes one
    line = next(
        entry["msg"]
        for entry in map(json.loads, server.logs().splitlines())
        if entry["msg"].startswith("prometheus multiprocess metrics in ")
    )
    folder = Path(line.rsplit(" ", 1)[1])
    assert folder.is_dir()
    assert list(folder.glob("counter_*.db"))  # the worker writes there

    server.stop()

    assert not folder.exists()
