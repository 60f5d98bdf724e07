"""Routes of /api/v1/configs, with and without the trailing slash."""

from __future__ import annotations

from codeai.kernel.api.routers import OptionalSlashRouter
from configs.views import ConfigViewSet

router = OptionalSlashRouter()
router.register("configs", ConfigViewSet, basename="config")

urlpatterns = router.urls
