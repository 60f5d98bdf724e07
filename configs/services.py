"""State changes of configs, shared by the API, the admin and commands.

Every save parses and validates the DSL text: an invalid config is still stored, with its
problems in ``validation_errors`` (operators save drafts and fix them later). Every save that
changes the text also adds an immutable revision (numbered 1, 2, 3 … per config); a rename or a
save of the same text adds none.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from codeai import dsl
from codeai.kernel.exceptions import Conflict, NotFound, TooLarge
from configs.models import Config, ConfigRevision

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


def _username(user: Any) -> str:
    return getattr(user, "username", "") or ""


def _add_revision_if_changed(config: Config, user: Any) -> ConfigRevision | None:
    """A new revision with the config's text, unless its latest revision has that text.
    Inside the caller's transaction, with the config's row locked: two saves of one config
    take turns, so their numbers never collide."""
    list(Config.objects.select_for_update().filter(pk=config.pk).values_list("pk"))
    latest = (
        ConfigRevision.objects.filter(config=config).order_by("-number").values("number", "content")
    ).first()
    if latest is not None and latest["content"] == config.content:
        return None
    return ConfigRevision.objects.create(
        config=config,
        number=(latest["number"] if latest else 0) + 1,
        content=config.content,
        validation_errors=config.validation_errors,
        created_by=_username(user),
    )


def config_create(*, name: str, content: str, user: Any = None) -> Config:
    """A new config and its revision 1."""
    config = Config(name=name, content=content)
    _apply_check(config)
    config.full_clean()
    with transaction.atomic():
        config.save()
        _add_revision_if_changed(config, user)
    return config


def config_update(*, config: Config, user: Any = None, **fields: Any) -> Config:
    """Change the name and/or the text; a changed text adds a revision (by ``user``)."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"config_update() got unknown fields: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(config, field, value)
    # Always re-checked: the stored verdict then follows the DSL library's current rules.
    _apply_check(config)
    config.full_clean()
    with transaction.atomic():
        # Only what this change owns: the fields given, and what the check derives from them.
        config.save(update_fields=[*sorted(fields), "ast", "validation_errors", "updated_at"])
        if "content" in fields:
            _add_revision_if_changed(config, user)
    return config


def config_revision_restore(*, config: Config, number: int, user: Any = None) -> Config:
    """Make an old revision's text the config's text again: a new revision with it (none when
    it is the latest text already). NotFound for an unknown number."""
    revision = ConfigRevision.objects.filter(config=config, number=number).only("content").first()
    if revision is None:
        raise NotFound("revision not found")
    return config_update(config=config, user=user, content=revision.content)


def config_delete(*, config: Config) -> None:
    """Delete a config no deployment uses; Conflict names the deployments that do."""
    with transaction.atomic():
        users = list(config.deployments.values_list("name", flat=True)[:5])
        if users:
            raise Conflict(f"config is used by deployments: {', '.join(users)}")
        config.delete()
