"""Webhook shapes of the API: the secret is write-only (``has_secret`` says whether one is
set) and header values are shown as ``****``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from codeai.kernel.api.fields import StrictCharField, UUIDRelatedField
from codeai.kernel.api.serializers import ResourceSerializer
from deployments.models import Deployment
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from webhooks.services import MASKED


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"not_a_boolean": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data


def _flat(detail: Any) -> list[str]:
    """A child field's errors (``{"0": [...]}``, ``{"X-A": [...]}``) as one list of messages,
    the shape every field's errors have in the error envelope."""
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flat(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _flat(item)]
    return [str(detail)]


class FlatErrorsMixin:
    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as error:
            raise serializers.ValidationError(_flat(error.detail)) from None


class EventsField(FlatErrorsMixin, serializers.ListField):
    pass


class MaskedHeadersField(FlatErrorsMixin, serializers.DictField):
    """Header name → value; values are write-only: read back as ``****``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=StrictCharField(allow_blank=True, trim_whitespace=False), **kwargs)

    def to_representation(self, value: Any) -> dict[str, str]:
        return {name: MASKED for name in value}


class WebhookSerializer(ResourceSerializer):
    url = StrictCharField(max_length=2048, help_text="http:// or https:// URL the events go to.")
    events = EventsField(
        child=serializers.ChoiceField(choices=WebhookEvent.subscribable()),
        required=False,
        default=list,
        help_text="Events delivered: " + ", ".join(WebhookEvent.subscribable()) + ".",
    )
    secret = StrictCharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=255,
        trim_whitespace=False,
        help_text="Signs each body (X-Webhook-Signature, hex HMAC-SHA256); never shown again.",
    )
    has_secret = serializers.SerializerMethodField()
    headers = MaskedHeadersField(
        required=False,
        default=dict,
        help_text="Extra request headers; values are shown as ****, and a value sent as **** "
        "keeps the stored one.",
    )
    deployment_id = UUIDRelatedField(
        thing="deployment",
        source="deployment",
        queryset=Deployment.objects.all(),
        required=False,
        allow_null=True,
        help_text="Only this deployment's executions; null: every deployment's.",
    )
    active = StrictBooleanField(required=False, default=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "secret",
            "has_secret",
            "headers",
            "deployment_id",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        read_only_reasons = {"has_secret": "set a secret with the secret field"}

    def get_has_secret(self, webhook: Webhook) -> bool:
        return bool(webhook.secret)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(read_only=True)
    retry_of_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The delivery this one sent again."
    )
    payload = serializers.DictField(read_only=True, help_text="The body's data.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event",
            "execution_id",
            "payload",
            "success",
            "status_code",
            "attempts",
            "duration_ms",
            "last_error",
            "response_excerpt",
            "retry_of_id",
            "created_at",
            "started_at",
            "completed_at",
        ]
        read_only_fields = fields
