"""Signals of executions for the apps above it (webhooks): executions imports none of them.

``execution_status_changed`` is sent once a status move has committed (``queued -> running``,
``running -> succeeded`` ...), never inside the transaction that moved it, so a receiver sees
the committed row and a rollback sends nothing. Receivers must be quick (they run in the web
request or the worker that moved the status): hand slow work to a Celery task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent with execution_id (the execution's primary key), status (the status it moved to) and
# read_with_move: what the readers below read in the move's own message, by name (empty when
# the move took the ORM's path: a receiver then asks the database itself).
execution_status_changed = Signal()

# What the readers below read in a move's message, by name.
ReadWithMove = dict[str, list[tuple]]

# Queries of apps above, run on PostgreSQL in the same message as each claim and finish (after
# the move, in its transaction), the execution's id as %(id)s: a receiver gets their rows
# with the signal instead of asking after the commit, a round trip less per move.
_move_readers: dict[str, Callable[[], str]] = {}


def read_with_each_move(name: str, sql: Callable[[], str]) -> None:
    """Have ``sql()`` (built when first needed) run with every claim and finish; its rows
    reach the receivers as ``read_with_move[name]``."""
    _move_readers[name] = sql


def move_readers() -> dict[str, Callable[[], str]]:
    return _move_readers


def _send(execution_id: Any, status: str, read_with_move: ReadWithMove) -> None:
    for receiver, result in execution_status_changed.send_robust(
        sender="executions.Execution",
        execution_id=execution_id,
        status=status,
        read_with_move=read_with_move,
    ):
        if isinstance(result, Exception):
            logger.error(
                "execution %s moved to %s: receiver %s failed: %s",
                execution_id,
                status,
                getattr(receiver, "__qualname__", receiver),
                result,
            )


def status_changed_on_commit(
    execution_id: Any, status: str, read_with_move: ReadWithMove | None = None
) -> None:
    """Send ``execution_status_changed`` after the current transaction commits (at once when
    there is none); a receiver that fails is logged and never undoes the move."""
    transaction.on_commit(partial(_send, execution_id, status, read_with_move or {}), robust=True)
