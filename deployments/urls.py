"""Routes of /api/v1/deployments, with and without the trailing slash."""

from __future__ import annotations

from codeai.api.routers import OptionalSlashRouter
from deployments.views import DeploymentViewSet

router = OptionalSlashRouter()
router.register("deployments", DeploymentViewSet, basename="deployment")

urlpatterns = router.urls
