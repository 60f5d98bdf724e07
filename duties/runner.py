"""Running the periodic duties: every worker runs a ``DutyLoop`` thread, and each duty that
is due is run by the one worker whose claim succeeds (no singleton beat process needed).

Apps register their duties at import (``executions.tasks`` registers the heartbeat sweep).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, connections

from duties.services import duty_claim

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    name: str
    interval: float  # seconds between two runs, whichever workers run them
    run: Callable[[], object]


_duties: dict[str, Duty] = {}


def register(duty: Duty) -> None:
    _duties[duty.name] = duty


def registered() -> list[Duty]:
    return list(_duties.values())


def worker_name() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def run_due(worker: str) -> list[str]:
    """Claim and run each duty that is due; the names of those this worker ran."""
    ran = []
    for duty in registered():
        try:
            if not duty_claim(name=duty.name, interval=duty.interval, worker=worker):
                continue
        except DatabaseError as error:
            logger.warning("could not claim periodic duty %s: %s", duty.name, error)
            continue
        try:
            duty.run()
        except Exception:
            logger.exception("periodic duty %s failed", duty.name)
        ran.append(duty.name)
    return ran


class DutyLoop(threading.Thread):
    """Looks for due duties at once, then every ``tick`` seconds (the shortest interval),
    until ``stop()``."""

    def __init__(self, worker: str, tick: float) -> None:
        super().__init__(name="codeai-duties", daemon=True)
        self.worker = worker
        self.tick = tick
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                run_due(self.worker)
            finally:
                connections.close_all()  # this thread's own connections: none held idle
            self._stopped.wait(self.tick)

    def stop(self) -> None:
        self._stopped.set()


def start_loop() -> DutyLoop | None:
    duties = registered()
    if not duties:
        return None
    loop = DutyLoop(worker_name(), tick=min(duty.interval for duty in duties))
    loop.start()
    return loop
