"""State changes of executions: execute, claim, heartbeat, finish, cancel, sweep, run.

Every status change is a conditional update that checks the row count, so a second
delivery of a task, a late runner and the sweep can never overwrite each other:
queued -> running (claim, by one worker), queued -> cancelled (cancel before it starts),
running -> succeeded/failed/timed_out/cancelled (finish, by the runner) and
running -> failed (sweep, when the worker stopped heartbeating) and queued -> failed (when
its task was lost twice).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone
from kombu.exceptions import KombuError

from codeai import dsl
from codeai.kernel.exceptions import Conflict, NotFound, ServiceUnavailable
from codeai.kernel.logs import get_request_id
from configs import selectors as config_selectors
from deployments.models import Concurrency, Deployment, DeploymentStatus
from executions import metrics, runner, signals, statements
from executions.models import Execution, ExecutionStatus, ExecutionTrigger

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0  # output reaches the row at least this often while a command runs
CANCEL_CHECK_SECONDS = 0.5
COMMIT_POLL_SECONDS = 0.01
VARIABLE_NAME = dsl.NAME_RE  # an execution's variables are the program's
DISABLED_EXPLANATION = "command execution is disabled (CODEAI_EXEC_ENABLED=false)"
QUEUE_UNAVAILABLE = "the task queue is unavailable; try again later"
# Config texts whose check and parse a process remembers: a deployment's executions run
# the same text again and again, and checking or parsing a text of 10 KB costs 2 ms each.
TEXT_MEMO_SIZE = 128

DEPLOYMENT_STATUS_AFTER: dict[str, str] = {
    ExecutionStatus.SUCCEEDED: DeploymentStatus.COMPLETE,
    ExecutionStatus.FAILED: DeploymentStatus.FAILED,
    ExecutionStatus.TIMED_OUT: DeploymentStatus.FAILED,
    ExecutionStatus.CANCELLED: DeploymentStatus.STOPPED,
}


class ClaimResult(enum.Enum):
    CLAIMED = "claimed"
    MISSING = "missing"  # not committed (yet): the publisher's transaction is still open
    TAKEN = "taken"  # already running, finished or cancelled: a second delivery
    WAITING = "waiting"  # its queue deployment runs another first: released after that one


T = TypeVar("T")


class _TextMemo:
    """Answers of a pure function of a config text for the last ``size`` texts, keyed by the
    text's SHA-256 and the function's other arguments (no text is kept). An exception is
    not remembered: the next call computes again."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._answers: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()  # threaded servers share the process's memo

    def get(self, text: str, *more: Hashable, compute: Callable[[], T]) -> T:
        key = (hashlib.sha256(text.encode(errors="surrogatepass")).digest(), *more)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = compute()
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


# Why a text cannot run (None: it can), and the program a valid text parses to; programs are
# only read by ``dsl.run``, never changed, so executions of one text share one.
_text_problems = _TextMemo(TEXT_MEMO_SIZE)
_programs = _TextMemo(TEXT_MEMO_SIZE)


def _text_problem(content: str, filename: str, predeclared: tuple[str, ...]) -> str | None:
    result = dsl.check(content, filename=filename, predeclared=predeclared)
    if result.valid:
        return None
    first = result.diagnostics[0]
    more = f" (and {len(result.diagnostics) - 1} more)" if len(result.diagnostics) > 1 else ""
    return f"config is invalid: {first}{more}"


def _program(text: str) -> dsl.Program:
    """The parsed snapshot (``DSLSyntaxError`` when it does not parse)."""
    return _programs.get(text, compute=lambda: dsl.parse(text, filename="<config>"))


def _username(user: Any) -> str:
    return getattr(user, "username", "") or ""


def _check_variables(variables: dict[str, Any]) -> None:
    """Names must be identifiers (they become environment variables); values JSON scalars
    or arrays of them, as the DSL knows them."""
    errors = []
    for name, value in variables.items():
        if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
            errors.append(f"'{name}' is not a valid variable name")
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str | int | float | bool):
                errors.append(f"'{name}' must be a string, number, boolean or array of them")
                break
            if isinstance(item, str) and "\0" in item:
                errors.append(f"'{name}' must not contain NUL characters")
                break
        if runner.changes_program_loading(name):
            errors.append(f"'{name}' is not allowed: it changes how programs load or start")
    if errors:
        raise ValidationError({"variables": errors})


