"""Reads of executions shared by the admin dashboard, the admin output panel and the API."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import orjson
from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DateTimeField,
    Expression,
    Func,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
)
from django.db.models.functions import Coalesce, JSONArray, Substr
from django.utils import timezone

from codeai.kernel.compiled import CompiledQuery
from codeai.kernel.loading import loaded_instance
from configs import selectors as config_selectors
from deployments import selectors as deployment_selectors
from deployments.models import Deployment, DeploymentStatus
from executions.models import Execution, ExecutionStatus

FAILED_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)
MAX_OUTPUT_OFFSET = 2**31 - 2


def _counts(queryset: QuerySet, choices: type) -> dict[str, int]:
    """Rows per status, every status present (0 when none), in the choices' order."""
    # COUNT(*) lets the database answer from the status index alone.
    found = dict(queryset.values_list("status").annotate(n=Count("*")).order_by())
    return {status: found.get(status, 0) for status in choices.values}


def execution_counts_by_status() -> dict[str, int]:
    return _counts(Execution.objects.all(), ExecutionStatus)


def deployment_counts_by_status() -> dict[str, int]:
    return _counts(Deployment.objects.all(), DeploymentStatus)


def executions_active(*, limit: int = 10) -> list[Execution]:
    """Queued and running executions, longest-waiting first."""
    return list(
        Execution.objects.filter(status__in=ExecutionStatus.active())
        .select_related("deployment")
        .only(
            "id",
            "status",
            "created_at",
            "started_at",
            "triggered_by_name",
            "deployment__id",
            "deployment__name",
        )
        # By when each started (or was queued): an expression, so the database finds the
        # few active rows through the status index instead of walking the created_at index
        # of the whole history looking for them.
        .order_by(Coalesce("started_at", "created_at"))[:limit]
    )


def executions_last_failures(*, limit: int = 5) -> list[Execution]:
    """The newest failed or timed-out executions, with their explanation."""
    return list(
        Execution.objects.filter(status__in=FAILED_STATUSES)
        .select_related("deployment")
        .only(
            "id",
            "status",
            "created_at",
            "completed_at",
            "exit_code",
            "explanation",
            "deployment__id",
            "deployment__name",
        )
        .order_by("-created_at")[:limit]
    )


def executions_per_hour(*, hours: int = 24, now: datetime | None = None) -> list[dict[str, Any]]:
    """Executions created in each of the last ``hours`` whole hours, oldest first, with
    how many of them failed; hours without executions are there with zeros.

    One query of plain range comparisons (no per-row date function, which SQLite would
    run in Python), over the rows of the period only (the created_at index)."""
    now = now or timezone.now()
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    starts = [first_hour + timedelta(hours=index) for index in range(hours)]
    counts: dict[str, Count] = {}
    for index, start in enumerate(starts):
        in_hour = Q(created_at__gte=start, created_at__lt=start + timedelta(hours=1))
        counts[f"total_{index}"] = Count("pk", filter=in_hour)
        counts[f"failed_{index}"] = Count("pk", filter=in_hour & Q(status__in=FAILED_STATUSES))
    totals = Execution.objects.filter(created_at__gte=first_hour).aggregate(**counts)
    return [
        {"hour": start, "total": totals[f"total_{index}"], "failed": totals[f"failed_{index}"]}
        for index, start in enumerate(starts)
    ]


def output_offset(text: str | None) -> int:
    """``?offset=`` of the output routes (API and admin): malformed reads from the start;
    ``execution_output_since`` bounds the number."""
    try:
        return int(text or 0)
    except ValueError:
        return 0


def execution_output_since(*, execution_id: Any, offset: int = 0) -> dict[str, Any] | None:
    """The output written after ``offset`` characters, read in the database so that tailing
    a long output moves only the new part: ``{output, offset, next_offset, complete,
    status}``; None when the execution does not exist."""
    # Kept within the database's integer range: outputs are far shorter anyway.
    offset = min(max(0, offset), MAX_OUTPUT_OFFSET)
    row = (
        Execution.objects.filter(pk=execution_id)
        .annotate(tail=Substr("output", offset + 1))
        .values("tail", "status")
        .first()
    )
    if row is None:
        return None
    tail = row["tail"] or ""
    return {
        "output": tail,
        "offset": offset,
        "next_offset": offset + len(tail),
        "complete": row["status"] in ExecutionStatus.terminal(),
        "status": row["status"],
    }


def execution_list() -> QuerySet[Execution]:
    """Executions for the API, newest first; the config text each ran stays in the database."""
    return Execution.objects.defer("config_snapshot").order_by("-created_at")


def execution_summaries() -> QuerySet[Execution]:
    """Executions for a list page: the heavy columns (each can be megabytes) stay in the
    database."""
    return Execution.objects.defer(*Execution.HEAVY_FIELDS).order_by("-created_at")


# The summary columns in a deployment's last-execution row: its deployment is the outer one.
ROW_FIELDS = tuple(name for name in Execution.SUMMARY_FIELDS if name != "deployment_id")


def _last_execution_row() -> Subquery:
    """The newest execution of the outer deployment as one JSON array of its summary columns
    (``ROW_FIELDS``, in that order; the heavy ones can be megabytes): a correlated subquery
    reading the first entry of the (deployment, created_at, id) index, so a page and its last
    executions are one query."""
    newest_of_same_deployment = (
        Execution.objects.filter(deployment=OuterRef("pk"))
        .order_by("-created_at", "-pk")
        .values(row=_JSONArrayText(*ROW_FIELDS))
    )
    return Subquery(newest_of_same_deployment[:1], output_field=_RowField())


