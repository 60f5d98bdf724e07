"""Deployment shapes of the API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from codeai.api.fields import StrictCharField, UUIDRelatedField
from codeai.api.serializers import ResourceSerializer
from configs.models import Config
from deployments.models import Deployment
from deployments.selectors import deployment_last_execution
from executions.serializers import ExecutionSummarySerializer


class DeploymentSerializer(ResourceSerializer):
    name = StrictCharField(min_length=1, max_length=255, help_text="Unique.")
    config_id = UUIDRelatedField(
        thing="config",
        source="config",
        queryset=Config.objects.all(),
        required=False,
        allow_null=True,
        help_text="The config this deployment runs; optional.",
    )
    last_execution = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = ["id", "name", "config_id", "status", "created_at", "updated_at", "last_execution"]
        read_only_fields = ["id", "status", "created_at", "updated_at"]
        read_only_reasons = {
            "status": "status follows executions",
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
