"""Health probes: ``/health`` (every check), ``/ready`` (critical checks), ``/live`` (none).

Database and cache are critical (one failing makes the answer ``unhealthy``, 503); broker, disk,
memory and the exec sandbox are warnings (``degraded``, still 200). The checks run at the same
time, each in its own daemon thread with a short deadline, so a dead dependency costs at most
``CHECK_TIMEOUT`` and a hung one never piles up threads: while a check of the same kind is still
stuck, the next probe reports it as timed out instead of starting another. No URL, host or
secret is shown; a failure says only what kind of error happened.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from codeai.kernel.logs import redact
from executions.runner import SANDBOX_OFF

CHECK_TIMEOUT = 2.0
DISK_MIN_FREE_RATIO = 0.05
MEMORY_MIN_AVAILABLE_RATIO = 0.05
STARTED_AT = time.monotonic()


class CheckFailed(Exception):
    """A check's own verdict (as opposed to an error raised by the dependency)."""


def check_database() -> None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connections["default"].close()  # this thread's connection (back to the pool, if any)


def check_cache() -> None:
    key = f"codeai:health:{os.getpid()}:{threading.get_ident()}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise CheckFailed("value written was not read back")
    cache.delete(key)


def check_broker() -> None:
    from codeai.celery import app

    with app.connection_for_write() as conn:
        transport = conn.transport_cls
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            # Nothing to connect to: the folders must be there and writable.
            options = conn.transport_options
            for key in ("data_folder_in", "data_folder_out"):
                folder = Path(options.get(key, "."))
                if not (folder.is_dir() and os.access(folder, os.W_OK)):
                    raise CheckFailed(f"broker folder {key} is missing or not writable")
            return
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT)
        if transport in ("redis", "rediss"):
            conn.default_channel.client.ping()


def check_disk() -> None:
    usage = shutil.disk_usage(settings.DATA_DIR)
    if usage.free / usage.total < DISK_MIN_FREE_RATIO:
        raise CheckFailed(f"only {usage.free * 100 // usage.total}% of the data disk is free")
    if not os.access(settings.DATA_DIR, os.W_OK):
        raise CheckFailed("the data folder is not writable")


def _memory_available_ratio() -> float | None:
    """Free share of the cgroup limit when there is one, else of the machine's memory."""
    cgroup = Path("/sys/fs/cgroup")
    limit_file, usage_file = cgroup / "memory.max", cgroup / "memory.current"
    if limit_file.exists() and usage_file.exists():
        limit = limit_file.read_text().strip()
        if limit != "max":
            return 1 - int(usage_file.read_text()) / int(limit)
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
    total, available = (int(fields[k].split()[0]) for k in ("MemTotal", "MemAvailable"))
    return available / total


def check_memory() -> None:
    ratio = _memory_available_ratio()
    if ratio is not None and ratio < MEMORY_MIN_AVAILABLE_RATIO:
        raise CheckFailed(f"only {ratio:.0%} of memory is available")


def check_sandbox() -> None:
    """An operator who turned the sandbox off is reminded here (and on the admin index)."""
    if settings.EXEC_SANDBOX == "off":
        raise CheckFailed(SANDBOX_OFF)
    if shutil.which("bwrap") is None:
        raise CheckFailed("bwrap is not installed: executions fail with 'sandbox unavailable'")


CRITICAL_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
}
WARNING_CHECKS: dict[str, Callable[[], None]] = {
    "broker": check_broker,
    "disk": check_disk,
    "memory": check_memory,
    "sandbox": check_sandbox,
}

_running: dict[str, Future[None]] = {}
_running_lock = threading.Lock()


def _start(name: str, check: Callable[[], None]) -> Future[None]:
    """Run ``check`` in a daemon thread, or hand back the same check still running."""
    with _running_lock:
        future = _running.get(name)
        if future is not None and not future.done():
            return future
        future = Future()
        _running[name] = future

    def run() -> None:
        try:
            check()
        except BaseException as error:
            future.set_exception(error)
        else:
            future.set_result(None)

    threading.Thread(target=run, name=f"health-{name}", daemon=True).start()
    return future


def _describe(error: BaseException) -> str:
    if isinstance(error, CheckFailed):
        return str(error)
    # The type says what happened; messages of drivers can name hosts and users.
    return type(error).__name__


def run_checks(checks: dict[str, Callable[[], None]]) -> dict[str, dict[str, Any]]:
    """Every check's ``{"status", "duration_ms"[, "error"]}``, within ``CHECK_TIMEOUT``."""
    start = time.monotonic()
    futures = {name: _start(name, check) for name, check in checks.items()}
    results = {}
    for name, future in futures.items():
        remaining = max(0.0, CHECK_TIMEOUT - (time.monotonic() - start))
        try:
            future.result(timeout=remaining)
        except TimeoutError:
            result = {"status": "unhealthy", "error": f"timed out after {CHECK_TIMEOUT:g}s"}
        except BaseException as error:
            result = {"status": "unhealthy", "error": redact(_describe(error))}
        else:
            result = {"status": "healthy"}
        result["duration_ms"] = round((time.monotonic() - start) * 1000, 1)
        results[name] = result
    return results


def overall_status(results: dict[str, dict[str, Any]]) -> str:
    if any(results[name]["status"] != "healthy" for name in CRITICAL_CHECKS if name in results):
        return "unhealthy"
    if any(result["status"] != "healthy" for result in results.values()):
        return "degraded"
    return "healthy"


def _answer(checks: dict[str, Callable[[], None]]) -> HttpResponse:
    results = run_checks(checks)
    status = overall_status(results)
    body = {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "version": settings.CODEAI_VERSION,
        "uptime_seconds": round(time.monotonic() - STARTED_AT, 1),
        "checks": results,
    }
    return JsonResponse(body, status=503 if status == "unhealthy" else 200)


@never_cache
@require_safe
def health(request: HttpRequest) -> HttpResponse:
    return _answer(CRITICAL_CHECKS | WARNING_CHECKS)


@never_cache
@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    return _answer(CRITICAL_CHECKS)


@never_cache
@require_safe
def live(request: HttpRequest) -> HttpResponse:
    return _answer({})
