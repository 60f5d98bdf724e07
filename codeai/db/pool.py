"""A psycopg pool that keeps the deployment guide's promises for one process of an instance.

The guide's pool is Go's ``database/sql`` pool: at most ``MaxOpenConns`` connections, at most
``MaxIdleConns`` of them idle (a connection returned to a full idle set is closed at once),
none older than ``ConnMaxLifetime`` and none idle longer than ``ConnMaxIdleTime`` (1 minute).
An instance of CodeAI is several processes (gunicorn's workers, Celery's pool), so each process
gets its share of the instance's two budgets (``codeai.kernel.conf.process_share``) and
``InstancePool`` holds it to them:

* ``max_size`` is the process's share of CODEAI_DB_MAX_OPEN_CONNS and ``min_size`` is 0: no
  connection is opened before it is needed, none is kept open for its own sake;
* CODEAI_DB_MAX_IDLE_CONNS is the whole instance's, as Go's one pool keeps ``MaxIdleConns``: a
  connection coming back while that many of the instance's are idle (and nobody in its
  process waits) is closed. The processes count their idle connections in an ``IdleLedger``
  that gunicorn's master and Celery's main process make before they fork; a process without
  one (a management command, a bare ``celery`` or ``gunicorn``) keeps at most ``idle_limit``,
  its share of the figure. A process that holds several requests at once (a gunicorn worker's
  threads) so keeps their connections while the others idle fewer, instead of closing one
  and opening a PostgreSQL session again for the next request;
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

import contextlib
import fcntl
import logging
import mmap
import os
import struct
import tempfile
from collections.abc import Callable, Iterator
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


class IdleLedger:
    """How many connections each pool of an instance's processes holds idle, in memory shared
    with every process forked after it was made. Each pool writes only its own entry (the
    pid that claimed it, its idle count, its own share of the figure); a process that died
    leaves its entry behind, which counts (so the instance keeps fewer idle, never more) until
    the figure is reached and the entries of dead pids are dropped. Writes and the check
    before a connection is kept idle take a POSIX record lock of a file only the instance has
    open, which the kernel releases when its holder dies; the threads of one process take
    turns under their pool's lock.

    A pool may keep more than its share idle while the instance is under its figure. When a
    pool below its share is refused because others hold more than theirs, it asks for them
    back (``reclaims`` counts the asks): each pool looks twice a second and closes what it
    holds beyond its share, so connections left idle in a process whose clients went
    elsewhere do not make another open a session for each of its requests."""

    _HEADER = struct.Struct("qq")  # the figure, reclaims asked
    _ENTRY = struct.Struct("qqq")  # pid, idle connections, share
    _IDLE = struct.Struct("q")  # an entry's idle count, the only field written after its claim
    ENTRIES = 256  # processes (gunicorn's old and new workers during a reload included)
    _ALL_ENTRIES = struct.Struct(f"{3 * ENTRIES}q")  # read at once

    def __init__(self, limit: int) -> None:
        self._memory = mmap.mmap(-1, self._HEADER.size + self.ENTRIES * self._ENTRY.size)
        descriptor, path = tempfile.mkstemp(prefix="codeai-idle-ledger-")
        os.unlink(path)  # the descriptor is all the instance's processes need
        self._lock_fd = descriptor
        self.limit = limit

    @property
    def limit(self) -> int:
        return self._HEADER.unpack_from(self._memory, 0)[0]

    @limit.setter
    def limit(self, value: int) -> None:
        with self._exclusive():
            self._HEADER.pack_into(self._memory, 0, value, self.reclaims)

    @property
    def reclaims(self) -> int:
        return self._HEADER.unpack_from(self._memory, 0)[1]

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        fcntl.lockf(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_UN)

    def _entries(self) -> list[tuple[int, int, int]]:
        flat = self._ALL_ENTRIES.unpack_from(self._memory, self._HEADER.size)
        return list(zip(flat[0::3], flat[1::3], flat[2::3], strict=True))

    def _offset(self, index: int) -> int:
        return self._HEADER.size + index * self._ENTRY.size

    def _write(self, index: int, pid: int, idle: int, share: int) -> None:
        self._ENTRY.pack_into(self._memory, self._offset(index), pid, idle, share)

    def _write_idle(self, index: int, idle: int) -> None:
        # the second field, after the pid (each field is one 8-byte q)
        self._IDLE.pack_into(self._memory, self._offset(index) + self._IDLE.size, idle)

    def claim(self, share: int) -> int | None:
        """An entry of this process's own (a free one or a dead process's), or None when all
        are taken."""
        with self._exclusive():
            for index, (pid, _idle, _share) in enumerate(self._entries()):
                if pid == 0 or not _alive(pid):
                    self._write(index, os.getpid(), 0, share)
                    return index
        return None

    def release(self, index: int) -> None:
        with self._exclusive():
            self._write(index, 0, 0, 0)

    def record(self, index: int, idle: int) -> None:
        with self._exclusive():
            self._write_idle(index, idle)

    def admit(self, index: int, idle: int) -> bool:
        """Whether entry ``index``, holding ``idle`` connections idle, may keep one more; if
        so it counts it at once, so no other process keeps one in its place."""
        with self._exclusive():
            entries = self._entries()
            if self._others(entries, index) + idle >= self.limit and self._drop_the_dead(entries):
                entries = self._entries()
            admitted = self._others(entries, index) + idle < self.limit
            self._write_idle(index, idle + admitted)
            share = entries[index][2]
            borrowed = any(
                other_idle > other_share
                for other, (_pid, other_idle, other_share) in enumerate(entries)
                if other != index
            )
            if not admitted and idle < share and borrowed:
                self._HEADER.pack_into(self._memory, 0, self.limit, self.reclaims + 1)
            return admitted

    @staticmethod
    def _others(entries: list[tuple[int, int, int]], index: int) -> int:
        return sum(idle for other, (_pid, idle, _share) in enumerate(entries) if other != index)

    def _drop_the_dead(self, entries: list[tuple[int, int, int]]) -> bool:
        dropped = False
        for index, (pid, idle, _share) in enumerate(entries):
            if pid and not _alive(pid):
                self._write(index, 0, 0, 0)
                dropped = dropped or idle > 0
        return dropped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        pass
    return True


_ledger: IdleLedger | None = None


def share_idle_connections(limit: int) -> None:
    """Called by the process that forks the instance's others (gunicorn's master, Celery's
    main process) before it forks them, and again with the figure a reload read: their pools
    keep at most ``limit`` connections idle in all."""
    global _ledger
    if _ledger is None:
        _ledger = IdleLedger(limit)
    else:
        _ledger.limit = limit


def idle_ledger() -> IdleLedger | None:
    """The instance's ledger, when the process that forked this one made it."""
    return _ledger