def variables_check(*, variables: dict[str, Any]) -> None:
    """Execute-time variables as ``deployment_execute`` accepts them (schedules store theirs
    ahead of time); ``ValidationError`` on ``variables`` otherwise."""
    _check_variables(variables)


def deployment_delete_refused_while_active(*, instance: Deployment, **kwargs: Any) -> None:
    """``pre_delete`` of a deployment (inside the delete's transaction): its history goes
    with it, but not while an execution is queued or running."""
    if instance.executions.filter(status__in=ExecutionStatus.active()).exists():
        raise Conflict("deployment has an execution queued or running; cancel it first")


def deployment_execute(
    *,
    deployment: Deployment,
    user: Any,
    variables: dict[str, Any] | None = None,
    trigger: str = ExecutionTrigger.API,
) -> Execution:
    """Create a queued execution of the deployment's revision (the pinned one, else the
    latest) and enqueue its task, as the deployment's concurrency policy says.

    Normally the task is published inside the transaction that creates the row: if the
    broker is down the row is rolled back and ``ServiceUnavailable`` raised, so nothing
    half-written remains (a task that arrives before the commit finds no row yet and
    retries for a few seconds). Called inside the caller's own transaction, whose commit
    may come much later, the task is published once that commits instead, and a failed
    publish then fails the row with the reason.
    """
    variables = dict(variables or {})
    _check_variables(variables)
    content, revision = deployment_source(deployment)
    return _start(
        deployment=deployment,
        user=user,
        variables=variables,
        content=content,
        revision=revision,
        trigger=trigger,
    )


def _start(
    *,
    deployment: Deployment,
    user: Any,
    variables: dict[str, Any],
    content: str,
    revision: int | None,
    trigger: str,
    relaunch_of: Execution | None = None,
) -> Execution:
    """Check the text, then insert the execution and publish its task (see
    ``deployment_execute``), unless the deployment's concurrency makes it wait or refuses."""
    filename = deployment.config.name if deployment.config else "<config>"
    predeclared = tuple(variables)
    problem = _text_problems.get(
        content,
        filename,
        predeclared,
        compute=lambda: _text_problem(content, filename, predeclared),
    )
    if problem is not None:
        raise Conflict(problem)

    in_callers_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic():
            execution = Execution(
                deployment=deployment,
                config_snapshot=content,
                config_revision=revision,
                relaunch_of=relaunch_of,
                variables=variables,
                trigger=trigger,
                triggered_by=user if getattr(user, "pk", None) else None,
                triggered_by_name=_username(user),
                request_id=get_request_id() or "",
            )
            # On PostgreSQL a parallel deployment's lock and insert are one round trip.
            if statements.supported() and statements.create(execution):
                admission = Admission.PUBLISH
            else:
                admission = _admit(deployment)
                if admission is Admission.RELEASE:
                    execution.released_at = timezone.now()
                execution.save(force_insert=True)
            metrics.execution_created()
            if admission is Admission.WAIT:
                pass  # published when the one ahead of it ends (_release_next)
            elif in_callers_transaction:
                transaction.on_commit(partial(_enqueue_or_fail, execution.pk))
            else:
                _enqueue(execution.pk)
    except (KombuError, OSError) as error:
        logger.error("could not queue an execution: %s", error)
        raise ServiceUnavailable(QUEUE_UNAVAILABLE) from error
    except DatabaseError as error:
        logger.error("could not store an execution: %s", error)
        raise ServiceUnavailable("the database is unavailable; try again later") from error
    return execution


def _enqueue(execution_id: Any) -> None:
    from executions.tasks import run_execution  # the tasks module imports this one

    run_execution.apply_async(
        args=[str(execution_id)],
        retry=True,
        retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
    )


