"""State changes of deployments, shared by the API, the admin and commands."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, IntegrityError, transaction

from codeai.kernel.exceptions import Conflict, NotFound
from configs.models import Config
from deployments.models import Deployment

UPDATABLE_FIELDS = frozenset({"name", "config", "timeout_seconds"})


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a deployment named {name!r} already exists")


def _save(deployment: Deployment, fields: frozenset[str] | None = None) -> Deployment:
    """Insert, or (``fields`` given) write only those fields and ``updated_at``: the status
    belongs to the executions, and saving every column would write back a stale one."""
    if Deployment.objects.filter(name=deployment.name).exclude(pk=deployment.pk).exists():
        raise _name_taken(deployment.name)
    deployment.full_clean(validate_unique=False)
    update_fields = None if fields is None else [*sorted(fields), "updated_at"]
    try:
        # A savepoint, so that losing a race on the unique name leaves the caller's
        # transaction usable.
        with transaction.atomic():
            deployment.save(update_fields=update_fields)
    except IntegrityError:
        raise _name_taken(deployment.name) from None
    except DatabaseError:
        if update_fields is None or Deployment.objects.filter(pk=deployment.pk).exists():
            raise
        raise NotFound("deployment not found") from None  # deleted meanwhile
    if fields is not None:
        deployment.refresh_from_db(fields=["status"])
    return deployment


def deployment_create(*, name: str, config: Config | None = None) -> Deployment:
    """A new deployment in status ``pending``; a duplicate name is a Conflict."""
    return _save(Deployment(name=name, config=config))


def deployment_update(*, deployment: Deployment, **fields: Any) -> Deployment:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"deployment_update() got unknown fields: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(deployment, field, value)
    return _save(deployment, frozenset(fields))


def deployment_delete(*, deployment: Deployment) -> None:
    """Delete a deployment and what depends on it; ``pre_delete`` receivers may refuse
    (executions refuses while a run is queued or running) with a Conflict."""
    with transaction.atomic():
        deployment.delete()
