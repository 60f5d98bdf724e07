"""Deployment shapes of the API."""

from __future__ import annotations

from codeai.kernel.api.fields import StrictCharField, UUIDRelatedField
from codeai.kernel.api.serializers import ResourceSerializer
from configs.models import Config
from deployments.models import Deployment


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

    class Meta:
        model = Deployment
        fields = ["id", "name", "config_id", "status", "created_at", "updated_at"]
        read_only_fields = ["id", "status", "created_at", "updated_at"]
        read_only_reasons = {"status": "status follows executions"}