class _RowField(JSONField):
    """The row's JSON text parsed by orjson: json.loads took three times as long, and a page
    reads fifty rows."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else orjson.loads(value)


class _JSONArrayText(JSONArray):
    """``JSONArray`` built as PostgreSQL's ``json`` and read as its text, not as ``jsonb``: a
    value read once needs no binary form built and printed back (a third of the list's query
    time). An array, not an object: building the keys into every row took half of the
    query's time, and parsing them a third of reading it. SQLite's is ``JSON_ARRAY``."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = Func.as_sql(self, compiler, connection, function="JSON_BUILD_ARRAY", **extra)
        return f"{sql}::text", params


class LastExecutionRow(Expression):
    """``_last_execution_row()`` with its SQL built once per database: resolving and compiling
    that subquery (a JSON array of a dozen columns) cost more CPU than the rest of the page's
    query. The SQL depends only on the database and the alias of the outer deployments table,
    which is the table's name in a query of deployments; where it is another (the query nested
    in another one), the ordinary subquery is resolved and compiled instead."""

    _sql: ClassVar[dict[tuple[str, str], tuple[str, tuple[Any, ...]]]] = {}

    def __init__(self) -> None:
        super().__init__(output_field=_RowField())

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        if compiler.query.get_initial_alias() != Deployment._meta.db_table:
            subquery = _last_execution_row().resolve_expression(compiler.query)
            sql, params = subquery.as_sql(compiler, connection)
            return sql, tuple(params)
        key = (connection.alias, connection.vendor)
        if key not in self._sql:
            query = Deployment.objects.annotate(row=_last_execution_row()).query
            sql, params = query.get_compiler(connection=connection).compile(
                query.annotations["row"]
            )
            self._sql[key] = (sql, tuple(params))
        return self._sql[key]


def parse_row_moment(text: str) -> datetime:
    """A date time of a last-execution row (JSON text) as the ORM reads it: PostgreSQL
    writes the session's zone (UTC), SQLite stores naive UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Columns whose JSON value is already what the ORM reads (a string, an integer).
_JSON_NATIVE = frozenset(
    {
        "CharField",
        "TextField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
    }
)


@functools.cache
def _row_parsers() -> list[tuple[str, Any]]:
    """The summary columns whose JSON value is not what the ORM would have read (UUIDs and
    date times are strings in JSON), each with what turns it into that."""
    by_column = {field.attname: field for field in Execution._meta.concrete_fields}
    parsers = []
    for name in ROW_FIELDS:
        field = by_column[name]
        stored = field.target_field if field.is_relation else field
        if isinstance(field, DateTimeField):
            parsers.append((name, parse_row_moment))
        elif isinstance(stored, UUIDField):
            # What UUIDField.to_python does with a string, without its checks (a quarter of
            # the cost): both spellings, hyphenated (PostgreSQL) and hex (SQLite).
            parsers.append((name, uuid.UUID))
        elif stored.get_internal_type() not in _JSON_NATIVE:
            parsers.append((name, field.to_python))
    return parsers


def execution_from_row(row: list[Any], deployment: Deployment) -> Execution:
    """An execution of ``deployment`` as the ORM would have loaded it with only the summary
    columns (the others load on access, as deferred columns do), without running
    ``__init__`` field by field."""
    values = dict(zip(ROW_FIELDS, row, strict=True))
    for name, parse in _row_parsers():
        if (value := values[name]) is not None:
            values[name] = parse(value)
    values["deployment_id"] = deployment.pk
    return loaded_instance(Execution, "default", values.items())


def deployment_list_with_last_execution() -> QuerySet[Deployment]:
    """Deployments newest first, each with its newest execution in the same query (read it
    with ``deployment_last_execution``)."""
    return _deployment_list_with_last_execution().all()  # a copy: the kept one is never read


@functools.cache
def _deployment_list_with_last_execution() -> QuerySet[Deployment]:
    # Resolving the annotation was a twentieth of a list request's CPU: done once.
    return deployment_selectors.deployment_list().annotate(last_execution_row=LastExecutionRow())


def _deployments_to_execute(deployment_id: Any) -> QuerySet[Deployment]:
    current = config_selectors.config_current_revision(config="config")
    return (
        Deployment.objects.select_related("config")
        .annotate(config_current_revision=current)
        .filter(pk=deployment_id)
    )


# Resolving and compiling the query (its subquery of revisions) was a fifth of an execute
# request: done once per process.
_TO_EXECUTE = CompiledQuery(_deployments_to_execute, Deployment._meta.pk)


def deployment_to_execute(deployment_id: Any) -> Deployment | None:
    """The deployment with its config and the number of its config's current revision
    (``config_current_revision``), in one query: what an execution of it reads. None when
    the id is malformed or no deployment has it."""
    try:
        pk = Deployment._meta.pk.to_python(deployment_id)
    except ValidationError:
        return None
    found = _TO_EXECUTE.rows(pk)
    return found[0] if found else None


def deployment_last_execution_row(deployment: Deployment) -> tuple[bool, list[Any] | None]:
    """``(True, row)`` for a deployment of ``deployment_list_with_last_execution``: its newest
    execution's summary columns (``ROW_FIELDS``, as JSON values) or None without any;
    ``(False, None)`` for a deployment read otherwise."""
    if hasattr(deployment, "last_execution_row"):
        return True, deployment.last_execution_row
    return False, None


def deployment_last_execution(deployment: Deployment) -> Execution | None:
    """The deployment's newest execution, without the heavy columns: from the row of
    ``deployment_list_with_last_execution`` when it came from there, else one query."""
    read, row = deployment_last_execution_row(deployment)
    if read:
        return None if row is None else execution_from_row(row, deployment)
    return (
        deployment.executions.defer(*Execution.HEAVY_FIELDS).order_by("-created_at", "-pk").first()
    )
