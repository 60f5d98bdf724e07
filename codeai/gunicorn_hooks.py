"""Gunicorn server hooks for Prometheus multiprocess mode.

With several workers, each keeps its per-request series in files under
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` (answered by any worker) sums them. The gunicorn
config imports these hooks::

    from codeai.gunicorn_hooks import child_exit, on_exit, on_starting  # noqa: F401 (hooks)

``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus_client is first imported: in the
environment, or by ``on_starting`` when the app is not preloaded (gunicorn's default).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


_created_folder: str | None = None


def on_starting(server: Any) -> None:
    """Give the workers an empty metrics folder: files of an earlier run would be added in."""
    global _created_folder
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        folder = _created_folder = tempfile.mkdtemp(prefix="codeai-prometheus-")
        os.environ[MULTIPROC_ENV] = folder
    path = Path(folder)
    if path.is_dir():
        for entry in path.glob("*.db"):
            entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    server.log.info("prometheus multiprocess metrics in %s", folder)
    # Import now, with the folder set (prometheus_client picks its value class at import):
    # child_exit runs in the master's SIGCHLD handler, where a first import could be re-entered.
    import prometheus_client.multiprocess  # noqa: F401


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (active requests, connections); counters keep counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the folder ``on_starting`` created (one given in the environment stays)."""
    if _created_folder:
        shutil.rmtree(_created_folder, ignore_errors=True)
