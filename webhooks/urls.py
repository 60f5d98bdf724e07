"""Routes of /api/v1/webhooks, with and without the trailing slash."""

from __future__ import annotations

from codeai.kernel.api.routers import OptionalSlashRouter
from webhooks.views import WebhookDeliveryViewSet, WebhookViewSet

router = OptionalSlashRouter()
# First: /webhooks/deliveries/{id}/retry/ is not a webhook's route.
router.register("webhooks/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
