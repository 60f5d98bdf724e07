"""What every execution asks of the database, creation (the deployment's lock and the
insert), claim (queued -> running) and finish (running -> an end), as PostgreSQL statements
written once per process.

Through the ORM each move was five round trips (begin, lock the deployment, the conditional
update, the deployment's follow, commit), and compiling their querysets cost the worker more
CPU than running ``exec { true }``. Here the lock and a statement doing the conditional
update and the follow go in one message (for the claim and the finish, a call of a PL/pgSQL
function whose plans PostgreSQL keeps per session: parsing and planning the moves as text
was half of their cost); PostgreSQL runs the statements of one message as
one transaction (or in the caller's, when there is one). The semantics are
``services._move``'s, which other databases and the rarer moves (cancel, sweep, a lost
task) still take:

- the deployment's row is locked first (``FOR NO KEY UPDATE``: moves, and the admission
  of a queue or refuse deployment's execution, take turns), in a statement of its own, so
  that the next one's snapshot holds every move of its executions committed before (under
  READ COMMITTED each statement reads anew);
- the execution moves only by a conditional UPDATE from the expected status;
- the deployment follows only when the execution moved: running when it starts; how it ended
  once none of its other executions runs.

A queue deployment's executions are left to ``services._move`` (both statements move
nothing then and say so): whose turn it is, and releasing the next, are decided there. The
creation inserts only a parallel deployment's execution; ``services._admit`` applies the
other concurrencies. A parallel creation changes nothing the moves decide on, so it takes
only ``FOR KEY SHARE`` (what its foreign key takes anyway): it keeps the row from being
deleted meanwhile, and neither it nor a move waits for the other.
"""

from __future__ import annotations

import enum
import functools
from datetime import datetime
from typing import Any

from django.db import connection

from codeai.kernel.loading import loaded_instance
from codeai.kernel.sql import quoted_columns, quoted_table
from deployments.models import Concurrency, Deployment
from executions.models import Execution
from executions.signals import ReadWithMove, move_readers


def supported() -> bool:
    return connection.vendor == "postgresql"


def _names() -> dict[str, str]:
    """Tables, columns and the concurrency values the statements use, as the models name
    them."""
    return {
        "execution": quoted_table(Execution),
        "deployment": quoted_table(Deployment),
        **{f"e_{name}": column for name, column in quoted_columns(Execution).items()},
        **{f"d_{name}": column for name, column in quoted_columns(Deployment).items()},
        "queue": Concurrency.QUEUE,
        "parallel": Concurrency.PARALLEL,
    }


class Move(enum.Enum):
    MOVED = "moved"
    NOT_MOVED = "not moved"  # not in the status it moves from, or no such execution
    QUEUE = "queue"  # a queue deployment's: ``services._move`` decides


# Answers whether the deployment is a queue one (no row: no such execution).
_LOCK = (
    "SELECT {d_concurrency} = '{queue}' FROM {deployment} WHERE {d_id} = "
    "(SELECT {e_deployment} FROM {execution} WHERE {e_id} = %(id)s) FOR NO KEY UPDATE;\n"
)

# The moves themselves are PL/pgSQL functions (executions/migrations/0007_move_functions.py):
# PostgreSQL plans their statements once per session instead of at every message.
_CLAIM = _LOCK + "SELECT * FROM executions_claim(%(id)s, %(worker)s, %(now)s)"

_FINISH = (
    _LOCK + "SELECT * FROM executions_finish(%(id)s, %(status)s, %(after)s, %(now)s, %(exit_code)s,"
    " %(explanation)s, %(output)s, %(truncated)s, %(steps)s::jsonb)"
)


