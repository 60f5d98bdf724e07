"""The Celery application: ``celery -A codeai worker`` and ``celery -A codeai beat``."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

# filesystem:// (the embedded default) is kombu's transport writing each message whole, and
# redis:// and rediss:// kombu's reusing one client per channel (codeai/kernel/broker.py);
# aliases, so a broker URL of any other scheme still picks its own.
TRANSPORT_ALIASES["filesystem"] = "codeai.kernel.broker:Transport"
TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = "codeai.kernel.broker:RedisTransport"

app = Celery("codeai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A pool process forked from the worker inherits its PostgreSQL connection pools, and with
# them the sockets the worker's periodic-duty thread goes on using: two processes on one
# connection read each other's results. The child sets the inherited pools aside, untouched
# (closing them would end the parent's sessions; billiard ends a child with os._exit, so
# they are never finalised either), and opens pools of its own.
_inherited_pools: list[object] = []


#
# The worker is one instance: its main process (the consumer and the periodic-duty thread) and
# its N pool processes share CODEAI_DB_MAX_OPEN_CONNS and CODEAI_DB_MAX_IDLE_CONNS. Pool
# process i takes slot i of N + 1 and the main process slot N (codeai.db.pool); a replaced pool
# process keeps its index, hence its slot.


def prepare_publishing() -> None:
    """Load what a process's first publish would: the apps' task modules, the app's tasks and
    the broker's transport class. Nothing connects: a broker that is down at start fails the
    publishes, not the start."""
    app.autodiscover_tasks(force=True)
    app.finalize(auto=True)
    app.connection_for_write().get_transport_cls()


@worker_init.connect
def _main_process_slot(sender: object, **_kwargs: object) -> None:
    from django.conf import settings

    from codeai.kernel import conf

    concurrency = int(getattr(sender, "concurrency", 0) or 1)
    problem = conf.instance_processes_problem(
        settings.CODEAI, concurrency + 1, f"{concurrency} pool processes and the main one"
    )
    if problem:
        # Celery logs and ignores a receiver's exception; `codeai worker start` refused
        # already, a bare `celery worker` goes on with one connection per process.
        logging.getLogger(__name__).error("%s", problem)
    os.environ[conf.POOL_SLOT_VARIABLE] = f"{concurrency}/{concurrency + 1}"


@worker_init.connect
def _share_idle_connections(**_kwargs: object) -> None:
    """In the main process, before the pool forks: the processes keep
    CODEAI_DB_MAX_IDLE_CONNS idle in all (``codeai.db.pool.IdleLedger``)."""
    from django.conf import settings

    from codeai.db import pool

    pool.share_idle_connections(settings.CODEAI["CODEAI_DB_MAX_IDLE_CONNS"])


@worker_init.connect
def _build_the_dsl_parser(**_kwargs: object) -> None:
    """In the main process, before the pool forks: every pool process starts with it built."""
    from codeai import dsl

    dsl.prepare()


@worker_process_init.connect
def _own_connection_pools(**_kwargs: object) -> None:
    from billiard.process import current_process
    from django.db.backends.postgresql.base import DatabaseWrapper

    from codeai.kernel import conf

    _inherited_pools.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools.clear()
    _main_slot, processes = conf.pool_slot()
    index = getattr(current_process(), "index", None)
    if isinstance(index, int) and index < processes - 1:
        os.environ[conf.POOL_SLOT_VARIABLE] = f"{index}/{processes}"
