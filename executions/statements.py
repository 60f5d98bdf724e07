"""The two status moves every execution makes, claim (queued -> running) and finish
(running -> an end), as PostgreSQL statements written once per process.

Through the ORM each move was five round trips (begin, lock the deployment, the conditional
update, the deployment's follow, commit), and compiling their querysets cost the worker more
CPU than running ``exec { true }``. Here the lock and a statement doing the conditional
update and the follow go in one message; PostgreSQL runs the statements of one message as
one transaction (or in the caller's, when there is one). The semantics are
``services._move``'s, which other databases and the rarer moves (cancel, sweep, a lost
task) still take:

- the deployment's row is locked first, in a statement of its own, so that the next one's
  snapshot holds every move of its executions committed before (under READ COMMITTED each
  statement reads anew);
- the execution moves only by a conditional UPDATE from the expected status;
- the deployment follows only when the execution moved: running when it starts; how it ended
  once none of its other executions runs.

A queue deployment's executions are left to ``services._move`` (both statements move
nothing then and say so): whose turn it is, and releasing the next, are decided there.
"""

from __future__ import annotations

import enum
import functools
from datetime import datetime
from typing import Any

from django.db import connection

from codeai.kernel.sql import quoted_columns, quoted_table
from deployments.models import Concurrency, Deployment, DeploymentStatus
from executions.models import Execution, ExecutionStatus


def supported() -> bool:
    return connection.vendor == "postgresql"


def _names() -> dict[str, str]:
    """Tables, columns and the status values the statements use, as the models name them."""
    return {
        "execution": quoted_table(Execution),
        "deployment": quoted_table(Deployment),
        **{f"e_{name}": column for name, column in quoted_columns(Execution).items()},
        **{f"d_{name}": column for name, column in quoted_columns(Deployment).items()},
        "queued": ExecutionStatus.QUEUED,
        "running": ExecutionStatus.RUNNING,
        "queue": Concurrency.QUEUE,
        "deployment_running": DeploymentStatus.RUNNING,
    }


class Move(enum.Enum):
    MOVED = "moved"
    NOT_MOVED = "not moved"  # not in the status it moves from, or no such execution
    QUEUE = "queue"  # a queue deployment's: ``services._move`` decides


# Answers whether the deployment is a queue one (no row: no such execution).
_LOCK = (
    "SELECT {d_concurrency} = '{queue}' FROM {deployment} WHERE {d_id} = "
    "(SELECT {e_deployment} FROM {execution} WHERE {e_id} = %(id)s) FOR UPDATE;\n"
)

_CLAIM = (
    _LOCK
    + """WITH moved AS (
  UPDATE {execution} AS e
  SET {e_status} = '{running}', {e_worker} = %(worker)s, {e_started_at} = %(now)s,
      {e_heartbeat_at} = %(now)s
  FROM {deployment} AS d
  WHERE e.{e_id} = %(id)s AND e.{e_status} = '{queued}' AND d.{d_id} = e.{e_deployment}
    AND d.{d_concurrency} <> '{queue}'
  RETURNING e.{e_deployment} AS deployment_id, e.{e_started_at} AS started_at
), followed AS (
  UPDATE {deployment} SET {d_status} = '{deployment_running}', {d_updated_at} = %(now)s
  WHERE {d_id} IN (SELECT deployment_id FROM moved) AND {d_status} <> '{deployment_running}'
)
SELECT started_at FROM moved"""
)

_FINISH = (
    _LOCK
    + """WITH moved AS (
  UPDATE {execution} AS e
  SET {e_status} = %(status)s, {e_exit_code} = %(exit_code)s,
      {e_explanation} = %(explanation)s, {e_completed_at} = %(now)s,
      {e_output} = e.{e_output} || %(output)s,
      {e_output_truncated} = e.{e_output_truncated} OR %(truncated)s,
      {e_steps} = coalesce(%(steps)s::jsonb, e.{e_steps})
  FROM {deployment} AS d
  WHERE e.{e_id} = %(id)s AND e.{e_status} = '{running}' AND d.{d_id} = e.{e_deployment}
    AND d.{d_concurrency} <> '{queue}'
  RETURNING e.{e_deployment} AS deployment_id, e.{e_started_at} AS started_at
), followed AS (
  UPDATE {deployment} AS d SET {d_status} = %(after)s, {d_updated_at} = %(now)s
  WHERE d.{d_id} IN (SELECT deployment_id FROM moved) AND d.{d_status} <> %(after)s
    AND NOT EXISTS (
      SELECT 1 FROM {execution} AS other
      WHERE other.{e_deployment} = d.{d_id} AND other.{e_status} = '{running}'
        AND other.{e_id} <> %(id)s)
)
SELECT started_at FROM moved"""
)


@functools.cache
def _sql(template: str) -> str:
    # Quoted names and enum values only: parameters stay parameters.
    return template.format(**_names())


def _move(sql: str, params: dict[str, Any]) -> tuple[Move, datetime | None]:
    """The move and the execution's started_at when it moved. Several statements in one
    message run as one transaction of their own (PostgreSQL's simple query protocol), or
    join the caller's."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        locked = cursor.fetchone()  # (whether a queue deployment's,) or None
        cursor.cursor.nextset()
        moved = cursor.fetchone()
    if moved is not None:
        return Move.MOVED, moved[0]
    return (Move.QUEUE if locked and locked[0] else Move.NOT_MOVED), None


def claim(*, execution_id: Any, worker: str, now: datetime) -> Move:
    """queued -> running for ``worker``, and the deployment running; NOT_MOVED when the row
    is not queued (yet, or any more); QUEUE for a queue deployment's, whose turn
    ``services._move`` decides (``services._may_start``)."""
    move, _ = _move(_sql(_CLAIM), {"id": execution_id, "worker": worker, "now": now})
    return move


def finish(
    *,
    execution_id: Any,
    status: str,
    after: str,
    now: datetime,
    exit_code: int | None,
    explanation: str,
    output: str,
    truncated: bool,
    steps: list | None,
) -> tuple[Move, datetime | None]:
    """running -> ``status``, and the deployment to ``after`` unless another execution of it
    runs; with the execution's started_at when it moved. NOT_MOVED when the row is not
    running; QUEUE for a queue deployment's, whose next execution ``services._move``
    releases."""
    steps_value = (
        None
        if steps is None
        else Execution._meta.get_field("steps").get_db_prep_save(steps, connection)
    )
    params = {
        "id": execution_id,
        "status": status,
        "after": after,
        "now": now,
        "exit_code": exit_code,
        "explanation": explanation,
        "output": output,
        "truncated": truncated,
        "steps": steps_value,
    }
    return _move(_sql(_FINISH), params)
