"""Execution shapes of the API: the full execution, its summary, output chunks, execute body."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from codeai.kernel.api.serializers import LeanRepresentation
from deployments import serializers as deployment_serializers
from deployments.models import Deployment
from executions.models import Execution
from executions.selectors import deployment_last_execution


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


class ExecuteRequestSerializer(serializers.Serializer):
    variables = serializers.DictField(
        required=False,
        default=dict,
        help_text="Predefined variables of the DSL program: name → string, number, "
        "boolean or list of those (checked by executions.services).",
    )


class RelaunchRequestSerializer(serializers.Serializer):
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
        execution = deployment_last_execution(deployment)
        if execution is None:
            return None
        # One summary serializer for every row of a list: building its fields is most of
        # the cost of a row (a new serializer per row made a 50-row page 3x slower).
        if not hasattr(self, "_summary"):
            self._summary = ExecutionSummarySerializer(context=self.context)
        return self._summary.to_representation(execution)