def _enqueue_or_fail(execution_id: Any) -> None:
    try:
        _enqueue(execution_id)
    except (KombuError, OSError) as error:
        logger.error("could not queue execution %s: %s", execution_id, error)
        _move(
            execution_id=execution_id,
            status_from=ExecutionStatus.QUEUED,
            status=ExecutionStatus.FAILED,
            completed_at=timezone.now(),
            explanation=f"not started: {QUEUE_UNAVAILABLE}",
        )


def _move(
    *,
    execution_id: Any,
    status_from: str,
    where: dict | None = None,
    condition: Q | None = None,
    **changes,
) -> bool:
    """The one way a status changes: a conditional update, and the deployment follows in
    the same transaction (and, in a queue deployment, the next execution is released).
    False when the row was not in ``status_from`` (any more) or fails ``condition``."""
    with transaction.atomic():
        # Moves of one deployment's executions take turns: each decides the deployment's
        # status on what the ones before it committed (else one ending while another
        # starts could leave the deployment "complete" with a run going on). A parallel
        # execute's share lock does not make them wait (executions/statements.py).
        list(_deployment_of(execution_id).select_for_update(no_key=True).values_list("pk"))
        moved = Execution.objects.filter(pk=execution_id, status=status_from, **(where or {}))
        if condition is not None:
            moved = moved.filter(condition)
        if not moved.update(**changes):
            return False
        _deployment_follow(execution_id, changes["status"])
        if changes["status"] in ExecutionStatus.terminal():
            _release_next(execution_id)
        _announce(execution_id, changes["status"])
    return True


def _announce(
    execution_id: Any,
    status: str,
    *,
    seconds: float | None = None,
    read_with_move: signals.ReadWithMove | None = None,
) -> None:
    """After a move (once it commits): receivers (webhooks) hear of it, with what their
    readers read in the move's message, and it is counted; ``seconds`` is how long it ran,
    when the mover knows it."""
    signals.status_changed_on_commit(execution_id, status, read_with_move)
    metrics.execution_moved(execution_id=execution_id, status=status, seconds=seconds)


def execution_cancel(*, execution: Execution, user: Any) -> Execution:
    """Cancel a queued execution at once; ask a running one to stop (its runner sees the
    request within a second and ends it cancelled)."""
    name = _username(user) or "unknown user"
    now = timezone.now()
    request: dict[str, Any] = {"cancel_requested_at": now, "cancel_requested_by": name}
    cancelled_queued = _move(
        execution_id=execution.pk,
        status_from=ExecutionStatus.QUEUED,
        status=ExecutionStatus.CANCELLED,
        completed_at=now,
        explanation=f"cancelled by {name}",
        **request,
    )
    if not cancelled_queued:
        with transaction.atomic():
            Execution.objects.filter(
                pk=execution.pk, status=ExecutionStatus.RUNNING, cancel_requested_at__isnull=True
            ).update(**request)
    execution.refresh_from_db()
    if execution.status in ExecutionStatus.terminal() and not cancelled_queued:
        raise Conflict(f"execution already {execution.status}")
    return execution


def execution_claim(*, execution_id: Any, worker: str, wait_for_commit: float = 0.0) -> ClaimResult:
    """Move a queued execution to running for this worker; only one delivery wins.

    A task can arrive before the transaction that created its row commits: then the row is
    looked for again for up to ``wait_for_commit`` seconds.
    """
    return _claim(execution_id, worker, wait_for_commit)[0]


def execution_claim_and_run(
    *, execution_id: Any, worker: str, wait_for_commit: float = 0.0
) -> ClaimResult:
    """A task's work: ``execution_claim``, and once claimed ``execution_run``, with the row
    the claim read when it read one (on PostgreSQL: no query of its own)."""
    result, execution = _claim(execution_id, worker, wait_for_commit)
    if result is ClaimResult.CLAIMED:
        _run(execution if execution is not None else _to_run(execution_id))
    return result


