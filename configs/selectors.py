"""Reads of configs and their revisions."""

from __future__ import annotations

import difflib

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from configs.models import Config, ConfigRevision

MAX_REVISION_NUMBER = 2**31 - 1  # the column's range: a larger number names no revision


def config_list() -> QuerySet[Config]:
    return Config.objects.order_by("-created_at")


def config_summaries() -> QuerySet[Config]:
    """Configs for a list page: the text, syntax tree and problems stay in the database (each
    can be megabytes); ``listed_valid`` says whether there are problems."""
    without_errors = ExpressionWrapper(Q(validation_errors=[]), output_field=BooleanField())
    return (
        config_list()
        .defer("content", "ast", "validation_errors")
        .annotate(listed_valid=without_errors)
    )


def config_revisions(*, config_id: object) -> QuerySet[ConfigRevision]:
    """A config's revisions, newest first, without their text."""
    return ConfigRevision.objects.filter(config_id=config_id).defer("content").order_by("-number")


def config_revision(*, config_id: object, number: object) -> ConfigRevision | None:
    """Revision ``number`` of a config (with its text), or None (unknown, or not a number)."""
    try:
        wanted = int(str(number))
    except ValueError:
        return None
    if not 1 <= wanted <= MAX_REVISION_NUMBER:
        return None
    return ConfigRevision.objects.filter(config_id=config_id, number=wanted).first()


def config_latest_revision(*, config_id: object) -> ConfigRevision | None:
    """The newest revision of a config (with its text), or None when it has none."""
    return ConfigRevision.objects.filter(config_id=config_id).order_by("-number").first()


def revision_unified_diff(old: ConfigRevision, new: ConfigRevision) -> list[str]:
    """The lines of a unified diff from ``old`` to ``new`` (difflib), headers included."""
    return list(
        difflib.unified_diff(
            old.content.splitlines(),
            new.content.splitlines(),
            fromfile=f"revision {old.number}",
            tofile=f"revision {new.number}",
            lineterm="",
        )
    )


def revision_side_by_side_diff(old: ConfigRevision, new: ConfigRevision) -> str:
    """An HTML table of the two texts side by side, changes marked (difflib.HtmlDiff escapes
    the text; the classes diff_add, diff_chg and diff_sub are styled by the admin's CSS)."""
    return difflib.HtmlDiff(tabsize=4, wrapcolumn=80).make_table(
        old.content.splitlines(),
        new.content.splitlines(),
        fromdesc=f"revision {old.number}",
        todesc=f"revision {new.number}",
        context=True,
        numlines=3,
    )
