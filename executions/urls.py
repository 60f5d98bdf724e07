"""Routes of /api/v1/executions, with and without the trailing slash."""

from __future__ import annotations

from codeai.api.routers import OptionalSlashRouter
from executions.views import ExecutionViewSet

router = OptionalSlashRouter()
router.register("executions", ExecutionViewSet, basename="execution")

urlpatterns = router.urls