def _claim(
    execution_id: Any, worker: str, wait_for_commit: float
) -> tuple[ClaimResult, Execution | None]:
    deadline = time.monotonic() + wait_for_commit
    while True:
        claimed, execution = _claimed(execution_id, worker)
        if claimed:
            return ClaimResult.CLAIMED, execution
        status = Execution.objects.filter(pk=execution_id).values_list("status", flat=True).first()
        if status == ExecutionStatus.QUEUED:
            if not Execution.objects.filter(pk=execution_id).filter(_may_start()).exists():
                return ClaimResult.WAITING, None
            continue  # committed between the update and this read: claim it now
        if status is not None:
            return ClaimResult.TAKEN, None
        if time.monotonic() >= deadline:
            return ClaimResult.MISSING, None
        time.sleep(COMMIT_POLL_SECONDS)


def _claimed(execution_id: Any, worker: str) -> tuple[bool, Execution | None]:
    """queued -> running: on PostgreSQL one round trip (``statements.claim``, which returns
    what running it reads) unless the deployment is a queue one, whose turn the ORM's move
    decides."""
    now = timezone.now()
    if statements.supported():
        move, execution, read = statements.claim(execution_id=execution_id, worker=worker, now=now)
        if move is statements.Move.MOVED:
            _announce(execution_id, ExecutionStatus.RUNNING, read_with_move=read)
        if move is not statements.Move.QUEUE:
            return move is statements.Move.MOVED, execution
    moved = _move(
        execution_id=execution_id,
        status_from=ExecutionStatus.QUEUED,
        status=ExecutionStatus.RUNNING,
        worker=worker,
        started_at=now,
        heartbeat_at=now,
        condition=_may_start(),
    )
    return moved, None


def _progress(*, output: str, truncated: bool, steps: list | None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if output:
        changes["output"] = Concat(F("output"), Value(output))
    if truncated:
        changes["output_truncated"] = True
    if steps is not None:
        changes["steps"] = steps
    return changes


def execution_heartbeat(
    *, execution_id: Any, output: str = "", truncated: bool = False, steps: list | None = None
) -> bool:
    """Record that the runner is alive, appending output; False once the row is no longer
    running (the sweep gave up on it), which tells the runner to stop."""
    changes = {
        "heartbeat_at": timezone.now(),
        **_progress(output=output, truncated=truncated, steps=steps),
    }
    # Every write in a transaction: on SQLite that takes the write lock up front (IMMEDIATE)
    # instead of failing on a stale read snapshot when another process writes meanwhile.
    with transaction.atomic():
        running = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING)
        return bool(running.update(**changes))


def execution_finish(
    *,
    execution_id: Any,
    status: str,
    exit_code: int | None = None,
    explanation: str = "",
    output: str = "",
    truncated: bool = False,
    steps: list | None = None,
) -> bool:
    """End a running execution, storing the last output and steps in the same write;
    False if something else (the sweep) ended it first. On PostgreSQL one round trip
    (``statements.finish``) unless the deployment is a queue one, whose next execution the
    ORM's move releases."""
    now = timezone.now()
    if statements.supported():
        move, started_at, read = statements.finish(
            execution_id=execution_id,
            status=status,
            after=DEPLOYMENT_STATUS_AFTER[status],
            now=now,
            exit_code=exit_code,
            explanation=explanation,
            output=output,
            truncated=truncated,
            steps=steps,
        )
        if move is statements.Move.MOVED:
            ran = None if started_at is None else max((now - started_at).total_seconds(), 0.0)
            _announce(execution_id, status, seconds=ran, read_with_move=read)
        if move is not statements.Move.QUEUE:
            return move is statements.Move.MOVED
    return _move(
        execution_id=execution_id,
        status_from=ExecutionStatus.RUNNING,
        status=status,
        exit_code=exit_code,
        explanation=explanation,
        completed_at=now,
        **_progress(output=output, truncated=truncated, steps=steps),
    )


def execution_sweep() -> int:
    """Fail running executions whose worker stopped heartbeating; returns how many."""
    limit = timezone.now() - timedelta(seconds=settings.EXEC_HEARTBEAT_GRACE)
    stale = Execution.objects.filter(status=ExecutionStatus.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
    )
    swept = 0
    for execution_id, heartbeat_at, worker in stale.values_list("pk", "heartbeat_at", "worker"):
        last_seen = heartbeat_at.isoformat(timespec="seconds") if heartbeat_at else "never"
        if _move(
            execution_id=execution_id,
            status_from=ExecutionStatus.RUNNING,
            where={"heartbeat_at": heartbeat_at},  # unless it heartbeat meanwhile
            status=ExecutionStatus.FAILED,
            completed_at=timezone.now(),
            explanation=f"worker lost: no heartbeat since {last_seen.replace('+00:00', 'Z')}",
        ):
            logger.warning("execution %s failed: worker %s lost", execution_id, worker)
            swept += 1
    return swept


