"""State changes of deployments, shared by the API, the admin and commands."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction

from codeai.kernel.exceptions import Conflict, NotFound
from configs.models import Config, ConfigRevision
from deployments.models import Concurrency, Deployment

UPDATABLE_FIELDS = frozenset(
    {"name", "config", "config_revision", "concurrency", "timeout_seconds"}
)


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


def revision_problem(*, config: Config | None, number: int | None) -> str | None:
    """Why a deployment of ``config`` cannot pin revision ``number``, or None."""
    if number is None:
        return None
    if config is None:
        return "a deployment without a config pins nothing"
    if not ConfigRevision.objects.filter(config_id=config.pk, number=number).exists():
        return f"config {config.name!r} has no revision {number}"
    return None


def _check_revision(deployment: Deployment) -> None:
    """A pinned revision must be one of the deployment's config's (a ValidationError, 400)."""
    problem = revision_problem(config=deployment.config, number=deployment.config_revision)
    if problem:
        raise ValidationError({"config_revision": [problem]})


def deployment_create(
    *,
    name: str,
    config: Config | None = None,
    config_revision: int | None = None,
    concurrency: str = Concurrency.PARALLEL,
) -> Deployment:
    """A new deployment in status ``pending``; a duplicate name is a Conflict, a revision its
    config lacks a ValidationError."""
    deployment = Deployment(
        name=name, config=config, config_revision=config_revision, concurrency=concurrency
    )
    _check_revision(deployment)
    return _save(deployment)


def deployment_update(*, deployment: Deployment, **fields: Any) -> Deployment:
    """Write the fields given. Another config without a revision given follows its latest
    revision (a pinned number names a revision of one config only)."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"deployment_update() got unknown fields: {', '.join(sorted(unknown))}")
    config_changes = "config" in fields and getattr(fields["config"], "pk", None) != (
        deployment.config_id
    )
    if config_changes and "config_revision" not in fields and deployment.config_revision:
        fields["config_revision"] = None
    for field, value in fields.items():
        setattr(deployment, field, value)
    _check_revision(deployment)
    return _save(deployment, frozenset(fields))


def deployment_pin(*, deployment: Deployment, number: int | None) -> Deployment:
    """Pin the deployment to revision ``number`` of its config (promote, roll back), or
    follow the latest revision (None)."""
    return deployment_update(deployment=deployment, config_revision=number)


def deployment_delete(*, deployment: Deployment) -> None:
    """Delete a deployment and what depends on it; ``pre_delete`` receivers may refuse
    (executions refuses while a run is queued or running) with a Conflict."""
    with transaction.atomic():
        deployment.delete()
