"""Signals of executions for the apps above it (webhooks): executions imports none of them.

``execution_status_changed`` is sent once a status move has committed (``queued -> running``,
``running -> succeeded`` ...), never inside the transaction that moved it, so a receiver sees
the committed row and a rollback sends nothing. Receivers must be quick (they run in the web
request or the worker that moved the status): hand slow work to a Celery task.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent with execution_id (the execution's primary key) and status (the status it moved to).
execution_status_changed = Signal()


def _send(execution_id: Any, status: str) -> None:
    for receiver, result in execution_status_changed.send_robust(
        sender="executions.Execution", execution_id=execution_id, status=status
    ):
        if isinstance(result, Exception):
            logger.error(
                "execution %s moved to %s: receiver %s failed: %s",
                execution_id,
                status,
                getattr(receiver, "__qualname__", receiver),
                result,
            )


def status_changed_on_commit(execution_id: Any, status: str) -> None:
    """Send ``execution_status_changed`` after the current transaction commits (at once when
    there is none); a receiver that fails is logged and never undoes the move."""
    transaction.on_commit(partial(_send, execution_id, status), robust=True)
