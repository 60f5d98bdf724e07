"""Routes of /api/v1/executions and /api/v1/deployments (the deployment viewset extended with
its executions), with and without the trailing slash."""

from __future__ import annotations

from codeai.kernel.api.routers import OptionalSlashRouter
from executions.views import DeploymentViewSet, ExecutionViewSet

router = OptionalSlashRouter()
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("executions", ExecutionViewSet, basename="execution")

urlpatterns = router.urls
