"""The floor of bench_executions.py: a bare Celery app whose one task runs ``sh -c true``.

Same broker (the benchmark's Redis, a queue of its own), same delivery settings as CodeAI's
(late ack, prefetch 1, no results), two worker processes of concurrency 1: what Celery and a
process spawn cost without CodeAI (no database, no sandbox, no DSL). Each task counts itself
in Redis; the benchmark waits for the count.

Worker: celery -A bench_floor_app worker -Q bench-floor --concurrency 1 (from benchmarks/)
"""

from __future__ import annotations

import os
import subprocess

import redis
from celery import Celery

BROKER = os.environ.get("BENCH_FLOOR_BROKER", "redis://127.0.0.1:6390/1")
QUEUE = "bench-floor"
DONE_KEY = "bench-floor-done"

app = Celery("bench_floor", broker=BROKER)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
)
counter = redis.Redis.from_url(BROKER)


@app.task(name="floor.true")
def true_task() -> None:
    subprocess.run(["sh", "-c", "true"], check=True)
    counter.incr(DONE_KEY)
