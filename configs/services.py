"""State changes of configs, shared by the API, the admin and commands.

Every save parses and validates the DSL text: an invalid config is still stored, with its
problems in ``validation_errors`` (operators save drafts and fix them later).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from codeai import dsl
from codeai.exceptions import Conflict
from configs.models import Config

UPDATABLE_FIELDS = frozenset({"name", "content"})


def config_check(*, content: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Parse and validate DSL text: (syntax tree as JSON or None, list of problems)."""
    result = dsl.check(content)
    tree = dsl.to_json(result.program) if result.program is not None else None
    return tree, [diagnostic.to_dict() for diagnostic in result.diagnostics]


def _apply_check(config: Config) -> None:
    config.ast, config.validation_errors = config_check(content=config.content)


def config_create(*, name: str, content: str, user: Any = None) -> Config:
    config = Config(name=name, content=content)
    _apply_check(config)
    config.full_clean()
    config.save()
    return config


def config_update(*, config: Config, user: Any = None, **fields: Any) -> Config:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"config_update() got unknown fields: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(config, field, value)
    # Always re-checked: the stored verdict then follows the DSL library's current rules.
    _apply_check(config)
    config.full_clean()
    # Only what this change owns: the fields given, and what the check derives from them.
    config.save(update_fields=[*sorted(fields), "ast", "validation_errors", "updated_at"])
    return config


def config_delete(*, config: Config) -> None:
    """Delete a config no deployment uses; Conflict names the deployments that do."""
    with transaction.atomic():
        users = list(config.deployments.values_list("name", flat=True)[:5])
        if users:
            raise Conflict(f"config is used by deployments: {', '.join(users)}")
        config.delete()
