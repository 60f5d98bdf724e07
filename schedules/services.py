"""State changes of schedules: create, update, delete, and firing the due ones.

Firing is a periodic duty (``schedules.tasks``): one worker per interval runs
``schedules_fire_due``, and each due schedule moves on with a conditional update of its
``next_run_at`` (``filter(pk=..., next_run_at=<the due time>).update(...)``) in the
transaction that creates its execution, so a due time starts one execution however many
workers, duty runs or retries look at it. The next time is the first slot after now, so a
schedule that missed slots (every worker down) fires once when they are back, not once per
missed slot.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone as clock

from codeai.kernel.exceptions import CodeAIError, NotFound
from deployments.models import Deployment
from executions import services as executions
from executions.models import Execution, ExecutionTrigger
from schedules import cron
from schedules.models import Schedule

logger = logging.getLogger(__name__)

UPDATABLE_FIELDS = frozenset({"cron_spec", "timezone", "variables", "enabled"})
# Due schedules fired per duty run; more wait for the next run (seconds later).
FIRE_BATCH = 100


def schedule_check(*, cron_spec: str, timezone: str, variables: dict[str, Any]) -> None:
    """``ValidationError`` naming each field that is wrong, and why."""
    errors: dict[str, list[str]] = {}
    cron_problem = cron.cron_problem(cron_spec)
    if cron_problem:
        errors["cron_spec"] = [cron_problem]
    timezone_problem = cron.timezone_problem(timezone)
    if timezone_problem:
        errors["timezone"] = [timezone_problem]
    if not isinstance(variables, dict):
        errors["variables"] = ["must be an object of name: value"]
    else:
        try:
            executions.variables_check(variables=variables)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)


def _next_run_at(schedule: Schedule, now: datetime) -> datetime | None:
    if not schedule.enabled:
        return None
    return cron.next_run(schedule.cron_spec, schedule.timezone, after=now)


def schedule_create(
    *,
    deployment: Deployment,
    cron_spec: str,
    timezone: str = "UTC",
    variables: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Schedule:
    """A schedule of ``deployment``, due at the first slot after now (none while disabled)."""
    variables = dict(variables or {})
    schedule_check(cron_spec=cron_spec, timezone=timezone, variables=variables)
    schedule = Schedule(
        deployment=deployment,
        cron_spec=cron_spec,
        timezone=timezone,
        variables=variables,
        enabled=enabled,
    )
    schedule.next_run_at = _next_run_at(schedule, clock.now())
    schedule.save()
    return schedule


def schedule_update(*, schedule: Schedule, **fields: Any) -> Schedule:
    """Change some of ``cron_spec``, ``timezone``, ``variables``, ``enabled``; the next run is
    worked out again from now (re-enabling does not catch up on slots missed meanwhile)."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"schedule_update() got unknown fields: {', '.join(sorted(unknown))}")
    if not fields:
        return schedule  # nothing changes, not even a next run that is due
    for name, value in fields.items():
        setattr(schedule, name, value)
    schedule_check(
        cron_spec=schedule.cron_spec, timezone=schedule.timezone, variables=schedule.variables
    )
    schedule.next_run_at = _next_run_at(schedule, clock.now())
    with transaction.atomic():
        written = Schedule.objects.filter(pk=schedule.pk).update(
            **fields, next_run_at=schedule.next_run_at, updated_at=clock.now()
        )
    if not written:
        raise NotFound("schedule not found")
    schedule.refresh_from_db()
    return schedule


def schedule_delete(*, schedule: Schedule) -> None:
    with transaction.atomic():
        schedule.delete()


def schedule_fire(*, schedule_id: Any, due_at: datetime, now: datetime) -> bool:
    """Fire one due schedule: True for the one caller that moved it past ``due_at``.

    The winner creates the execution in the same transaction, through the execute service
    (so the deployment's rules apply: a valid config, its concurrency policy); when that
    refuses, the due time is spent all the same and the reason kept in ``last_error``.
    """
    schedule = Schedule.objects.select_related("deployment__config").filter(pk=schedule_id).first()
    if schedule is None or not schedule.enabled or schedule.next_run_at != due_at:
        return False
    following = cron.next_run(
        schedule.cron_spec, schedule.timezone, after=max(now, due_at), last_run=due_at
    )
    with transaction.atomic():
        won = Schedule.objects.filter(
            pk=schedule_id,
            enabled=True,
            next_run_at=due_at,
            cron_spec=schedule.cron_spec,
            timezone=schedule.timezone,
        ).update(next_run_at=following, last_run_at=now)
        if not won:
            return False
        outcome: dict[str, Any]
        try:
            with transaction.atomic():
                execution: Execution = executions.deployment_execute(
                    deployment=schedule.deployment,
                    user=None,
                    variables=schedule.variables,
                    trigger=ExecutionTrigger.SCHEDULE,
                )
        except (CodeAIError, ValidationError) as error:
            reason = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            outcome = {"last_error": f"skipped at {due_at.isoformat()}: {reason}"}
            logger.warning("schedule %s: no execution for its due time: %s", schedule_id, reason)
        else:
            outcome = {"last_execution": execution, "last_error": ""}
            logger.info("schedule %s started execution %s", schedule_id, execution.pk)
        Schedule.objects.filter(pk=schedule_id).update(**outcome)
    return True


def schedules_fire_due(*, now: datetime | None = None) -> int:
    """Fire every enabled schedule whose time has come; returns how many this call fired."""
    now = now or clock.now()
    due = (
        Schedule.objects.filter(enabled=True, next_run_at__lte=now)
        .order_by("next_run_at")
        .values_list("pk", "next_run_at")[:FIRE_BATCH]
    )
    fired = 0
    for schedule_id, due_at in due:
        assert due_at is not None  # filtered on it
        try:
            fired += schedule_fire(schedule_id=schedule_id, due_at=due_at, now=now)
        except (DatabaseError, ValueError) as error:  # ValueError: a spec with no next time
            logger.warning("schedule %s not fired: %s", schedule_id, error)
    return fired