def execution_republish_lost() -> tuple[int, int]:
    """Executions queued past the grace with none ahead of them active lost their task (a
    worker died holding it, the filesystem broker cannot redeliver): publish it once more,
    then fail the execution if that one is lost too. Returns (republished, failed).
    An execution waiting its turn in a queue deployment has no task yet and is left alone;
    one released by it counts as queued from its release.

    "None ahead active" tells a lost task from a backlog: queues are first in, first out,
    so while older executions are queued or running this one may just be waiting its turn.
    A second publish is harmless: only one delivery can claim the row.
    """
    limit = timezone.now() - timedelta(seconds=settings.EXEC_QUEUE_GRACE)
    # Queued since it was created, or since its queue deployment released it.
    queued_since = Coalesce("released_at", "created_at")
    ahead_active = (
        Execution.objects.annotate(since=queued_since)
        .filter(status__in=ExecutionStatus.active(), since__lt=OuterRef("since"))
        .exclude(_waiting_turn())  # never published: it holds no worker
    )
    stuck = (
        Execution.objects.annotate(since=queued_since)
        .filter(status=ExecutionStatus.QUEUED, since__lt=limit)
        .exclude(Exists(ahead_active))
        .exclude(_waiting_turn() & Q(_turn_taken()))
    )
    republished = failed = 0
    for execution_id, republished_at in stuck.values_list("pk", "republished_at"):
        if republished_at is None:
            with transaction.atomic():
                marked = Execution.objects.filter(
                    pk=execution_id, status=ExecutionStatus.QUEUED, republished_at__isnull=True
                ).update(republished_at=timezone.now())
            if marked:
                logger.warning("execution %s: its task was lost; publishing it again", execution_id)
                _enqueue_or_fail(execution_id)
                republished += 1
        elif republished_at < limit and _move(
            execution_id=execution_id,
            status_from=ExecutionStatus.QUEUED,
            status=ExecutionStatus.FAILED,
            completed_at=timezone.now(),
            explanation=(
                "not started: no worker took its task, published again at "
                f"{republished_at.isoformat(timespec='seconds').replace('+00:00', 'Z')}"
            ),
        ):
            logger.warning("execution %s failed: its task was lost twice", execution_id)
            failed += 1
    return republished, failed


def _deployment_of(execution_id: Any) -> QuerySet:
    """The execution's deployment, found by subquery (no query of its own)."""
    return Deployment.objects.filter(
        pk=Subquery(Execution.objects.filter(pk=execution_id).values("deployment_id")[:1])
    )


def _deployment_follow(execution_id: Any, status: str) -> None:
    """The deployment is running while any of its executions runs, else it shows how the
    execution that ended last ended. One query."""
    deployment = _deployment_of(execution_id)
    # .update() skips auto_now: updated_at is set here so it tells when the status moved.
    now = timezone.now()
    if status == ExecutionStatus.RUNNING:
        deployment.exclude(status=DeploymentStatus.RUNNING).update(
            status=DeploymentStatus.RUNNING, updated_at=now
        )
        return
    after = DEPLOYMENT_STATUS_AFTER[status]
    deployment.exclude(status=after).exclude(executions__status=ExecutionStatus.RUNNING).update(
        status=after, updated_at=now
    )


# --- Revisions, concurrency and relaunch -------------------------------------------------


