"""Prometheus metrics: the guide's HTTP, database, workflow and integration families.

Per-request series (HTTP, database queries, integration calls) are recorded in the process that
served the request. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` makes prometheus_client keep
them in files that any worker sums up at scrape time (see ``codeai.gunicorn_hooks``).

Workflow series are computed from the database at scrape time (``WorkflowCollector``): executions
run on Celery workers, usually in other pods, so only the database knows the whole truth, and the
numbers are then identical whichever process answers the scrape. Execution and step durations
are cumulative bucket counts over finished rows; finished rows only ever gain members, so the
histograms are monotonic like any Prometheus histogram (deleting executions looks like a counter
reset, which ``rate()`` handles).
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished
from django.db import DatabaseError, connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.signals import connection_created
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from codeai.db import pool as db_pool
from codeai.kernel import outbound  # noqa: F401 - registers the codeai_integration_* families

logger = logging.getLogger(__name__)

NAMESPACE = settings.METRICS_NAMESPACE
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
EXECUTION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

# --- HTTP -------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "http_requests_total",
    "Total HTTP requests by method, path (route pattern) and status code",
    ["method", "path", "status_code"],
    namespace=NAMESPACE,
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Request latency in seconds",
    ["method", "path"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUEST_SIZE = Histogram(
    "http_request_size_bytes",
    "Request size in bytes",
    ["method", "path"],
    namespace=NAMESPACE,
    buckets=SIZE_BUCKETS,
)
HTTP_RESPONSE_SIZE = Histogram(
    "http_response_size_bytes",
    "Response size in bytes",
    ["method", "path"],
    namespace=NAMESPACE,
    buckets=SIZE_BUCKETS,
)
HTTP_ACTIVE_REQUESTS = Gauge(
    "http_active_requests",
    "Currently active requests",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)

# --- Database ---------------------------------------------------------------------------
DB_QUERIES = Counter(
    "db_queries_total",
    "Total database queries by operation",
    ["operation"],
    namespace=NAMESPACE,
)
DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Query latency in seconds",
    ["operation"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
DB_QUERY_ERRORS = Counter(
    "db_query_errors_total",
    "Database errors by type",
    ["error_type"],
    namespace=NAMESPACE,
)
DB_CONNECTIONS_ACTIVE = Gauge(
    "db_connections_active",
    "Database connections in use",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_IDLE = Gauge(
    "db_connections_idle",
    "Idle database connections kept in the pool",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)


# --- HTTP recording (called by codeai.middleware) ----------------------------------------
def observe_request(
    *,
    method: str,
    path: str,
    status_code: int,
    duration: float,
    request_size: int,
    response_size: int | None,
) -> None:
    """Record one finished request; ``path`` is the route pattern, never the raw URL."""
    HTTP_REQUESTS.labels(method, path, str(status_code)).inc()
    HTTP_REQUEST_DURATION.labels(method, path).observe(duration)
    HTTP_REQUEST_SIZE.labels(method, path).observe(request_size)
    if response_size is not None:
        HTTP_RESPONSE_SIZE.labels(method, path).observe(response_size)


# --- Database recording -----------------------------------------------------------------
_OPERATIONS = frozenset({"select", "insert", "update", "delete"})
_open_wrappers: weakref.WeakSet[Any] = weakref.WeakSet()


def _query_operation(sql: str) -> str:
    word = sql.lstrip(" (\t\r\n").split(None, 1)[0].lower() if sql.strip() else ""
    return word if word in _OPERATIONS else "other"


def _instrument_query(execute, sql, params, many, context):
    operation = _query_operation(sql)
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        DB_QUERY_ERRORS.labels(type(error).__name__).inc()
        raise
    finally:
        DB_QUERIES.labels(operation).inc()
        DB_QUERY_DURATION.labels(operation).observe(time.perf_counter() - start)


def _instrument_connection(connection: Any, **_: Any) -> None:
    _open_wrappers.add(connection)
    if _instrument_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_instrument_query)


connection_created.connect(_instrument_connection, dispatch_uid="codeai.metrics.db")
for _wrapper in connections.all(initialized_only=True):  # opened before this module loaded
    if _wrapper.connection is not None:
        _instrument_connection(_wrapper)


def refresh_connection_gauges() -> None:
    """Set this process's connection gauges: its pools' figures, else its open connections.
    Summed (livesum) over the processes of an instance they are the instance's figures, within
    CODEAI_DB_MAX_OPEN_CONNS and CODEAI_DB_MAX_IDLE_CONNS (codeai.db.pool). The pools call
    this after every change, so a process that serves nothing still reports its truth."""
    active = idle = 0
    pools = dict(PostgresWrapper._connection_pools)
    for pool in pools.values():
        stats = pool.get_stats()
        idle += stats.get("pool_available", 0)
        active += stats.get("pool_size", 0) - stats.get("pool_available", 0)
    active += sum(
        1
        for wrapper in list(_open_wrappers)
        if wrapper.alias not in pools and wrapper.connection is not None
    )
    DB_CONNECTIONS_ACTIVE.set(active)
    DB_CONNECTIONS_IDLE.set(idle)


db_pool.on_change(refresh_connection_gauges)


def _after_request(**_: Any) -> None:
    # Runs after Django's close_old_connections (connected first), so pooled connections
    # are back in the pool when counted.
    refresh_connection_gauges()


request_finished.connect(_after_request, dispatch_uid="codeai.metrics.connections")


# --- Workflows, from the database at scrape time ------------------------------------------
# Durations in seconds, one row per finished execution or finished step, per database.
_EXECUTION_SECONDS = {
    "postgresql": "EXTRACT(EPOCH FROM completed_at - started_at)",
    # julianday() is a double: rounded to the millisecond, 3 s stays 3 s.
    "sqlite": "ROUND((julianday(completed_at) - julianday(started_at)) * 86400.0, 3)",
}
_STEP_SECONDS = {
    "postgresql": (
        "SELECT '' AS label, (step->>'duration_ms')::float / 1000.0 AS d FROM {table} "
        "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(steps) = 'array' "
        "THEN steps ELSE '[]'::jsonb END) AS step "
        "WHERE jsonb_typeof(step->'duration_ms') = 'number'"
    ),
    "sqlite": (
        "SELECT '' AS label, json_extract(step.value, '$.duration_ms') / 1000.0 AS d "
        "FROM {table}, json_each(CASE WHEN json_type(steps) = 'array' THEN steps ELSE '[]' END) "
        "AS step WHERE json_type(step.value, '$.duration_ms') IN ('integer', 'real')"
    ),
}
HISTOGRAM_CACHE_SECONDS = 10
DURATIONS_CACHE_KEY = f"codeai:metrics:{NAMESPACE}:durations"


def _histogram_rows(
    durations_sql: str, params: list[Any], bounds: tuple[float, ...]
) -> dict[str, tuple[list[int], int, float]]:
    """``{label: (cumulative bucket counts, count, sum)}`` over ``(label, d)`` rows, one pass."""
    bucket_columns = "".join(
        f"SUM(CASE WHEN d <= {float(bound)!r} THEN 1 ELSE 0 END), " for bound in bounds
    )
    sql = (
        f"SELECT label, {bucket_columns}COUNT(*), COALESCE(SUM(d), 0) "
        f"FROM ({durations_sql}) AS durations GROUP BY label"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            row[0]: ([int(n or 0) for n in row[1:-2]], int(row[-2]), float(row[-1]))
            for row in cursor.fetchall()
        }


def _histogram_family(
    name: str, documentation: str, label_name: str | None, label_values: tuple[str, ...],
    rows: dict[str, tuple[list[int], int, float]], bounds: tuple[float, ...],
) -> HistogramMetricFamily:  # fmt: skip
    """One series per label value (all-zero when no row has it yet, so the series exists)."""
    family = HistogramMetricFamily(name, documentation, labels=[label_name] if label_name else [])
    for value in label_values:
        buckets, count, total = rows.get(value, ([0] * len(bounds), 0, 0.0))
        family.add_metric(
            [value] if label_name else [],
            [*zip(map(str, bounds), buckets, strict=True), ("+Inf", count)],
            sum_value=total,
        )
    return family


class WorkflowCollector(Collector):
    """Executions by status, active executions per deployment, queue age and durations."""

    def describe(self) -> list[Any]:
        return []  # registering must not query the database (names are checked at scrape)

    def collect(self) -> Iterator[Any]:
        try:
            families = list(self._families())
        except DatabaseError as error:
            # The scrape still answers with everything else; the health check names the cause.
            logger.warning("workflow metrics skipped: database error %s", type(error).__name__)
            return
        yield from families

    def _families(self) -> Iterator[Any]:
        from deployments.models import Deployment
        from executions.models import Execution, ExecutionStatus

        prefix = f"{NAMESPACE}_workflow"
        counts = Execution.objects.aggregate(
            total=Count("id"),
            started=Count("id", filter=Q(started_at__isnull=False)),
            queued_now=Count("id", filter=Q(status=ExecutionStatus.QUEUED)),
            oldest_queued=Min("created_at", filter=Q(status=ExecutionStatus.QUEUED)),
            **{
                status: Count("id", filter=Q(status=status))
                for status in ExecutionStatus.terminal()
            },
        )
        executions = CounterMetricFamily(
            f"{prefix}_executions",
            "Workflow executions that reached each status (queued: all; running: all started)",
            labels=["status"],
        )
        executions.add_metric([ExecutionStatus.QUEUED], counts["total"])
        executions.add_metric([ExecutionStatus.RUNNING], counts["started"])
        for status in ExecutionStatus.terminal():
            executions.add_metric([status], counts[status])
        yield executions

        active = GaugeMetricFamily(
            f"{prefix}_active_count",
            "Active (queued or running) workflow executions by deployment",
            labels=["workflow_name"],
        )
        per_deployment = Deployment.objects.annotate(
            active=Count("executions", filter=Q(executions__status__in=ExecutionStatus.active()))
        ).values_list("name", "active")
        for name, count in per_deployment:
            active.add_metric([name], count)
        yield active

        yield GaugeMetricFamily(
            f"{prefix}_queued_count", "Executions waiting for a worker", value=counts["queued_now"]
        )
        oldest = counts["oldest_queued"]
        yield GaugeMetricFamily(
            f"{prefix}_oldest_queued_age_seconds",
            "Age of the oldest execution still waiting for a worker (0: none waiting)",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )
        yield from self._duration_histograms(Execution, ExecutionStatus)

    @staticmethod
    def _duration_histograms(execution_model: Any, statuses: Any) -> list[Any]:
        """Execution and step durations: full scans of finished rows, so their result is
        shared through the cache for a few seconds by every process (and pod) scraped."""
        table = connection.ops.quote_name(execution_model._meta.db_table)
        vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
        terminal = list(statuses.terminal())

        def compute() -> tuple[dict, dict]:
            executions = _histogram_rows(
                f"SELECT status AS label, {_EXECUTION_SECONDS[vendor]} AS d FROM {table} "
                f"WHERE status IN ({', '.join(['%s'] * len(terminal))}) "
                "AND started_at IS NOT NULL AND completed_at IS NOT NULL",
                terminal,
                EXECUTION_BUCKETS,
            )
            steps = _histogram_rows(_STEP_SECONDS[vendor].format(table=table), [], STEP_BUCKETS)
            return executions, steps

        try:
            executions, steps = cache.get_or_set(
                DURATIONS_CACHE_KEY, compute, HISTOGRAM_CACHE_SECONDS
            )
        except DatabaseError:
            raise
        except Exception:  # the cache is down: the health check says so; compute directly
            executions, steps = compute()
        return [
            _histogram_family(
                f"{NAMESPACE}_workflow_execution_duration_seconds",
                "Workflow duration (started to completed) of finished executions",
                "status", tuple(terminal), executions, EXECUTION_BUCKETS,
            ),
            _histogram_family(
                f"{NAMESPACE}_workflow_step_duration_seconds",
                "Duration of each exec block (step) run by workflow executions",
                None, ("",), steps, STEP_BUCKETS,
            ),
        ]  # fmt: skip


# --- The registry a scrape reads -----------------------------------------------------------
_WORKFLOW_COLLECTOR = WorkflowCollector()
if not MULTIPROCESS:
    # One process: the default registry holds everything, minus what the settings switch off.
    for _enabled, _collector in (
        (settings.METRICS_PROCESS, PROCESS_COLLECTOR),
        (settings.METRICS_RUNTIME, PLATFORM_COLLECTOR),
        (settings.METRICS_RUNTIME, GC_COLLECTOR),
    ):
        if not _enabled:
            REGISTRY.unregister(_collector)
    REGISTRY.register(_WORKFLOW_COLLECTOR)


def scrape_registry() -> CollectorRegistry:
    """What ``/metrics`` exposes: in multiprocess mode the sum over every worker's files, plus
    the process and runtime collectors of the answering worker and the database collector."""
    refresh_connection_gauges()
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    if settings.METRICS_PROCESS:
        ProcessCollector(registry=registry)
    if settings.METRICS_RUNTIME:
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    registry.register(_WORKFLOW_COLLECTOR)
    return registry


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``scrape_registry()`` in the format the scraper asks for (text 0.0.4 by default,
    OpenMetrics when accepted)."""
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(scrape_registry()), content_type=content_type)