@functools.cache
def _insert_template() -> str:
    """The execution's INSERT if the deployment is a parallel one, whose row it locks
    ``FOR KEY SHARE`` in the same statement; any other deployment's row it leaves unlocked
    (``_admit`` locks it: holding a share lock while asking for that one would deadlock two
    creations). Every value is cast to its column's type (an INSERT ... SELECT does not
    type its values by the columns), strings to text so that a column's length still
    applies."""
    fields = Execution._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    casts = [field.db_type(connection) or "text" for field in fields]
    values = ", ".join(
        f"%({field.attname})s::{'text' if cast.startswith('varchar') else cast}"
        for field, cast in zip(fields, casts, strict=True)
    )
    return (
        "WITH d AS (SELECT FROM {deployment} WHERE {d_id} = %(deployment_id)s "
        "AND {d_concurrency} = '{parallel}' FOR KEY SHARE) "
        f"INSERT INTO {{execution}} ({columns}) SELECT {values} FROM d"
    )


@functools.cache
def _sql(template: str) -> str:
    # Quoted names and enum values only: parameters stay parameters.
    return template.format(**_names())


def _move(sql: str, params: dict[str, Any]) -> tuple[Move, tuple | None, ReadWithMove]:
    """The move, the row of the moved execution the statement returns, and what the
    readers registered by apps above read after it. Several statements in one message run
    as one transaction of their own (PostgreSQL's simple query protocol), or join the
    caller's."""
    readers = move_readers()
    message = "".join([sql, *(f";\n{reader()}" for reader in readers.values())])
    with connection.cursor() as cursor:
        cursor.execute(message, params)
        locked = cursor.fetchone()  # (whether a queue deployment's,) or None
        cursor.cursor.nextset()
        moved = cursor.fetchone()
        read = {}
        for name in readers:
            cursor.cursor.nextset()
            read[name] = cursor.fetchall()
    if moved is not None:
        return Move.MOVED, moved, read
    return (Move.QUEUE if locked and locked[0] else Move.NOT_MOVED), None, {}


def claim(
    *, execution_id: Any, worker: str, now: datetime
) -> tuple[Move, Execution | None, ReadWithMove]:
    """queued -> running for ``worker``, and the deployment running; NOT_MOVED when the row
    is not queued (yet, or any more); QUEUE for a queue deployment's, whose turn
    ``services._move`` decides (``services._may_start``). With the claimed execution as
    running it reads it (its text, variables, and its deployment's name and timeout; any
    other field loads on access), from the same statement, and what the readers read."""
    move, row, read = _move(_sql(_CLAIM), {"id": execution_id, "worker": worker, "now": now})
    if row is None:
        return move, None, read
    deployment_id, config_snapshot, variables, name, timeout_seconds = row
    variables_field = Execution._meta.get_field("variables")
    execution = loaded_instance(
        Execution,
        connection.alias,
        [
            ("id", Execution._meta.pk.to_python(execution_id)),
            ("deployment_id", deployment_id),
            ("config_snapshot", config_snapshot),
            ("variables", variables_field.from_db_value(variables, None, connection)),
        ],
    )
    execution.deployment = loaded_instance(
        Deployment,
        connection.alias,
        [("id", deployment_id), ("name", name), ("timeout_seconds", timeout_seconds)],
    )
    return move, execution, read


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
) -> tuple[Move, datetime | None, ReadWithMove]:
    """running -> ``status``, and the deployment to ``after`` unless another execution of it
    runs; with the execution's started_at when it moved, and what the readers read. NOT_MOVED
    when the row is not running; QUEUE for a queue deployment's, whose next execution
    ``services._move`` releases."""
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
    move, row, read = _move(_sql(_FINISH), params)
    return move, None if row is None else row[0], read


def create(execution: Execution) -> bool:
    """Insert the unsaved ``execution`` if its deployment is a parallel one, in one statement
    with the share lock of the deployment's row (inside the caller's transaction, which the
    insert joins). False, with nothing inserted or locked, for any other concurrency (or a
    deployment gone): ``services._admit`` decides then."""
    values = {
        field.attname: field.get_db_prep_save(field.pre_save(execution, True), connection)
        for field in Execution._meta.concrete_fields
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(_insert_template()), values)
        inserted = cursor.rowcount == 1
    if inserted:
        execution._state.adding = False
        execution._state.db = connection.alias
    return inserted
