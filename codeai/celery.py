"""The Celery application: ``celery -A codeai worker`` and ``celery -A codeai beat``."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

# filesystem:// (the embedded default) is kombu's transport writing each message whole
# (codeai/kernel/broker.py); an alias, so a broker URL of any other scheme still picks its own.
TRANSPORT_ALIASES["filesystem"] = "codeai.kernel.broker:Transport"

app = Celery("codeai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A pool process forked from the worker inherits its PostgreSQL connection pools, and with
# them the sockets the worker's periodic-duty thread goes on using: two processes on one
# connection read each other's results. The child sets the inherited pools aside, untouched
# (closing them would end the parent's sessions; billiard ends a child with os._exit, so
# they are never finalised either), and opens pools of its own.
_inherited_pools: list[object] = []


@worker_process_init.connect
def _own_connection_pools(**_kwargs: object) -> None:
    from django.db.backends.postgresql.base import DatabaseWrapper

    _inherited_pools.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools.clear()
