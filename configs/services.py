"""State changes of configs, shared by the API, the admin and commands.

Every save parses and validates the DSL text: an invalid config is still stored, with its
problems in ``validation_errors`` (operators save drafts and fix them later).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from codeai import dsl
from codeai.kernel.exceptions import Conflict, TooLarge
from configs.models import Config

UPDATABLE_FIELDS = frozenset({"name", "content"})


# A megabyte of text can hold a hundred thousand problems (10 MB of them); the first ones
# are what someone fixing the text needs.
MAX_REPORTED_PROBLEMS = 100


def config_size_problem(content: str) -> str | None:
    """Why ``content`` is too large to check or store (over CODEAI_MAX_CONFIG_BYTES), or None."""
    limit = settings.MAX_CONFIG_BYTES
    # A character takes one to four bytes in UTF-8: most texts are decided without encoding.
    if len(content) * 4 <= limit:
        return None
    size = len(content.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return None
    return f"config content is too large ({size} bytes; the limit is {limit} bytes)"


def _require_size(content: str) -> None:
    problem = config_size_problem(content)
    if problem:
        raise TooLarge(problem)


def config_check(*, content: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Parse and validate DSL text: (syntax tree as JSON or None, the first problems).

    Raises ``TooLarge`` for text over CODEAI_MAX_CONFIG_BYTES."""
    _require_size(content)
    result = dsl.check(content)
    tree = dsl.to_json(result.program) if result.program is not None else None
    problems = result.diagnostics[:MAX_REPORTED_PROBLEMS]
    return tree, [diagnostic.to_dict() for diagnostic in problems]


def _apply_check(config: Config) -> None:
    config.ast, config.validation_errors = config_check(content=config.content)


def config_create(*, name: str, content: str) -> Config:
    config = Config(name=name, content=content)
    _apply_check(config)
    config.full_clean()
    config.save()
    return config


def config_update(*, config: Config, **fields: Any) -> Config:
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
