"""Reads of configs and their revisions."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)

from configs.models import Config, ConfigRevision

MAX_REVISION_NUMBER = 2**31 - 1  # the column's range: a larger number names no revision
DIFF_CONTEXT_LINES = 3


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


def config_current_revision(*, config: str = "") -> Subquery:
    """For annotating a query of configs (``config`` "") or of rows that have one (``config``
    the relation's name): the number of the config's newest revision when that revision
    holds the config's text, else NULL (no revision, or the text changed since)."""
    prefix = f"{config}__" if config else ""
    newest = ConfigRevision.objects.filter(config_id=OuterRef(f"{prefix}pk")).order_by("-number")
    same_text = Case(When(content=OuterRef(f"{prefix}content"), then=F("number")))
    return Subquery(newest.annotate(current=same_text).values("current")[:1])


def config_text_and_current_revision(*, config_id: object) -> tuple[str, int | None] | None:
    """A config's text and the number of its current revision (``config_current_revision``)
    in one query, or None when the config is gone."""
    current = config_current_revision()
    row = Config.objects.filter(pk=config_id).annotate(current=current)
    return row.values_list("content", "current").first()


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


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff: ``kind`` is equal, replace, delete, insert or gap (the
    unchanged lines left out between two changes); a side without a line has None."""

    kind: str
    old_number: int | None = None
    old_line: str | None = None
    new_number: int | None = None
    new_line: str | None = None


def revision_side_by_side_diff(
    old: ConfigRevision, new: ConfigRevision, *, context: int = DIFF_CONTEXT_LINES
) -> list[DiffRow]:
    """The changed lines of two revisions side by side, with ``context`` unchanged lines
    around each change. Line by line (difflib.SequenceMatcher, as the unified diff): its
    HtmlDiff compares the characters of every pair of changed lines, which takes minutes
    for a few thousand of them."""
    old_lines, new_lines = old.content.splitlines(), new.content.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines)
    rows: list[DiffRow] = []
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index or (group and (group[0][1] or group[0][3])):
            rows.append(DiffRow("gap"))
        for tag, old_start, old_end, new_start, new_end in group:
            for offset in range(max(old_end - old_start, new_end - new_start)):
                at_old, at_new = old_start + offset, new_start + offset
                has_old, has_new = at_old < old_end, at_new < new_end
                rows.append(
                    DiffRow(
                        tag if has_old and has_new else ("delete" if has_old else "insert"),
                        at_old + 1 if has_old else None,
                        old_lines[at_old] if has_old else None,
                        at_new + 1 if has_new else None,
                        new_lines[at_new] if has_new else None,
                    )
                )
    return rows