def sweep_interval(max_lifetime: float, max_idle: float) -> float:
    """How often idle connections are checked: a tenth of the shorter bound, 0.5 s to 15 s."""
    return min(max(min(max_lifetime, max_idle) / 10, 0.5), 15.0)


# How often a pool looks whether another asked for the idle connections it holds beyond its
# share (one read of shared memory).
RECLAIM_INTERVAL = 0.5


class _GiveBackBorrowed(MaintenanceTask):
    """Close the idle connections held beyond the pool's share once another pool asked."""

    def _run(self, pool: ConnectionPool[Any]) -> None:
        assert isinstance(pool, InstancePool)
        pool.schedule_task(self, RECLAIM_INTERVAL)
        pool.give_back_borrowed()


class _CloseStale(MaintenanceTask):
    """Close idle connections past their lifetime or idle time, then run again later."""

    def _run(self, pool: ConnectionPool[Any]) -> None:
        assert isinstance(pool, InstancePool)
        pool.schedule_task(self, pool.sweep_interval)
        pool.close_stale()


class InstancePool(ConnectionPool[Connection[Any]]):
    """``ConnectionPool`` with an idle limit (the instance's, in ``ledger``, or else its own
    ``idle_limit``) and idle connections closed by age and idleness."""

    def __init__(
        self,
        *,
        idle_limit: int,
        busy_timeout: float,
        ledger: IdleLedger | None = None,
        **kwargs: Any,
    ) -> None:
        self.idle_limit = idle_limit
        self.busy_timeout = busy_timeout
        self._ledger = ledger
        self._ledger_entry: int | None = None  # claimed when first needed
        self._reclaims_seen = 0 if ledger is None else ledger.reclaims
        super().__init__(min_size=0, **kwargs)

    def _ledger_slot(self) -> tuple[IdleLedger, int] | None:
        """Under the pool's lock: the ledger and this pool's entry in it, claimed when first
        needed; None without one (no ledger, or all its entries taken: then ``idle_limit``
        applies)."""
        if self._ledger is None:
            return None
        if self._ledger_entry is None:
            self._ledger_entry = self._ledger.claim(self.idle_limit)
            if self._ledger_entry is None:
                logger.warning("the idle ledger is full: this process keeps its own share")
                self._ledger = None
                return None
        return self._ledger, self._ledger_entry

    def _may_keep_idle(self) -> bool:
        """Under the pool's lock: whether a connection coming back may stay idle."""
        slot = self._ledger_slot()
        if slot is None:
            return len(self._pool) < self.idle_limit
        ledger, entry = slot
        return ledger.admit(entry, len(self._pool))

    def _record_idle(self) -> None:
        if self._ledger is not None and not self._closed:
            with self._lock:
                slot = self._ledger_slot()
                if slot is not None:
                    ledger, entry = slot
                    ledger.record(entry, len(self._pool))

    @property
    def sweep_interval(self) -> float:
        return sweep_interval(self.max_lifetime, self.max_idle)

    def _start_initial_tasks(self) -> None:
        super()._start_initial_tasks()
        self.run_task(Schedule(self, _CloseStale(self), self.sweep_interval))
        if self._ledger is not None:
            self.run_task(Schedule(self, _GiveBackBorrowed(self), RECLAIM_INTERVAL))

    def getconn(self, timeout: float | None = None) -> Connection[Any]:
        """A connection; when the whole share is open and in use, wait up to
        ``busy_timeout`` for one to come back (a busy instance is no failure), else up to
        ``timeout`` for a new one (PostgreSQL slow or away: fail soon)."""
        if timeout is None:
            with self._lock:
                busy = self._nconns >= self.max_size and not self._pool
            timeout = self.busy_timeout if busy else self.timeout
        conn = super().getconn(timeout)
        self._record_idle()
        _notify()
        return conn

    def putconn(self, conn: Connection[Any]) -> None:
        super().putconn(conn)
        _notify()

    def _add_to_pool(self, conn: Connection[Any]) -> None:
        with self._lock:
            surplus = not self._closed and not self._waiting and not self._may_keep_idle()
            if surplus:
                self._nconns -= 1
        if surplus:
            logger.debug("closing a returned connection: the instance's idle ones are enough")
            self._close_connection(conn)
            _notify()
            return
        conn._codeai_idle_since = monotonic()  # type: ignore[attr-defined]
        super()._add_to_pool(conn)
        self._record_idle()  # counted already, unless a waiting thread took it

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        with self._lock:
            if self._ledger is not None and self._ledger_entry is not None:
                self._ledger.release(self._ledger_entry)
                self._ledger_entry = None

    def give_back_borrowed(self) -> int:
        """When another pool asked since the last look, close the idle connections held
        beyond ``idle_limit``; return how many."""
        ledger = self._ledger
        if ledger is None or ledger.reclaims == self._reclaims_seen:
            return 0
        with self._lock:
            self._reclaims_seen = ledger.reclaims
            surplus = [self._pool.popleft() for _ in range(len(self._pool) - self.idle_limit)]
            self._nconns -= len(surplus)
        return self._close_idle(surplus, "beyond this process's share")

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
        return self._close_idle(stale, "past their lifetime or idle time")

    def _close_idle(self, taken: list[Connection[Any]], why: str) -> int:
        """Close idle connections already taken out of the pool and its count."""
        for conn in taken:
            self._close_connection(conn)
        if taken:
            self._record_idle()
            logger.debug("closed %s idle connection(s) %s", len(taken), why)
            _notify()
        return len(taken)
