"""Execution shapes of the API: the full execution, its summary, output chunks, execute body."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from codeai.kernel.api.serializers import LeanRepresentation, RequestSerializer
from deployments import serializers as deployment_serializers
from deployments.models import Deployment
from executions import selectors
from executions.models import Execution


class StepSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    command = serializers.CharField()
    exit_code = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)


class ExecutionSummarySerializer(LeanRepresentation, serializers.ModelSerializer):
    """An execution in a list, and a deployment's last execution: status and outcome, without
    ``output``, ``steps`` and ``variables`` (each can be megabytes)."""

    deployment_id = serializers.UUIDField(read_only=True)
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True)
    triggered_by = serializers.CharField(
        source="triggered_by_name", read_only=True, help_text="Username of who started it."
    )
    config_revision = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The number of the config revision it ran."
    )
    relaunch_of = serializers.UUIDField(
        source="relaunch_of_id",
        read_only=True,
        allow_null=True,
        help_text="The execution this one relaunched.",
    )

    class Meta:
        model = Execution
        fields = [
            "id",
            "deployment_id",
            "command",
            "status",
            "exit_code",
            "explanation",
            "started_at",
            "completed_at",
            "duration_ms",
            "triggered_by",
            "trigger",
            "config_revision",
            "relaunch_of",
        ]
        read_only_fields = fields

    def row_representation(self, row: list[Any], deployment: Deployment) -> dict[str, Any]:
        """``to_representation`` of the execution a deployment's last-execution row makes
        (``selectors.execution_from_row``), written from the row's JSON values without
        making it: making and writing those executions was a fifth of a 50-deployment page's
        CPU. Identifiers are already their text (PostgreSQL's; SQLite's hex is spelled out),
        a date time in UTC is written from its text, and only the two moments of
        ``duration_ms`` are parsed. Another shape of the serializer (a field added, renamed or
        of another kind), another time zone or DRF's own path (``lean`` False) takes the
        ordinary path."""
        if not (self.lean and _row_shape_matches(type(self))):
            return self.to_representation(selectors.execution_from_row(row, deployment))
        moment = self._moment_text
        (
            execution_id, command, status, exit_code, explanation, started_at, completed_at,
            triggered_by, trigger, config_revision, relaunch_of,
        ) = row  # fmt: skip  # selectors.ROW_FIELDS, checked by _row_shape_matches
        duration = None
        if started_at is not None and completed_at is not None:
            duration = Execution.duration_between(
                selectors.parse_row_moment(started_at), selectors.parse_row_moment(completed_at)
            )
        return {
            "id": _uuid_text(execution_id),
            "deployment_id": str(deployment.pk),
            "command": command,
            "status": status,
            "exit_code": exit_code,
            "explanation": explanation,
            "started_at": None if started_at is None else moment(started_at),
            "completed_at": None if completed_at is None else moment(completed_at),
            "duration_ms": duration,
            "triggered_by": triggered_by,
            "trigger": trigger,
            "config_revision": config_revision,
            "relaunch_of": None if relaunch_of is None else _uuid_text(relaunch_of),
        }

    def _moment_text(self, text: str) -> Any:
        if not hasattr(self, "_in_utc"):
            self._in_utc = timezone.get_current_timezone_name() in ("UTC", "Etc/UTC")
        if self._in_utc and (written := _utc_moment_text(text)) is not None:
            return written
        return self.fields["started_at"].to_representation(selectors.parse_row_moment(text))


# What ``row_representation`` writes: each field's name, source and class, in order, from the
# columns of selectors.ROW_FIELDS (whose JSON values are what these fields write of them:
# strings and integers as they are, choices by their value).
_ROW_SHAPE = (
    ("id", "id", "UUIDField"),
    ("deployment_id", "deployment_id", "UUIDField"),
    ("command", "command", "CharField"),
    ("status", "status", "ChoiceField"),
    ("exit_code", "exit_code", "IntegerField"),
    ("explanation", "explanation", "CharField"),
    ("started_at", "started_at", "DateTimeField"),
    ("completed_at", "completed_at", "DateTimeField"),
    ("duration_ms", "duration_ms", "IntegerField"),
    ("triggered_by", "triggered_by_name", "CharField"),
    ("trigger", "trigger", "ChoiceField"),
    ("config_revision", "config_revision", "IntegerField"),
    ("relaunch_of", "relaunch_of_id", "UUIDField"),
)
_ROW_COLUMNS = (
    "id", "command", "status", "exit_code", "explanation", "started_at", "completed_at",
    "triggered_by_name", "trigger", "config_revision", "relaunch_of_id",
)  # fmt: skip


@functools.cache
def _row_shape_matches(serializer_class: type[ExecutionSummarySerializer]) -> bool:
    serializer = serializer_class()
    shape = tuple(
        (field.field_name, field.source, type(field).__name__)
        for field in serializer._readable_fields
    )
    plain = all(
        type(field).to_representation is getattr(serializers, kind).to_representation
        and getattr(field, "uuid_format", "hex_verbose") == "hex_verbose"
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        for field, (_, _, kind) in zip(serializer._readable_fields, _ROW_SHAPE, strict=False)
    )
    return shape == _ROW_SHAPE and plain and selectors.ROW_FIELDS == _ROW_COLUMNS


def _uuid_text(text: str) -> str:
    # PostgreSQL writes the canonical text str() gives; SQLite stores the 32 hex digits.
    return text if len(text) == 36 else str(uuid.UUID(text))


def _utc_moment_text(text: str) -> str | None:
    """DRF's text of a date time in UTC from PostgreSQL's JSON text of it
    (``2026-12-04T18:00:00.12+00:00``: the fraction without its trailing zeros, none when
    zero), as ``isoformat`` writes it with the offset as Z; None for any other spelling
    (SQLite's, a year past 9999)."""
    if len(text) >= 25 and text[10] == "T" and text[19] in ".+" and text.endswith("+00:00"):
        fraction = text[20:-6]
        if not fraction:
            return f"{text[:19]}Z"
        if len(fraction) <= 6 and fraction.isdigit():
            return f"{text[:19]}.{fraction.ljust(6, '0')}Z"
    return None


class ExecutionSerializer(ExecutionSummarySerializer):
    steps = StepSerializer(many=True, read_only=True)
    variables = serializers.DictField(read_only=True)

    class Meta(ExecutionSummarySerializer.Meta):
        fields = [
            "id",
            "deployment_id",
            "command",
            "status",
            "output",
            "exit_code",
            "explanation",
            "steps",
            "variables",
            "started_at",
            "completed_at",
            "duration_ms",
            "triggered_by",
            "trigger",
            "config_revision",
            "relaunch_of",
        ]
        read_only_fields = fields


class ExecutionOutputSerializer(serializers.Serializer):
    output = serializers.CharField(help_text="Output written after `offset` characters.")
    offset = serializers.IntegerField()
    next_offset = serializers.IntegerField(help_text="Pass as `offset` to read what follows.")
    complete = serializers.BooleanField(help_text="True once the execution has finished.")


class ExecuteRequestSerializer(RequestSerializer):
    variables = serializers.DictField(
        required=False,
        default=dict,
        help_text="Predefined variables of the DSL program: name → string, number, "
        "boolean or list of those (checked by executions.services).",
    )


class RelaunchRequestSerializer(RequestSerializer):
    variables = serializers.DictField(
        required=False,
        help_text="Variables instead of the relaunched execution's (same shape as execute's).",
    )


class DeploymentSerializer(deployment_serializers.DeploymentSerializer):
    """A deployment with a summary of its newest execution (the API's deployment shape)."""

    last_execution = serializers.SerializerMethodField()

    class Meta(deployment_serializers.DeploymentSerializer.Meta):
        fields = [*deployment_serializers.DeploymentSerializer.Meta.fields, "last_execution"]
        read_only_reasons = {
            **deployment_serializers.DeploymentSerializer.Meta.read_only_reasons,
            "last_execution": "follows executions",
        }

    @extend_schema_field(ExecutionSummarySerializer(allow_null=True))
    def get_last_execution(self, deployment: Deployment) -> dict[str, Any] | None:
        # One summary serializer for every row of a list: building its fields is most of
        # the cost of a row (a new serializer per row made a 50-row page 3x slower).
        if not hasattr(self, "_summary"):
            self._summary = ExecutionSummarySerializer(context=self.context)
        read, row = selectors.deployment_last_execution_row(deployment)
        if read:
            return None if row is None else self._summary.row_representation(row, deployment)
        execution = selectors.deployment_last_execution(deployment)
        return None if execution is None else self._summary.to_representation(execution)