def deployment_source(deployment: Deployment) -> tuple[str, int | None]:
    """The text an execution of the deployment runs, and its revision number: the pinned
    revision, else the config's text (with the number of its latest revision when that is
    the same text; read with the deployment by ``selectors.deployment_to_execute``, else
    here). Conflict without a config, or when the pinned revision is gone."""
    config = deployment.config
    if config is None:
        raise Conflict("deployment has no config")
    if deployment.config_revision is None:
        if hasattr(deployment, "config_current_revision"):  # read with it: no query
            return config.content, deployment.config_current_revision
        current = config_selectors.config_text_and_current_revision(config_id=config.pk)
        if current is None:
            raise Conflict("deployment has no config")
        return current
    pinned = config_selectors.config_revision(
        config_id=config.pk, number=deployment.config_revision
    )
    if pinned is None:
        raise Conflict(
            f"config {config.name!r} has no revision {deployment.config_revision} "
            "(the deployment is pinned to it)"
        )
    return pinned.content, pinned.number


def execution_relaunch(
    *, execution: Execution, user: Any, variables: dict[str, Any] | None = None
) -> Execution:
    """Run an execution again: the same deployment, config text and revision, and the same
    variables unless ``variables`` gives others; the deployment's concurrency applies."""
    variables = dict(execution.variables if variables is None else variables)
    _check_variables(variables)
    if not execution.config_snapshot:
        raise Conflict("execution has no config text to run again")
    return _start(
        deployment=execution.deployment,
        user=user,
        variables=variables,
        content=execution.config_snapshot,
        revision=execution.config_revision,
        trigger=ExecutionTrigger.RELAUNCH,
        relaunch_of=execution,
    )


class Admission(enum.Enum):
    PUBLISH = "publish"  # its task is published now
    RELEASE = "release"  # a queue deployment's only active one: published now, released
    WAIT = "wait"  # a queue deployment runs another: published when its turn comes


def _admit(deployment: Deployment) -> Admission:
    """In the transaction that creates an execution: lock the deployment's row as a move
    does (a queue or refuse deployment's creations and moves take turns) and apply its
    concurrency, read from the row."""
    policy = (
        Deployment.objects.select_for_update(no_key=True)
        .filter(pk=deployment.pk)
        .values_list("concurrency", flat=True)
        .first()
    )
    if policy is None:
        raise NotFound("deployment not found")
    if policy == Concurrency.PARALLEL:
        return Admission.PUBLISH
    active = Execution.objects.filter(
        deployment_id=deployment.pk, status__in=ExecutionStatus.active()
    )
    if policy == Concurrency.REFUSE:
        busy = active.order_by("created_at").values_list("pk", "status").first()
        if busy is not None:
            raise Conflict(
                f"deployment {deployment.name!r} runs one execution at a time "
                f"(concurrency: refuse): execution {busy[0]} is {busy[1]}"
            )
        return Admission.PUBLISH
    return Admission.WAIT if active.exists() else Admission.RELEASE


def _turn_taken() -> Exists:
    """Another execution of the same deployment runs, or is active and ahead of this one
    (created before it)."""
    return Exists(
        Execution.objects.filter(
            deployment_id=OuterRef("deployment_id"), status__in=ExecutionStatus.active()
        )
        .exclude(pk=OuterRef("pk"))
        .filter(
            Q(status=ExecutionStatus.RUNNING)
            | Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk"))
        )
    )


def _may_start() -> Q:
    """The claim's condition: in a queue deployment only the first active execution starts,
    and only while none of its executions runs."""
    return ~Q(deployment__concurrency=Concurrency.QUEUE) | Q(~_turn_taken())


def _waiting_turn() -> Q:
    """Queued in a queue deployment and never released: no task of it was published."""
    return Q(
        status=ExecutionStatus.QUEUED,
        deployment__concurrency=Concurrency.QUEUE,
        released_at__isnull=True,
    )


def _release_next(execution_id: Any) -> None:
    """After an execution of a queue deployment ended (in ``_move``'s transaction, the
    deployment's row locked): once none of its executions runs, publish the first queued one
    (after the commit). The conditional update of ``released_at`` lets one mover only
    release it; no beat is involved, and the sweep ending a lost run releases the next too."""
    deployment_id = (
        _deployment_of(execution_id)
        .filter(concurrency=Concurrency.QUEUE)
        .values_list("pk", flat=True)
        .first()
    )
    if deployment_id is None:
        return
    siblings = Execution.objects.filter(deployment_id=deployment_id)
    if siblings.filter(status=ExecutionStatus.RUNNING).exists():
        return
    first = (
        siblings.filter(status__in=ExecutionStatus.active())
        .order_by("created_at", "pk")
        .values_list("pk", "status", "released_at")
        .first()
    )
    if first is None or first[1] != ExecutionStatus.QUEUED or first[2] is not None:
        return
    released = siblings.filter(
        pk=first[0], status=ExecutionStatus.QUEUED, released_at__isnull=True
    ).update(released_at=timezone.now())
    if released:
        logger.info("execution %s: its turn came; publishing it", first[0])
        transaction.on_commit(partial(_enqueue_or_fail, first[0]))


