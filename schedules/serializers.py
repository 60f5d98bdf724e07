"""Schedule shapes of the API."""

from __future__ import annotations

from rest_framework import serializers

from codeai.kernel.api.fields import StrictBooleanField, StrictCharField
from codeai.kernel.api.serializers import ResourceSerializer
from schedules.models import Schedule


class ScheduleSerializer(ResourceSerializer):
    """A schedule; ``cron_spec``, ``timezone`` and ``variables`` are checked by
    schedules.services (a 400 that says why)."""

    deployment_id = serializers.UUIDField(read_only=True)
    cron_spec = StrictCharField(
        max_length=255,
        help_text="5-field cron: minute hour day-of-month month day-of-week (`0 2 * * *`).",
    )
    timezone = StrictCharField(
        max_length=64,
        required=False,
        default="UTC",
        help_text="IANA time zone of the cron's wall clock; default UTC.",
    )
    variables = serializers.DictField(
        required=False,
        default=dict,
        help_text="Variables of each run, as the execute body's.",
    )
    enabled = StrictBooleanField(required=False, default=True)
    last_execution_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Schedule
        fields = [
            "id",
            "deployment_id",
            "cron_spec",
            "timezone",
            "variables",
            "enabled",
            "next_run_at",
            "last_run_at",
            "last_execution_id",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "next_run_at",
            "last_run_at",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_reasons = {
            "deployment_id": "the deployment is the path's",
            "next_run_at": "follows the cron_spec",
            "last_run_at": "set when it fires",
            "last_execution_id": "set when it fires",
            "last_error": "set when it fires",
        }
