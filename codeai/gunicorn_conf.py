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
"""

from __future__ import annotations

import math
import os

from codeai import conf
from codeai import logging as codeai_logging
from codeai.cli import cpu_count

# Prometheus multiprocess folder and dead-worker cleanup (see codeai.gunicorn_hooks).
from codeai.gunicorn_hooks import child_exit, on_exit, on_starting  # noqa: F401

THREADS_PER_WORKER = 4


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_settings = conf.load()

wsgi_app = "codeai.wsgi:application"
proc_name = "codeai"
bind = [bind_address(_settings["CODEAI_HOST"], _settings["CODEAI_PORT"])]
workers = 2 * cpu_count() + 1
worker_class = "gthread"
threads = THREADS_PER_WORKER
timeout = math.ceil(_settings["CODEAI_READ_TIMEOUT"] + _settings["CODEAI_WRITE_TIMEOUT"])
graceful_timeout = timeout
keepalive = math.ceil(_settings["CODEAI_IDLE_TIMEOUT"])
# gunicorn's own lines (start, worker boots, errors) in the app's format: JSON for Promtail.
logconfig_dict = codeai_logging.logging_config(
    _settings["CODEAI_LOG_FORMAT"], codeai_logging.python_level(_settings["CODEAI_LOG_LEVEL"])
)
# Worker heartbeat files: RAM, never the (possibly read-only) image filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
