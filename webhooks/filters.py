"""Filters of the webhook and delivery lists."""

from __future__ import annotations

import django_filters

from webhooks.models import Webhook, WebhookDelivery, WebhookEvent


class WebhookFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter(help_text="true: active webhooks only.")
    deployment = django_filters.UUIDFilter(field_name="deployment_id", help_text="Deployment id.")

    class Meta:
        model = Webhook
        fields = ["active", "deployment"]


class DeliveryFilter(django_filters.FilterSet):
    success = django_filters.BooleanFilter(help_text="true: delivered (a 2xx answer).")
    event = django_filters.ChoiceFilter(choices=WebhookEvent.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["success", "event"]
