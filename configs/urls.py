"""Routes of /api/v1/configs, with and without the trailing slash."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from configs.views import ConfigViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("configs", ConfigViewSet, basename="config")

urlpatterns = router.urls
