"""The worker's metrics endpoint: ``codeai worker start`` serves its whole pool's series on
``CODEAI_WORKER_METRICS_PORT`` (default 9808, 0: not served), on ``CODEAI_HOST``.

Executions run in the prefork pool's child processes, so each child keeps its series in files
of a folder of this worker instance (prometheus_client's multiprocess mode): ``worker start``
creates ``codeai-worker-<pid>-*`` (under ``$PROMETHEUS_MULTIPROC_DIR`` when that is set, else
the temporary folder) before Celery starts, and the worker removes it when it stops (folders
of a worker that was killed are removed by the next start on that host). The main process
answers the scrape: the sum over every child's files (a child that died leaves its counters
and loses its live gauges), its own process figures, and the queue gauges while it holds
their lease (``executions.metrics.QueueCollector``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FOLDER_PREFIX = "codeai-worker-"
_LIVE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")
_servers: list[Any] = []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except (OSError, IndexError):
        return True


def _folder_pid(folder: Path) -> int | None:
    rest = folder.name.removeprefix(FOLDER_PREFIX)
    head = rest.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def make_folder() -> str:
    """A fresh metrics folder for the worker that is about to start in this process (exec
    keeps the pid, which names it); folders of dead workers beside it are removed."""
    parent = Path(os.environ.get(MULTIPROC_ENV) or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f"{FOLDER_PREFIX}*"):
        pid = _folder_pid(stale)
        if stale.is_dir() and pid is not None and not _alive(pid):
            shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=parent)
    os.environ[MULTIPROC_ENV] = folder
    return folder


def own_folder() -> Path | None:
    """This worker's folder, if ``make_folder`` made it (else none to manage)."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return None
    path = Path(folder)
    return path if _folder_pid(path) == os.getpid() else None


def mark_dead_children(folder: Path) -> list[int]:
    """Drop the live gauges of pool processes that are gone; their counters stay."""
    from prometheus_client import multiprocess

    dead = set()
    for entry in folder.glob("gauge_live*.db"):
        match = _LIVE_FILE.fullmatch(entry.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(folder))
    return sorted(dead)


def scrape_collector(holder: str) -> Any:
    from django.db import DatabaseError, connections
    from prometheus_client.registry import Collector

    from codeai import metrics
    from executions import metrics as workflow_metrics

    queue = workflow_metrics.QueueCollector(holder)

    class Scrape(Collector):
        def collect(self) -> Iterable[Any]:
            folder = own_folder()
            if folder is not None:
                mark_dead_children(folder)
            try:
                try:
                    workflow_metrics.known_workflows()
                except DatabaseError as error:
                    logger.warning("workflow names skipped: %s", type(error).__name__)
                return list(metrics.scrape_registry([queue]).collect())
            finally:
                connections.close_all()  # the scrape thread holds no connection between scrapes

    return Scrape()


@worker_ready.connect
def _on_worker_ready(**_kwargs: object) -> None:
    start()


@worker_shutdown.connect
def _on_worker_shutdown(**_kwargs: object) -> None:
    stop()


def start() -> None:
    """Serve the pool's metrics (in the worker's main process once it is ready; this module
    is imported by ``CodeAIConfig.ready``, which connects it to Celery's signals)."""
    from django.conf import settings
    from prometheus_client import CollectorRegistry, start_http_server

    from duties.runner import worker_name

    port = settings.CODEAI["CODEAI_WORKER_METRICS_PORT"]
    if not settings.METRICS_ENABLED or not port or _servers:
        return
    registry = CollectorRegistry(auto_describe=False)
    registry.register(scrape_collector(worker_name()))
    host = settings.CODEAI["CODEAI_HOST"]
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        # The worker's job is running executions: it goes on, unscraped (up == 0 says so).
        logger.error("worker metrics not served on %s:%s: %s", host, port, error)
        return
    _servers.append(server)
    logger.info("worker metrics on http://%s:%s/metrics", host, port)


def stop() -> None:
    """Stop serving and remove this worker's metrics folder (called at shutdown)."""
    while _servers:
        server = _servers.pop()
        server.shutdown()
        server.server_close()
    folder = own_folder()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
