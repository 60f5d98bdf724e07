"""Routes of /api/v1/deployments, with and without the trailing slash."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from deployments.views import DeploymentViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("deployments", DeploymentViewSet, basename="deployment")

urlpatterns = router.urls