# --- Running a claimed execution ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str
    exit_code: int | None = None
    explanation: str = ""


class _Stopped(Exception):
    """Raised by the step runner to end the DSL run early (cancel, timeout, lost row)."""

    def __init__(self, reason: runner.StopReason, step: int) -> None:
        self.reason = reason
        self.step = step


class _Recorder:
    """Collects output and steps of one execution and writes them to its row in batches,
    heartbeating and watching for a cancel request on the way."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self.output = runner.CappedOutput(settings.EXEC_MAX_OUTPUT_BYTES)
        self.steps: list[dict[str, Any]] = []
        self.steps_changed = False
        self.truncation_stored = False
        self.heartbeat_seconds = min(max(settings.EXEC_HEARTBEAT_GRACE / 4, 0.5), 10.0)
        self.last_flush = self.last_cancel_check = time.monotonic()
        self.stop_reason: runner.StopReason | None = None
        self.cancelled_by = ""

    def feed(self, data: bytes) -> None:
        self.output.feed(data)

    def print_line(self, text: str) -> None:
        self.output.feed(f"{text}\n".encode())

    def progress(self) -> dict[str, Any]:
        """What the row lacks so far: new output, the truncation flag, changed steps."""
        truncated = self.output.truncated and not self.truncation_stored
        self.truncation_stored |= truncated
        steps = self.steps if self.steps_changed else None
        self.steps_changed = False
        return {"output": self.output.take(), "truncated": truncated, "steps": steps}

    def flush(self) -> None:
        alive = execution_heartbeat(execution_id=self.execution_id, **self.progress())
        self.last_flush = time.monotonic()
        if not alive:
            self.stop_reason = runner.StopReason.ABANDONED

    def check(self) -> runner.StopReason | None:
        """Called at every step and about ten times a second while a command runs: writes
        progress at most once a second (and a heartbeat when due), reads the cancel flag
        twice a second. A quick execution thus costs no write until it finishes."""
        now = time.monotonic()
        since_flush = now - self.last_flush
        changed = self.output.has_pending or self.steps_changed
        if (changed and since_flush >= FLUSH_SECONDS) or since_flush >= self.heartbeat_seconds:
            self.flush()
        if self.stop_reason is None and now - self.last_cancel_check >= CANCEL_CHECK_SECONDS:
            self.last_cancel_check = now
            requested_by = (
                Execution.objects.filter(pk=self.execution_id, cancel_requested_at__isnull=False)
                .values_list("cancel_requested_by", flat=True)
                .first()
            )
            if requested_by is not None:
                self.cancelled_by = requested_by
                self.stop_reason = runner.StopReason.CANCELLED
        return self.stop_reason

    def step_started(self, command: str) -> int:
        self.steps.append(
            {
                "index": len(self.steps) + 1,
                "command": command,
                "exit_code": None,
                "started_at": timezone.now().isoformat(),
                "duration_ms": None,
            }
        )
        self.steps_changed = True
        return len(self.steps)

    def step_finished(self, result: runner.CommandResult) -> None:
        self.steps[-1].update(exit_code=result.exit_code, duration_ms=result.duration_ms)
        self.steps_changed = True
        metrics.step_finished(seconds=result.duration_ms / 1000)


def _stopped_outcome(stop: _Stopped, *, timeout: float, recorder: _Recorder) -> Outcome:
    where = f"in step {stop.step}"
    if stop.reason is runner.StopReason.CANCELLED:
        return Outcome(ExecutionStatus.CANCELLED, None, f"cancelled by {recorder.cancelled_by}")
    if stop.reason is runner.StopReason.IDLE:
        return Outcome(
            ExecutionStatus.TIMED_OUT,
            None,
            f"no output for {settings.EXEC_IDLE_TIMEOUT:g} s {where} (idle timeout)",
        )
    if stop.reason is runner.StopReason.TIMEOUT:
        return Outcome(ExecutionStatus.TIMED_OUT, None, f"timed out after {timeout:g} s {where}")
    return Outcome(ExecutionStatus.FAILED, None, "stopped: the execution is no longer running")


def _interpret(execution: Execution, recorder: _Recorder) -> Outcome:
    """Run the snapshot of the config; each exec block becomes a child process."""
    if not settings.EXEC_ENABLED:
        return Outcome(ExecutionStatus.FAILED, None, DISABLED_EXPLANATION)
    try:
        program = _program(execution.config_snapshot)
    except dsl.DSLSyntaxError as error:
        return Outcome(ExecutionStatus.FAILED, None, f"config is invalid: {error}")
    timeout = float(settings.EXEC_TIMEOUT)
    if execution.deployment.timeout_seconds:
        timeout = min(timeout, float(execution.deployment.timeout_seconds))
    deadline = time.monotonic() + timeout
    sandbox = None
    if settings.EXEC_SANDBOX == "bwrap":
        sandbox = runner.Sandbox(hidden=settings.EXEC_HIDDEN_PATHS, network=settings.EXEC_NETWORK)

    with runner.scratch_folder() as home:

        def run_step(command: str, env: dict[str, str]) -> int:
            stop_reason = recorder.check()
            if stop_reason is None and time.monotonic() >= deadline:
                stop_reason = runner.StopReason.TIMEOUT
            if stop_reason is not None:  # between steps: the next one never starts
                raise _Stopped(stop_reason, len(recorder.steps) + 1)
            step = recorder.step_started(command)
            result = runner.run_command(
                command,
                cwd=home,
                env=runner.command_environment(env, home=home),
                timeout=deadline - time.monotonic(),
                idle_timeout=settings.EXEC_IDLE_TIMEOUT,
                on_output=recorder.feed,
                check=recorder.check,
                sandbox=sandbox,
            )
            recorder.step_finished(result)
            if result.stop_reason is not None:
                raise _Stopped(result.stop_reason, step)
            return result.exit_code

        try:
            result = dsl.run(
                program,
                variables=execution.variables,
                runner=run_step,
                output=recorder.print_line,
            )
        except _Stopped as stop:
            return _stopped_outcome(stop, timeout=timeout, recorder=recorder)
        except dsl.DSLRuntimeError as error:
            return Outcome(ExecutionStatus.FAILED, None, f"runtime error at {error}")
        except runner.SandboxUnavailable as error:
            return Outcome(ExecutionStatus.FAILED, None, str(error))
    if result.exit_code != 0:
        return Outcome(
            ExecutionStatus.FAILED,
            result.exit_code,
            f"exit code {result.exit_code} in step {result.failed_step}",
        )
    return Outcome(ExecutionStatus.SUCCEEDED, 0, "")


def execution_run(*, execution_id: str) -> Outcome:
    """Run a claimed execution to its end and record how it ended. Whatever goes wrong,
    the row does not stay running while this worker lives."""
    return _run(_to_run(execution_id))


def _to_run(execution_id: Any) -> Execution:
    return Execution.objects.select_related("deployment").get(pk=execution_id)


def _run(execution: Execution) -> Outcome:
    """``execution_run`` of the claimed row, as read with its deployment."""
    execution_id = str(execution.pk)
    recorder = _Recorder(execution_id)
    with metrics.running(execution.deployment.name):
        try:
            outcome = _interpret(execution, recorder)
        except Exception as error:
            logger.exception("execution %s crashed", execution_id)
            outcome = Outcome(
                ExecutionStatus.FAILED,
                None,
                f"internal error ({type(error).__name__}); see the worker log",
            )
        execution_finish(
            execution_id=execution_id,
            status=outcome.status,
            exit_code=outcome.exit_code,
            explanation=outcome.explanation,
            **recorder.progress(),
        )
    return outcome
