"""The PostgreSQL backend: Django's own, its pool an ``InstancePool``
sized for this process's share of the instance (see ``codeai.db.pool``).

``OPTIONS["pool"]`` holds the instance's figures, as the settings read them:
``max_open_conns`` and ``max_idle_conns`` (the whole instance), ``max_lifetime``, ``max_idle``
(seconds), ``timeout`` (how long a query waits for a new connection) and ``busy_timeout``
(how long it waits for one of the process's busy connections to come back).
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg import adapt

from codeai.db.pool import InstancePool, idle_ledger
from codeai.kernel import conf

logger = logging.getLogger(__name__)


def pool_sizes(max_open: int, max_idle: int, slot: int, processes: int) -> tuple[int, int]:
    """``(max_size, idle_limit)`` of process ``slot`` of ``processes``: at least one
    connection each (an instance of more processes than connections is refused at start)."""
    size = conf.process_share(max_open, slot, processes)
    if size < 1:
        logger.warning(
            "process %s of %s gets no share of CODEAI_DB_MAX_OPEN_CONNS=%s; it opens one",
            slot + 1, processes, max_open,
        )  # fmt: skip
        size = 1
    return size, min(size, conf.process_share(max_idle, slot, processes))


_TIMESTAMPTZ = psycopg.postgres.types["timestamptz"].oid
# psycopg's own text loader of timestamptz: the C one where its binary package is installed.
_loader = psycopg.adapters.get_loader(_TIMESTAMPTZ, psycopg.pq.Format.TEXT)
if _loader is None:  # psycopg always has one
    raise ImportError("psycopg has no text loader for timestamptz")
_PSYCOPG_TIMESTAMPTZ_LOADER = _loader


class UTCTimestamptzLoader(adapt.Loader):
    """A ``timestamptz`` read as an aware UTC datetime, parsed by psycopg's own loader (its C
    one where psycopg's binary package is installed, as here).

    Django registers a subclass of psycopg's pure-Python loader that re-tags each value with
    the connection's zone: about 20 times the C parse (2.7 us against 0.14 us a value, about
    0.25 ms of a 50-row list, whose rows carry two each). The session's TimeZone is UTC
    (Django sets it to the connection's zone), so the parse already carries UTC; any other
    offset is converted. ``timezone`` is what Django's cursor compares to decide that the
    connection's loader is right for it."""

    timezone = datetime.UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._parse = _PSYCOPG_TIMESTAMPTZ_LOADER(oid, context).load

    def load(self, data: Any) -> datetime.datetime:
        value = self._parse(data)
        return value if value.tzinfo is datetime.UTC else value.astimezone(datetime.UTC)


@functools.cache
def _utc_adapters(django_template: adapt.AdaptersMap) -> adapt.AdaptersMap:
    adapters = adapt.AdaptersMap(django_template)
    adapters.register_loader(_TIMESTAMPTZ, UTCTimestamptzLoader)
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's own, missing from django-stubs (annotations only: nothing is set here).
    _connection_pools: dict[str, InstancePool]
    _configure_connection: Callable[..., None]

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if self.timezone is datetime.UTC:  # USE_TZ with the database in UTC (ours)
            params["context"] = _utc_adapters(params["context"])
        return params

    @property
    def pool(self) -> InstancePool | None:
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            slot, processes = conf.pool_slot()
            size, idle = pool_sizes(
                options["max_open_conns"], options["max_idle_conns"], slot, processes
            )
            kwargs = self.get_connection_params()
            kwargs["autocommit"] = True  # Django sets the connection's own mode later
            pool = InstancePool(
                kwargs=kwargs,
                open=False,
                configure=self._configure_connection,
                check=(
                    InstancePool.check_connection
                    if self.settings_dict["CONN_HEALTH_CHECKS"]
                    else None
                ),
                name=f"{self.alias}-{slot}/{processes}",
                max_size=size,
                idle_limit=idle,
                ledger=idle_ledger(),
                max_lifetime=options["max_lifetime"],
                max_idle=options["max_idle"],
                timeout=options["timeout"],
                busy_timeout=options["busy_timeout"],
            )
            # The first of several threads creating it at once wins (it is not opened yet).
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
