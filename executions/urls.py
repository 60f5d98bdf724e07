"""Routes of /api/v1/executions, with and without the trailing slash."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from executions.views import ExecutionViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("executions", ExecutionViewSet, basename="execution")

urlpatterns = router.urls
