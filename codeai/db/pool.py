"""A psycopg pool that keeps the deployment guide's promises for one process of an instance.

The guide's pool is Go's ``database/sql`` pool: at most ``MaxOpenConns`` connections, at most
``MaxIdleConns`` of them idle (a connection returned to a full idle set is closed at once),
none older than ``ConnMaxLifetime`` and none idle longer than ``ConnMaxIdleTime`` (1 minute).
An instance of CodeAI is several processes (gunicorn's workers, Celery's pool), so each process
gets its share of the instance's two budgets (``codeai.kernel.conf.process_share``) and
``InstancePool`` holds it to them:

* ``max_size`` is the process's share of CODEAI_DB_MAX_OPEN_CONNS and ``min_size`` is 0: no
  connection is opened before it is needed, none is kept open for its own sake;
* ``idle_limit`` is its share of CODEAI_DB_MAX_IDLE_CONNS: a connection coming back while
  ``idle_limit`` others are idle (and nobody waits) is closed;
* a query that finds the whole share open and busy waits up to ``busy_timeout`` for one of
  them, one that waits for a new connection only ``timeout``;
* a sweep every ``sweep_interval`` seconds closes the idle connections older than
  ``max_lifetime`` (psycopg itself only checks a connection's age when it comes back) or idle
  for ``max_idle`` seconds or more. A busy connection past its lifetime is closed when it is
  returned, as Go's is: nothing interrupts a query.

Listeners registered with ``on_change`` (the connection gauges of ``codeai.metrics``) run after
each change, so the figures are current in a process that serves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import monotonic
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool
from psycopg_pool.pool import MaintenanceTask, Schedule

logger = logging.getLogger(__name__)

_listeners: list[Callable[[], None]] = []


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after each change of a pool of this process (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _notify() -> None:
    for listener in list(_listeners):
        try:
            listener()
        except Exception:  # a gauge must never break a query
            logger.exception("connection pool listener failed")


def sweep_interval(max_lifetime: float, max_idle: float) -> float:
    """How often idle connections are checked: a tenth of the shorter bound, 0.5 s to 15 s."""
    return min(max(min(max_lifetime, max_idle) / 10, 0.5), 15.0)


class _CloseStale(MaintenanceTask):
    """Close idle connections past their lifetime or idle time, then run again later."""

    def _run(self, pool: ConnectionPool[Any]) -> None:
        assert isinstance(pool, InstancePool)
        pool.schedule_task(self, pool.sweep_interval)
        pool.close_stale()


class InstancePool(ConnectionPool[Connection[Any]]):
    """``ConnectionPool`` with an idle limit and idle connections closed by age and idleness."""

    def __init__(self, *, idle_limit: int, busy_timeout: float, **kwargs: Any) -> None:
        self.idle_limit = idle_limit
        self.busy_timeout = busy_timeout
        super().__init__(min_size=0, **kwargs)

    @property
    def sweep_interval(self) -> float:
        return sweep_interval(self.max_lifetime, self.max_idle)

    def _start_initial_tasks(self) -> None:
        super()._start_initial_tasks()
        self.run_task(Schedule(self, _CloseStale(self), self.sweep_interval))

    def getconn(self, timeout: float | None = None) -> Connection[Any]:
        """A connection; when the whole share is open and in use, wait up to
        ``busy_timeout`` for one to come back (a busy instance is no failure), else up to
        ``timeout`` for a new one (PostgreSQL slow or away: fail soon)."""
        if timeout is None:
            with self._lock:
                busy = self._nconns >= self.max_size and not self._pool
            timeout = self.busy_timeout if busy else self.timeout
        conn = super().getconn(timeout)
        _notify()
        return conn

    def putconn(self, conn: Connection[Any]) -> None:
        super().putconn(conn)
        _notify()

    def _add_to_pool(self, conn: Connection[Any]) -> None:
        with self._lock:
            surplus = not self._closed and not self._waiting and len(self._pool) >= self.idle_limit
            if surplus:
                self._nconns -= 1
        if surplus:
            logger.debug("closing a returned connection: %s already idle", self.idle_limit)
            self._close_connection(conn)
            _notify()
            return
        conn._codeai_idle_since = monotonic()  # type: ignore[attr-defined]
        super()._add_to_pool(conn)

    def close_stale(self) -> int:
        """Close the idle connections past ``max_lifetime`` or idle ``max_idle`` seconds;
        return how many."""
        now = monotonic()
        with self._lock:
            stale = [
                conn
                for conn in self._pool
                if conn._expire_at <= now
                or now - getattr(conn, "_codeai_idle_since", now) >= self.max_idle
            ]
            for conn in stale:
                self._pool.remove(conn)
            self._nconns -= len(stale)
        for conn in stale:
            self._close_connection(conn)
        if stale:
            logger.debug(
                "closed %s idle connection(s) past their lifetime or idle time", len(stale)
            )
            _notify()
        return len(stale)
