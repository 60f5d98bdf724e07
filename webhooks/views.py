"""Webhook endpoints (admins only): thin callers of webhooks.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from codeai.kernel.api.permissions import IsAdmin
from codeai.kernel.api.schema import error_responses, list_responses, resource_schema
from codeai.kernel.api.viewsets import ModelResourceViewSet, ResourceViewSet
from webhooks import selectors, services
from webhooks.filters import DeliveryFilter, WebhookFilter
from webhooks.models import Webhook, WebhookDelivery
from webhooks.serializers import WebhookDeliverySerializer, WebhookSerializer


class AdminOnly:
    """Every action of the viewset needs an admin."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsAdmin()]


@resource_schema(
    WebhookSerializer,
    summaries={
        "list": "List webhooks, newest first (admin)",
        "create": "Create a webhook (admin)",
        "retrieve": "A webhook (admin)",
        "update": "Replace a webhook (admin)",
        "partial_update": "Change some fields of a webhook (admin)",
        "destroy": "Delete a webhook and its deliveries (admin)",
    },
)
class WebhookViewSet(AdminOnly, ModelResourceViewSet):
    """Where execution events are POSTed. The secret is write-only."""

    thing = "webhook"
    serializer_class = WebhookSerializer
    filterset_class = WebhookFilter
    search_fields = ["url"]
    ordering_fields = ["created_at", "updated_at", "url"]
    ordering = ["-created_at"]
    compiled_plain_list = True

    def get_queryset(self) -> Any:
        if self.action == "deliveries":
            return selectors.delivery_list()
        return selectors.webhook_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.webhook_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        # A PATCH's validated data holds only what was sent (DRF skips defaults then).
        serializer.instance = services.webhook_update(
            webhook=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Webhook) -> None:
        services.webhook_delete(webhook=instance)

    @extend_schema(
        summary="The webhook's deliveries, newest first (admin)",
        responses=list_responses(WebhookDeliverySerializer, 404),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=WebhookDeliverySerializer,
        filterset_class=DeliveryFilter,
        search_fields=[],
        ordering_fields=["created_at", "completed_at"],
    )
    def deliveries(self, request: Request, id: str) -> Response:
        webhook = self.get_object(queryset=Webhook.objects.only("pk"))
        queryset = self.filter_queryset(self.get_queryset().filter(webhook=webhook))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Send a webhook.test delivery to the webhook (admin)",
        description="Answers 202 with the delivery; a worker sends it. Follow it in "
        "`/api/v1/webhooks/{id}/deliveries/`.",
        request=None,
        responses={202: WebhookDeliverySerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def test(self, request: Request, id: str) -> Response:
        delivery = services.webhook_test(webhook=self.get_object())
        data = WebhookDeliverySerializer(delivery).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(AdminOnly, ResourceViewSet):
    thing = "delivery"
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> Any:
        return selectors.delivery_list().select_related("webhook")

    @extend_schema(
        summary="Send a finished delivery again, as a new delivery (admin)",
        request=None,
        responses={
            202: WebhookDeliverySerializer,
            **error_responses(404, 409, e409="The delivery is still being sent."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def retry(self, request: Request, id: str) -> Response:
        delivery: WebhookDelivery = self.get_object()
        again = services.delivery_retry(delivery=delivery)
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
