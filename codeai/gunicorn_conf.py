"""Gunicorn settings for ``codeai server start``, from the deployment guide's variables.

``codeai server start`` passes this file by path, so a HUP (``systemctl reload codeai``) makes
the gunicorn master read it again (with the YAML files) before restarting its workers.
``GUNICORN_CMD_ARGS`` still overrides anything here, e.g. ``GUNICORN_CMD_ARGS="--workers 3"``.

How the guide's Go-style HTTP timeouts map onto gunicorn, which has no per-request read or
write deadline (a request's whole budget under the guide is read + write):

* ``CODEAI_READ_TIMEOUT`` + ``CODEAI_WRITE_TIMEOUT`` -> ``timeout``: how long a worker process
  may stop checking in with the master (hung, not merely busy: the threaded worker keeps
  checking in while a thread serves a slow request) before it is killed and replaced
  (default 15s + 15s = 30s).
* the same sum -> ``graceful_timeout``: after SIGTERM or HUP, workers get this long to finish
  the requests they hold, so a request within its read + write budget completes.
* ``CODEAI_IDLE_TIMEOUT`` -> ``keepalive``: how long a kept-alive connection may wait for its
  next request (default 60s). Keep-alive needs the threaded worker, hence ``gthread``.

Connections: the instance (this master and all its workers) holds at most
CODEAI_DB_MAX_OPEN_CONNS connections and keeps at most CODEAI_DB_MAX_IDLE_CONNS idle. ``pre_fork``
tells each worker its slot ("i/n", in CODEAI_POOL_SLOT) and the worker's pool opens its share
(``codeai.db.pool``); ``on_starting`` refuses more workers than connections (``--workers`` in
GUNICORN_CMD_ARGS too). A HUP gives the new workers the slots of the old ones they replace;
TTIN/TTOU change the count without resizing the running workers' shares, so use HUP (or a
restart) with a new ``--workers`` instead.

Slow clients: a gthread thread reads a request's header blocking, so a client that sends its
header slowly holds one thread until it is done. Each process has ``THREADS_PER_WORKER``
threads so that a dozen such clients landing on one process leave it threads for everyone
else (``/live`` keeps answering); the README's buffering nginx in front removes them entirely.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from gunicorn import glogging

from codeai import dsl
from codeai.db import pool

# Prometheus multiprocess folder and dead-worker cleanup (see codeai.gunicorn_hooks).
from codeai.gunicorn_hooks import child_exit, on_exit  # noqa: F401
from codeai.gunicorn_hooks import on_starting as _metrics_on_starting
from codeai.kernel import conf
from codeai.kernel import logs as codeai_logging
from codeai.kernel.cpus import cpu_count

# A dozen slow clients on one process plus a few real requests; threads waiting for a header
# hold no database connection, and 16 stay below the pool's default 25 (CODEAI_DB_MAX_OPEN_CONNS).
THREADS_PER_WORKER = 16
# One header line may be this long: an Authorization header with a token listing many roles
# is 9-10 KB, over gunicorn's default 8190 (which answers its own 431 page). 100 fields
# (gunicorn's default count) of at most this size bound what one request's header may hold.
MAX_HEADER_FIELD_BYTES = 16384
# The request line (method, path, query string): gunicorn's maximum, for long filter URLs.
MAX_REQUEST_LINE_BYTES = 8190


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_settings = conf.load()

wsgi_app = "codeai.wsgi:application"
proc_name = "codeai"
bind = [bind_address(_settings["CODEAI_HOST"], _settings["CODEAI_PORT"])]
# 2 x CPUs + 1, but never more processes than the instance's connections: each needs one.
workers = min(2 * cpu_count() + 1, _settings["CODEAI_DB_MAX_OPEN_CONNS"])
worker_class = "gthread"
threads = THREADS_PER_WORKER
timeout = math.ceil(_settings["CODEAI_READ_TIMEOUT"] + _settings["CODEAI_WRITE_TIMEOUT"])
graceful_timeout = timeout
keepalive = math.ceil(_settings["CODEAI_IDLE_TIMEOUT"])
limit_request_field_size = MAX_HEADER_FIELD_BYTES
limit_request_line = MAX_REQUEST_LINE_BYTES


class Logger(glogging.Logger):
    """gunicorn's logger without its access log: the app writes one line per request
    (``codeai.request``, with the request id, route and duration). With a ``logconfig_dict``
    gunicorn wrote a second, id-less line of every request, and building it (the atoms of
    every header) took 4.5% of the deployment list's CPU in a worker."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return


logger_class = Logger
# gunicorn's own lines (start, worker boots, errors) in the app's format: JSON for Promtail.
logconfig_dict = codeai_logging.logging_config(
    _settings["CODEAI_LOG_FORMAT"], codeai_logging.python_level(_settings["CODEAI_LOG_LEVEL"])
)
# Worker heartbeat files: RAM, never the (possibly read-only) image filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def on_starting(server: Any) -> None:
    """Refuse more worker processes than the instance's connections, then the metrics folder,
    the instance's idle ledger and the DSL's parser (made once here, every worker forked
    with them)."""
    problem = conf.instance_processes_problem(_settings, server.cfg.workers, "gunicorn workers")
    if problem:
        print(f"configuration error: {problem}", file=sys.stderr)
        sys.exit(1)
    _metrics_on_starting(server)
    pool.share_idle_connections(_settings["CODEAI_DB_MAX_IDLE_CONNS"])
    dsl.prepare()


def on_reload(server: Any) -> None:
    """A HUP cannot refuse to reload: more workers than connections is logged as an error
    (each of them still opens one connection). The idle figure read now is the ledger's."""
    problem = conf.instance_processes_problem(_settings, server.cfg.workers, "gunicorn workers")
    if problem:
        server.log.error("configuration error: %s", problem)
    pool.share_idle_connections(_settings["CODEAI_DB_MAX_IDLE_CONNS"])


def pre_fork(server: Any, worker: Any) -> None:
    """Give the worker about to start a slot of the instance's connection budget: the lowest
    one that none of the newest ``n - 1`` workers holds (after a HUP the oldest, replaced ones
    still run for a moment; they leave as the new ones arrive)."""
    processes = server.num_workers
    by_age = sorted(server.WORKERS.values(), key=lambda other: other.age)
    newest = by_age[max(0, len(by_age) - (processes - 1)) :]
    taken = {getattr(other, "codeai_slot", None) for other in newest}
    slot = next(index for index in range(processes) if index not in taken)
    worker.codeai_slot = slot
    os.environ[conf.POOL_SLOT_VARIABLE] = f"{slot}/{processes}"
