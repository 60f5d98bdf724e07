"""Outbound calls (the JWKS fetch): each one counted, timed and guarded by a per-service
circuit breaker, so a failing service is not called again and again from every request."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ContextDecorator
from typing import Any

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

NAMESPACE = settings.METRICS_NAMESPACE
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

INTEGRATION_CALLS = Counter(
    "integration_calls_total",
    "External API calls by service and outcome (success, error, rejected)",
    ["service_name", "status"],
    namespace=NAMESPACE,
)
INTEGRATION_CALL_DURATION = Histogram(
    "integration_call_duration_seconds",
    "External API call latency in seconds",
    ["service_name"],
    namespace=NAMESPACE,
    buckets=CALL_BUCKETS,
)
INTEGRATION_CIRCUIT_BREAKER_STATE = Gauge(
    "integration_circuit_breaker_state",
    "Circuit breaker state: 1 for the current state (closed, open, half_open), else 0",
    ["service_name", "state"],
    namespace=NAMESPACE,
    multiprocess_mode="livemax",
)
INTEGRATION_RETRIES = Counter(
    "integration_retries_total",
    "Retry attempts of external API calls",
    ["service_name"],
    namespace=NAMESPACE,
)
INTEGRATION_ERRORS = Counter(
    "integration_errors_total",
    "External API call errors by service and error type",
    ["service_name", "error_type"],
    namespace=NAMESPACE,
)


# The services CodeAI calls and the errors their calls usually end in: their series exist from
# the start, at 0 (an alert on a rate reads 0, not "no data"). Others appear on first use.
KNOWN_SERVICES = ("jwks",)
KNOWN_ERROR_TYPES = ("ConnectionError", "Timeout", "HTTPError", "CircuitOpenError")


class CircuitOpenError(ConnectionError):
    """The service failed repeatedly; calls are refused until the breaker's cool-down ends."""


class _CircuitBreaker:
    """Opens after ``failure_threshold`` failures in a row; one trial call after ``reset_after``."""

    STATES = ("closed", "open", "half_open")

    def __init__(self, service_name: str, failure_threshold: int, reset_after: float) -> None:
        self.service_name = service_name
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self.failures = 0
        self.opened_at = 0.0
        self.state = "closed"
        self.lock = threading.Lock()
        self._publish()

    def _publish(self) -> None:
        for state in self.STATES:
            INTEGRATION_CIRCUIT_BREAKER_STATE.labels(self.service_name, state).set(
                1 if state == self.state else 0
            )

    def _move(self, state: str) -> None:
        if state != self.state:
            logger.warning(
                "circuit breaker for %s is now %s", self.service_name, state,
                extra={"service_name": self.service_name, "circuit_state": state},
            )  # fmt: skip
            self.state = state
            self._publish()

    def admit(self) -> None:
        with self.lock:
            if self.state == "open":
                if time.monotonic() - self.opened_at < self.reset_after:
                    raise CircuitOpenError(f"circuit breaker open for {self.service_name}")
                self._move("half_open")

    def succeeded(self) -> None:
        with self.lock:
            self.failures = 0
            self._move("closed")

    def failed(self) -> None:
        with self.lock:
            self.failures += 1
            if self.state == "half_open" or self.failures >= self.failure_threshold:
                self.opened_at = time.monotonic()
                self._move("open")


_breakers: dict[str, _CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def circuit_breaker(
    service_name: str, *, failure_threshold: int = 5, reset_after: float = 30.0
) -> _CircuitBreaker:
    """The process-wide breaker of one outbound service (created closed on first use)."""
    with _breakers_lock:
        if service_name not in _breakers:
            _breakers[service_name] = _CircuitBreaker(service_name, failure_threshold, reset_after)
        return _breakers[service_name]


class track_integration_call(ContextDecorator):
    """Count, time and guard one outbound call::

        with track_integration_call("jwks"):
            response = requests.get(url, timeout=3)
            response.raise_for_status()

    An exception inside the block counts as an error (by type) and feeds the service's circuit
    breaker; while the breaker is open the block is not run and ``CircuitOpenError`` (a
    ``ConnectionError``) is raised at once. Works as a decorator too.
    """

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self.breaker = circuit_breaker(service_name)
        self.start = 0.0

    def __enter__(self) -> track_integration_call:
        try:
            self.breaker.admit()
        except CircuitOpenError as error:
            INTEGRATION_CALLS.labels(self.service_name, "rejected").inc()
            INTEGRATION_ERRORS.labels(self.service_name, type(error).__name__).inc()
            raise
        self.start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        INTEGRATION_CALL_DURATION.labels(self.service_name).observe(
            time.perf_counter() - self.start
        )
        if exc_type is None:
            INTEGRATION_CALLS.labels(self.service_name, "success").inc()
            self.breaker.succeeded()
        else:
            INTEGRATION_CALLS.labels(self.service_name, "error").inc()
            INTEGRATION_ERRORS.labels(self.service_name, exc_type.__name__).inc()
            self.breaker.failed()


def record_integration_retry(service_name: str) -> None:
    """Count one retry of a call to ``service_name`` (call it before each new attempt)."""
    INTEGRATION_RETRIES.labels(service_name).inc()


def _known_series() -> None:
    for service in KNOWN_SERVICES:
        for status in ("success", "error", "rejected"):
            INTEGRATION_CALLS.labels(service, status)
        INTEGRATION_CALL_DURATION.labels(service)
        INTEGRATION_RETRIES.labels(service)
        for error_type in KNOWN_ERROR_TYPES:
            INTEGRATION_ERRORS.labels(service, error_type)
        circuit_breaker(service)  # publishes its state: closed


_known_series()
