"""Workflow metrics, recorded by the process that makes each change (the guide's
``codeai_workflow_*``).

Each status move is counted once, by the process whose conditional update made it, after its
transaction commits: the worker that claims, finishes or sweeps an execution, the web process
that creates one or cancels a queued one. No process computes these from the database, so
``sum()`` over every target (web replicas and workers) is the figure of the whole system:
``codeai_workflow_executions_total{status="queued"}`` counts the executions created (each
starts queued), ``{status="running"}`` those started, each terminal status those that ended
so. ``codeai_workflow_active_count`` is what a worker is running now (a live gauge: a worker
that dies takes its share with it). Durations are observed when an execution ends (if it
had started) and when a step ends.

Two figures only the database knows, the queue's depth and the age of its oldest execution,
are exported by one worker at a time: the one holding the ``metrics.queue_gauges`` lease
(``queue_collector``), so they too are true under ``sum()`` (and ``max()``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from duties.services import duty_lease
from executions.models import Execution, ExecutionStatus

logger = logging.getLogger(__name__)

NAMESPACE = settings.METRICS_NAMESPACE
EXECUTION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
# The worker exporting the queue gauges keeps its lease while it is scraped at least this
# often (Prometheus scrapes every 15 s); another worker takes over once it lapses.
QUEUE_LEASE = "metrics.queue_gauges"
QUEUE_LEASE_SECONDS = 60.0

EXECUTIONS = Counter(
    "workflow_executions",
    "Workflow executions that reached each status (queued: created; running: started), "
    "counted by the process that moved them: sum over every target",
    ["status"],
    namespace=NAMESPACE,
)
EXECUTION_DURATION = Histogram(
    "workflow_execution_duration_seconds",
    "Workflow duration (started to completed) of finished executions",
    ["status"],
    namespace=NAMESPACE,
    buckets=EXECUTION_BUCKETS,
)
STEP_DURATION = Histogram(
    "workflow_step_duration_seconds",
    "Duration of each exec block (step) run by workflow executions",
    namespace=NAMESPACE,
    buckets=STEP_BUCKETS,
)
ACTIVE = Gauge(
    "workflow_active_count",
    "Workflow executions this worker is running now, by deployment: sum over every target",
    ["workflow_name"],
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)

# Every label set known in advance exists from the start, at 0.
for _status in ExecutionStatus.values:
    EXECUTIONS.labels(_status)
for _status in ExecutionStatus.terminal():
    EXECUTION_DURATION.labels(_status)


def _moved(execution_id: Any, status: str, seconds: float | None) -> None:
    EXECUTIONS.labels(status).inc()
    if status not in ExecutionStatus.terminal():
        return
    if seconds is None:
        times = Execution.objects.filter(pk=execution_id).values_list("started_at", "completed_at")
        started_at, completed_at = times.first() or (None, None)
        if started_at is None or completed_at is None:
            return  # it never started
        seconds = (completed_at - started_at).total_seconds()
    EXECUTION_DURATION.labels(status).observe(max(seconds, 0.0))


def execution_created() -> None:
    """An execution was inserted (queued); counted once its transaction commits."""
    transaction.on_commit(partial(EXECUTIONS.labels(ExecutionStatus.QUEUED).inc), robust=True)


def execution_moved(*, execution_id: Any, status: str, seconds: float | None = None) -> None:
    """This process moved an execution to ``status``; counted once its transaction commits
    (a rolled-back move counts nothing; a failure here never fails the move). An end's
    duration is ``seconds`` when the mover knows it, else read from the row."""
    transaction.on_commit(partial(_moved, execution_id, status, seconds), robust=True)


def step_finished(*, seconds: float) -> None:
    STEP_DURATION.observe(max(seconds, 0.0))


class running:
    """``with running(deployment_name):`` around the run of a claimed execution."""

    def __init__(self, workflow_name: str) -> None:
        self.gauge = ACTIVE.labels(workflow_name)

    def __enter__(self) -> None:
        self.gauge.inc()

    def __exit__(self, *_: object) -> None:
        self.gauge.dec()


def known_workflows() -> None:
    """Give every deployment's ``codeai_workflow_active_count`` series a 0 in this process
    (a worker calls it at start and at each scrape, so each series exists before it runs)."""
    from deployments.models import Deployment

    for name in Deployment.objects.values_list("name", flat=True):
        ACTIVE.labels(name).inc(0)


class QueueCollector(Collector):
    """The queue's depth and oldest age from the database, yielded only while this process
    holds the ``metrics.queue_gauges`` lease (renewed at each scrape)."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or f"{socket.gethostname()} pid {os.getpid()}"

    def describe(self) -> list[Any]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Any]:
        try:
            if not duty_lease(name=QUEUE_LEASE, seconds=QUEUE_LEASE_SECONDS, holder=self.holder):
                return
            counts = Execution.objects.aggregate(
                queued=Count("id", filter=Q(status=ExecutionStatus.QUEUED)),
                oldest=Min("created_at", filter=Q(status=ExecutionStatus.QUEUED)),
            )
        except DatabaseError as error:
            logger.warning("queue metrics skipped: database error %s", type(error).__name__)
            return
        prefix = f"{NAMESPACE}_workflow"
        yield GaugeMetricFamily(
            f"{prefix}_queued_count",
            "Executions waiting for a worker (from the database, by one worker at a time)",
            value=counts["queued"],
        )
        oldest = counts["oldest"]
        yield GaugeMetricFamily(
            f"{prefix}_oldest_queued_age_seconds",
            "Age of the oldest execution still waiting for a worker (0: none waiting)",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )
