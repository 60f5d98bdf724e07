"""Log formatting and request ids.

``CODEAI_LOG_FORMAT=json`` writes one JSON object per line with the fields the guide's Promtail
pipeline reads (``time`` in RFC 3339, ``level``, ``msg``) plus ``logger`` and ``request_id``;
``text`` writes the same for people. Both redact secrets: the configured secret values,
``Authorization``/``Bearer`` credentials, JWTs and URL passwords never reach the output.

The request id lives in a context variable: the request middleware binds it for each request
(``get_request_id()`` reads it, e.g. to store it on a row). A Celery task published while an id
is bound carries it in a message header and the worker binds it for the task's run, so every
log line of that run carries it too; code outside a task can bind one explicitly with
``with bind_request_id(execution.request_id): ...``.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from django.http import HttpRequest

from codeai.kernel.conf import MASK, OPTIONS, mask_url_password

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

_request_id: ContextVar[str | None] = ContextVar("codeai_request_id", default=None)


def get_request_id() -> str | None:
    """The request id bound to the current request, task or thread, if any."""
    return _request_id.get()


@contextmanager
def bind_request_id(request_id: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with ``request_id`` (``None``: no id)."""
    token = _request_id.set(request_id or None)
    try:
        yield
    finally:
        _request_id.reset(token)


# Celery: a task published while a request id is bound carries it in a message header, and
# the worker binds it for the task's run, so the worker's log lines of that task carry it too.
_TASK_HEADER = "codeai_request_id"
_task_bindings: dict[str, Token[str | None]] = {}


@setup_logging.connect(dispatch_uid="codeai.kernel.logs.worker")
def _configure_worker_logging(**_: Any) -> None:
    """Celery workers log through Django's LOGGING (format and CODEAI_LOG_LEVEL) instead of
    Celery's own handlers and its ``--loglevel`` default."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if settings.CODEAI["CODEAI_LOG_FORMAT"] == "json":
        celery_console_as_json()


CELERY_WORKER_LOGGER = "celery.apps.worker"


def celery_console_as_json() -> None:
    """Celery's worker prints its banner (to stdout) and its shutdown notices (with
    ``os.write``, from signal handlers) past logging: in JSON mode both become records of
    ``celery.apps.worker``, so every line the worker writes is one JSON object."""
    from celery.apps import worker as celery_worker

    console = logging.getLogger(CELERY_WORKER_LOGGER)
    formatter = JSONFormatter()

    def say(message: str, _stream: Any = None) -> None:
        # Called from signal handlers, as Celery's own: one os.write, no handler lock.
        if console.isEnabledFor(logging.INFO):
            record = console.makeRecord(
                CELERY_WORKER_LOGGER, logging.INFO, __file__, 0, message.strip(), (), None
            )
            os.write(2, (formatter.format(record) + "\n").encode())

    def emit_banner(worker: Any) -> None:
        banner = worker.startup_info(artlines=False) + (worker.extra_info() or "")
        console.info("%s", banner.strip())

    celery_worker.safe_say = say
    celery_worker.Worker.emit_banner = emit_banner


@before_task_publish.connect(dispatch_uid="codeai.kernel.logs.publish")
def _add_request_id_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = get_request_id()
    if request_id and headers is not None:
        headers[_TASK_HEADER] = request_id


@task_prerun.connect(dispatch_uid="codeai.kernel.logs.prerun")
def _bind_task_request_id(task_id: str, task: Any, **_: Any) -> None:
    request_id = getattr(task.request, _TASK_HEADER, None)
    if request_id:
        _task_bindings[task_id] = _request_id.set(request_id)


@task_postrun.connect(dispatch_uid="codeai.kernel.logs.postrun")
def _unbind_task_request_id(task_id: str, **_: Any) -> None:
    token = _task_bindings.pop(task_id, None)
    if token is not None:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Give each record the bound request id (an explicit ``extra={"request_id": ...}`` wins),
    else its request's: Django logs a 4xx or 5xx response (``django.request``) after the
    middleware that binds the id has returned."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request = getattr(record, "request", None)
            record.request_id = get_request_id() or getattr(request, "request_id", None)
        return True


# Credentials that can show up in messages, exceptions or extra fields, whatever the source.
_SECRET_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    (
        re.compile(
            r"(?i)\b(authorization|password|passwd|secret|api[_-]?key|token)"
            r"(['\"]?\s*[:=]\s*['\"]?)(?!\*{4})[^\s'\",;&}]+"
        ),
        rf"\1\2{MASK}",
    ),
)
_SENSITIVE_KEY = re.compile(r"(?i)authorization|password|passwd|secret|token|api[_-]?key|cookie")


@lru_cache(maxsize=1)
def _configured_secrets() -> tuple[str, ...]:
    """The secret values of this installation (longest first), once settings are loaded."""
    from django.conf import settings

    values = [getattr(settings, "SECRET_KEY", "")]
    codeai = getattr(settings, "CODEAI", None)
    if codeai is not None:
        values += [codeai[option.env] for option in OPTIONS if option.secret]
    return tuple(sorted({v for v in values if isinstance(v, str) and len(v) >= 4}, key=len)[::-1])


def redact(text: str) -> str:
    """``text`` with every secret this module knows of replaced by ``****``."""
    try:
        secrets = _configured_secrets()
    except Exception:  # settings not configured (a bare script): the patterns still apply
        secrets = ()
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = mask_url_password(text)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {}
    for key, value in vars(record).items():
        if key in _RECORD_ATTRIBUTES or key.startswith("_") or key == "request_id":
            continue
        if _SENSITIVE_KEY.search(key):
            value = MASK
        elif isinstance(value, HttpRequest):
            # Django's loggers pass the request itself, whose text is its full URL: the query
            # string can carry credentials (a reset code, a signed link), so only the path.
            value = redact(f"{value.method} {value.path}")
        elif isinstance(value, str):
            value = redact(value)
        elif not isinstance(value, int | float | bool | type(None)):
            value = redact(str(value))
        fields[key] = value
    return fields


class JSONFormatter(logging.Formatter):
    """``{"time", "level", "msg", "logger", "request_id", ...extra}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "msg": redact(record.getMessage()),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or get_request_id(),
        }
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exc_info"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time level [request id] logger: message key=value ...`` for people, secrets redacted."""

    # UTC like the JSON lines, whatever the host's zone (Django sets TZ only after settings).
    converter = time.gmtime  # type: ignore[assignment]  # typeshed: gmtime(secs=None)

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extra = _extra_fields(record)
        record = logging.makeLogRecord(vars(record))  # other handlers keep the original
        record.request_id = getattr(record, "request_id", None) or get_request_id() or "-"
        # Redact what the program wrote, not the line's frame (logger names, levels, time).
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        line = super().format(record)
        return " ".join([line, *(f"{key}={value}" for key, value in extra.items())])


def python_level(codeai_level: str) -> str:
    """CODEAI_LOG_LEVEL (debug, info, warn or warning, error) as Python's logging names it."""
    return "WARNING" if codeai_level in ("warn", "warning") else codeai_level.upper()


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The ``dictConfig`` for Django (``LOGGING``), Celery workers and gunicorn's own loggers
    (gunicorn's ``logconfig_dict``): everything through one console handler and format.
    The handler itself drops records below ``level``, so no logger (one set to a lower level
    of its own, a library's) gets a warning past CODEAI_LOG_LEVEL=error."""
    console = {"handlers": ["console"], "level": level, "propagate": False}
    # SQL statements are DEBUG records: never logged, whatever the level.
    sql_level = "INFO" if logging.getLevelName(level) < logging.INFO else level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSONFormatter}, "text": {"()": TextFormatter}},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
                "level": level,
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": sql_level},
            "gunicorn.error": console,
            "gunicorn.access": console,
            # billiard's pool messages ("Process ... exited with ..."): it turns propagation
            # off, so without a handler of its own they would reach stderr unformatted.
            "multiprocessing": console,
        },
    }
