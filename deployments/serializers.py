"""Deployment shapes of the API."""

from __future__ import annotations

from rest_framework import serializers

from codeai.kernel.api.fields import StrictCharField, StrictIntegerField, UUIDRelatedField
from codeai.kernel.api.serializers import ResourceSerializer
from configs.models import Config
from configs.selectors import MAX_REVISION_NUMBER
from deployments.models import Concurrency, Deployment


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
    config_revision = StrictIntegerField(
        min_value=1,
        max_value=MAX_REVISION_NUMBER,
        required=False,
        allow_null=True,
        help_text="The revision of the config it runs: null follows the latest, a number "
        "pins that one (promote, roll back). A number the config lacks is a 400.",
    )
    concurrency = serializers.ChoiceField(
        choices=Concurrency.choices,
        required=False,
        help_text="While an execution is queued or running: `parallel` runs another alongside "
        "(default), `queue` makes it wait its turn (in order), `refuse` answers 409.",
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "config_id",
            "config_revision",
            "concurrency",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "created_at", "updated_at"]
        read_only_reasons = {"status": "status follows executions"}
