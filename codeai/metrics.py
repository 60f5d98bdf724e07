"""Prometheus metrics: one layer, every series recorded once, by the process that measured it.

This module defines the guide's HTTP and database families and assembles what a scrape reads;
the workflow families live with executions (``executions.metrics``), the integration families
with outbound calls (``codeai.kernel.outbound``). Every process exports only what it measured
itself (a web process its requests, queries and the status moves it made; a worker its runs),
so ``sum()`` over all targets is the system's figure. Under gunicorn and Celery's prefork pool,
``PROMETHEUS_MULTIPROC_DIR`` makes prometheus_client keep each process's series in files that
the answering process sums at scrape time (``codeai.gunicorn_hooks``, ``codeai.worker_metrics``).
django-prometheus's part is the cache backends (``django_cache_*``, see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    connections,
)
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
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
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from codeai.db import pool as db_pool
from codeai.kernel import outbound  # noqa: F401 - registers the codeai_integration_* families
from executions import metrics as workflow_metrics  # noqa: F401 - the codeai_workflow_* families

logger = logging.getLogger(__name__)

NAMESPACE = settings.METRICS_NAMESPACE
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)

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


# Label sets known in advance exist from the start, at 0 (an alert reads 0, not "no data").
DB_OPERATIONS = ("select", "insert", "update", "delete", "other")
DB_ERROR_TYPES = tuple(
    error.__name__
    for error in (
        DatabaseError, IntegrityError, OperationalError, ProgrammingError, DataError,
        InterfaceError, InternalError, NotSupportedError,
    )
)  # fmt: skip
for _operation in DB_OPERATIONS:
    DB_QUERIES.labels(_operation)
    DB_QUERY_DURATION.labels(_operation)
for _error_type in DB_ERROR_TYPES:
    DB_QUERY_ERRORS.labels(_error_type)


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
_OPERATIONS = frozenset(DB_OPERATIONS) - {"other"}
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


# --- The registry a scrape reads -----------------------------------------------------------
if not MULTIPROCESS:
    # One process: the default registry holds everything, minus what the settings switch off.
    for _enabled, _collector in (
        (settings.METRICS_PROCESS, PROCESS_COLLECTOR),
        (settings.METRICS_RUNTIME, PLATFORM_COLLECTOR),
        (settings.METRICS_RUNTIME, GC_COLLECTOR),
    ):
        if not _enabled:
            REGISTRY.unregister(_collector)


def scrape_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """What a scrape exposes: in multiprocess mode the sum over every process's files, plus
    the process and runtime collectors of the answering process; then ``extra``."""
    refresh_connection_gauges()
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        if settings.METRICS_PROCESS:
            ProcessCollector(registry=registry)
        if settings.METRICS_RUNTIME:
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
    elif not extra:
        return REGISTRY
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    for collector in extra:
        registry.register(collector)
    return registry


class _Everything(Collector):
    """The default registry's families, inside a registry that adds more."""

    def collect(self) -> Iterable[Any]:
        return REGISTRY.collect()


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``scrape_registry()`` in the format the scraper asks for (text 0.0.4 by default,
    OpenMetrics when accepted)."""
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(scrape_registry()), content_type=content_type)
