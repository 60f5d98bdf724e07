"""Reads of webhooks and their deliveries for the API and the admin."""

from __future__ import annotations

from django.db.models import QuerySet

from webhooks.models import Webhook, WebhookDelivery


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.all()


def delivery_list() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.all()
